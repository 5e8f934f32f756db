"""ResourceQuota: refusals with the real message, and status kept current by the apiserver."""

from __future__ import annotations

NS = "/api/v1/namespaces/default"


def pod(name: str, cpu: str | None = None, memory: str | None = None, **spec) -> dict:
    resources: dict = {}
    if cpu or memory:
        values = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        resources = {"requests": dict(values), "limits": dict(values)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}], **spec}}


async def quota(api, name: str, hard: dict, **spec) -> dict:
    status, body = await api.post(f"{NS}/resourcequotas", json={
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard, **spec}})
    assert status == 201, body
    return body


async def used(api, name: str) -> dict:
    status, body = await api.get(f"{NS}/resourcequotas/{name}")
    assert status == 200
    return body["status"]["used"]


async def test_object_count_quota_refuses_with_403(api):
    await api.post(f"{NS}/configmaps", json={"metadata": {"name": "existing"}})
    created = await quota(api, "objects", {"configmaps": "2", "count/secrets": "1"})
    # A new quota shows its usage straight away (no controller needed).
    assert created["status"] == {"hard": {"configmaps": "2", "count/secrets": "1"},
                                 "used": {"configmaps": "1", "count/secrets": "0"}}
    assert (await api.post(f"{NS}/configmaps", json={"metadata": {"name": "second"}}))[0] == 201
    assert (await used(api, "objects"))["configmaps"] == "2"

    status, body = await api.post(f"{NS}/configmaps", json={"metadata": {"name": "third"}})
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('configmaps "third" is forbidden: exceeded quota: objects, '
                               'requested: configmaps=1, used: configmaps=2, limited: configmaps=2')
    assert (await api.get(f"{NS}/configmaps/third"))[0] == 404

    # Deleting frees the quota, and the status follows.
    assert (await api.delete(f"{NS}/configmaps/existing"))[0] == 200
    assert (await used(api, "objects"))["configmaps"] == "1"
    assert (await api.post(f"{NS}/configmaps", json={"metadata": {"name": "third"}}))[0] == 201

    assert (await api.post(f"{NS}/secrets", json={"metadata": {"name": "s1"}}))[0] == 201
    status, body = await api.post(f"{NS}/secrets", json={"metadata": {"name": "s2"}})
    assert status == 403
    assert "exceeded quota: objects, requested: count/secrets=1, used: count/secrets=1" in body["message"]


async def test_compute_quota_sums_requests_and_limits(api):
    await quota(api, "compute", {"requests.cpu": "1", "limits.memory": "1Gi", "pods": "10"})
    assert (await api.post(f"{NS}/pods", json=pod("a", cpu="600m", memory="512Mi")))[0] == 201
    assert await used(api, "compute") == {"requests.cpu": "600m", "limits.memory": "512Mi", "pods": "1"}

    status, body = await api.post(f"{NS}/pods", json=pod("b", cpu="500m", memory="256Mi"))
    assert status == 403
    assert body["message"] == ('pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, '
                               'used: requests.cpu=600m, limited: requests.cpu=1')

    status, body = await api.post(f"{NS}/pods", json=pod("c", cpu="400m", memory="256Mi"))
    assert status == 201, body
    assert await used(api, "compute") == {"requests.cpu": "1", "limits.memory": "768Mi", "pods": "2"}
    status, body = await api.post(f"{NS}/pods", json=pod("d", cpu="1m", memory="300Mi"))
    assert status == 403
    assert body["message"].endswith("exceeded quota: compute, requested: limits.memory=300Mi,requests.cpu=1m, "
                                    "used: limits.memory=768Mi,requests.cpu=1, limited: limits.memory=1Gi,requests.cpu=1")


async def test_compute_quota_requires_resources_to_be_named(api):
    await quota(api, "needs", {"limits.cpu": "2", "requests.memory": "1Gi"})
    status, body = await api.post(f"{NS}/pods", json=pod("bare"))
    assert status == 403
    assert body["message"] == ('pods "bare" is forbidden: failed quota: needs: must specify '
                               'limits.cpu for: c; requests.memory for: c')


async def test_finished_pods_do_not_count(api):
    await quota(api, "pods", {"pods": "1"})
    assert (await api.post(f"{NS}/pods", json=pod("done")))[0] == 201
    assert (await api.post(f"{NS}/pods", json=pod("next")))[0] == 403
    status, _ = await api.patch(f"{NS}/pods/done/status", json={"status": {"phase": "Succeeded"}})
    assert status == 200
    assert (await used(api, "pods"))["pods"] == "0"
    assert (await api.post(f"{NS}/pods", json=pod("next")))[0] == 201


async def test_scoped_quota_only_charges_selected_pods(api):
    await quota(api, "best-effort", {"pods": "1"}, scopes=["BestEffort"])
    assert (await api.post(f"{NS}/pods", json=pod("be1")))[0] == 201
    assert (await api.post(f"{NS}/pods", json=pod("be2")))[0] == 403
    assert (await api.post(f"{NS}/pods", json=pod("burst", cpu="100m")))[0] == 201


async def test_services_and_dry_run(api):
    await quota(api, "svc", {"services.nodeports": "1", "services": "5"})

    def service(name: str, kind: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"type": kind, "selector": {"a": "b"}, "ports": [{"port": 80}]}}

    status, body = await api.post(f"{NS}/services", json=service("np", "NodePort"), params={"dryRun": "All"})
    assert status == 201, body
    assert (await used(api, "svc"))["services.nodeports"] == "0"  # a dry run charges nothing
    assert (await api.post(f"{NS}/services", json=service("np", "NodePort")))[0] == 201
    assert (await api.post(f"{NS}/services", json=service("ip", "ClusterIP")))[0] == 201
    status, body = await api.post(f"{NS}/services", json=service("np2", "NodePort"))
    assert status == 403
    assert "requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1" in body["message"]
    assert await used(api, "svc") == {"services.nodeports": "1", "services": "2"}


async def test_other_namespaces_are_not_charged(api):
    await quota(api, "tight", {"configmaps": "0"})
    assert (await api.post("/api/v1/namespaces", json={"metadata": {"name": "free"}}))[0] == 201
    status, _ = await api.post("/api/v1/namespaces/free/configmaps", json={"metadata": {"name": "cm"}})
    assert status == 201
    status, _ = await api.post(f"{NS}/configmaps", json={"metadata": {"name": "cm"}})
    assert status == 403
