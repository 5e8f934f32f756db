"""LimitRanger: LimitRange defaults and bounds on pods and claims, through the REST API."""

from __future__ import annotations

NS = "/api/v1/namespaces/default"


def pod(name: str, resources: dict | None = None, init_resources: dict | None = None) -> dict:
    spec: dict = {"containers": [{"name": "app", "image": "nginx", "resources": resources or {}}]}
    if init_resources is not None:
        spec["initContainers"] = [{"name": "init", "image": "busybox", "resources": init_resources}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def limit_range(api, name: str, *items: dict) -> None:
    status, body = await api.post(f"{NS}/limitranges", json={
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name}, "spec": {"limits": list(items)}})
    assert status == 201, body


async def test_defaults_fill_missing_requests_and_limits(api):
    await limit_range(api, "defaults", {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                                        "defaultRequest": {"cpu": "0.1"}})
    status, created = await api.post(f"{NS}/pods", json=pod("p", {"limits": {"memory": "128Mi"}}))
    assert status == 201, created
    resources = created["spec"]["containers"][0]["resources"]
    # memory: the request follows the container's own limit (API defaulting), not the range.
    assert resources == {"limits": {"cpu": "500m", "memory": "128Mi"},
                         "requests": {"cpu": "100m", "memory": "128Mi"}}
    annotation = created["metadata"]["annotations"]["kubernetes.io/limit-ranger"]
    assert annotation == "LimitRanger plugin set: cpu request for container app; cpu limit for container app"

    status, created = await api.post(f"{NS}/pods", json=pod("bare"))
    assert created["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app")
    # QoS is computed from the defaulted resources.
    assert created["status"]["qosClass"] == "Burstable"


async def test_max_alone_defaults_limit_and_request(api):
    await limit_range(api, "max", {"type": "Container", "max": {"cpu": "1"}})
    status, created = await api.post(f"{NS}/pods", json=pod("p"))
    assert status == 201, created
    assert created["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


async def test_no_limit_range_leaves_pods_alone(api):
    status, created = await api.post(f"{NS}/pods", json=pod("p"))
    assert status == 201
    assert created["spec"]["containers"][0]["resources"] == {}
    assert "kubernetes.io/limit-ranger" not in (created["metadata"].get("annotations") or {})


async def test_container_max_and_min_violations_are_forbidden(api):
    await limit_range(api, "bounds", {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}})
    status, body = await api.post(f"{NS}/pods", json=pod("big", {"limits": {"cpu": "2"},
                                                                "requests": {"cpu": "2", "memory": "100Mi"}}))
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"] == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    assert body["details"] == {"name": "big", "kind": "pods"}

    status, body = await api.post(f"{NS}/pods", json=pod("small", {"requests": {"memory": "32Mi"}}))
    assert status == 403
    assert body["message"] == 'pods "small" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi'
    assert (await api.get(f"{NS}/pods/small"))[0] == 404

    status, body = await api.post(f"{NS}/pods", json=pod("fits", {"limits": {"cpu": "500m"},
                                                                 "requests": {"memory": "64Mi"}}))
    assert status == 201, body


async def test_ratio_and_pod_totals(api):
    await limit_range(api, "ratio", {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}},
                      {"type": "Pod", "max": {"memory": "1Gi"}})
    status, body = await api.post(f"{NS}/pods", json=pod("bursty", {"requests": {"cpu": "100m"},
                                                                   "limits": {"cpu": "300m", "memory": "1Gi"}}))
    assert status == 403
    assert body["message"] == ('pods "bursty" is forbidden: cpu max limit to request ratio per Container is 2, '
                               'but provided ratio is 3.000000')
    # The pod's total counts the bigger of the init container and the app containers.
    status, body = await api.post(f"{NS}/pods", json=pod(
        "heavy-init", {"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        init_resources={"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "2Gi"}}))
    assert status == 403
    assert body["message"] == 'pods "heavy-init" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 2Gi'


async def test_claims_are_bounded_by_storage_limits(api):
    await limit_range(api, "storage", {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                                       "max": {"storage": "10Gi"}})

    def claim(name: str, size: str) -> dict:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}

    status, body = await api.post(f"{NS}/persistentvolumeclaims", json=claim("huge", "20Gi"))
    assert status == 403
    assert body["message"] == ('persistentvolumeclaims "huge" is forbidden: maximum storage usage per '
                               'PersistentVolumeClaim is 10Gi, but request is 20Gi')
    status, body = await api.post(f"{NS}/persistentvolumeclaims", json=claim("ok", "5Gi"))
    assert status == 201, body


async def test_pod_updates_are_not_checked(api):
    status, _ = await api.post(f"{NS}/pods", json=pod("before", {"limits": {"cpu": "4"}}))
    assert status == 201
    await limit_range(api, "late", {"type": "Container", "max": {"cpu": "1"}})
    status, body = await api.patch(f"{NS}/pods/before", json={"metadata": {"labels": {"a": "b"}}})
    assert status == 200, body
