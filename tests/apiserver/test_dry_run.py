"""dryRun=All on every write verb: everything runs (defaulting, validation, admission, deletion
rules), nothing is stored, and the answer is what would have been stored."""

from __future__ import annotations

import pytest

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
DRY = {"dryRun": "All"}


async def snapshot(api):
    result = await api.store.list("/registry/")
    return [(kv.key, kv.value, kv.mod_revision) for kv in result.items]


def deployment(name: str, replicas: int = 1) -> dict:
    return {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def test_dry_run_create_defaults_and_validates_but_stores_nothing(api):
    before = await snapshot(api)
    status, body = await api.post(DEPLOYS, json=deployment("web"), params=DRY)
    assert status == 201, body
    assert body["metadata"]["uid"] and body["metadata"]["generation"] == 1
    assert body["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted
    status, body = await api.post(DEPLOYS, json=deployment("bad", replicas=-1), params=DRY)
    assert status == 422  # validated
    assert await snapshot(api) == before
    assert (await api.get(f"{DEPLOYS}/web"))[0] == 404


async def test_dry_run_update_and_patch(api):
    _, created = await api.post(CMS, json={"metadata": {"name": "c"}, "data": {"a": "1"}})
    before = await snapshot(api)
    created["data"] = {"a": "2"}
    status, body = await api.put(f"{CMS}/c", json=created, params=DRY)
    assert status == 200 and body["data"] == {"a": "2"}
    status, body = await api.patch(f"{CMS}/c", json={"data": {"b": "3"}}, params=DRY)
    assert status == 200 and body["data"] == {"a": "1", "b": "3"}
    status, body = await api.patch(f"{CMS}/c", json=[{"op": "add", "path": "/data/z", "value": "9"}],
                                   content_type="application/json-patch+json", params=DRY)
    assert status == 200 and body["data"]["z"] == "9"
    assert await snapshot(api) == before
    assert (await api.get(f"{CMS}/c"))[1]["data"] == {"a": "1"}


async def test_dry_run_status_and_scale(api):
    await api.post(DEPLOYS, json=deployment("web"))
    before = await snapshot(api)
    status, body = await api.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": 5}}, params=DRY)
    assert status == 200 and body["spec"]["replicas"] == 5
    _, current = await api.get(f"{DEPLOYS}/web")
    current["status"] = {"replicas": 3}
    status, body = await api.put(f"{DEPLOYS}/web/status", json=current, params=DRY)
    assert status == 200 and body["status"]["replicas"] == 3
    assert await snapshot(api) == before


@pytest.mark.parametrize("how", ["query", "body"])
async def test_dry_run_delete(api, how):
    _, created = await api.post(CMS, json={"metadata": {"name": "c"}})
    before = await snapshot(api)
    kw = {"params": DRY} if how == "query" else {"json": {"dryRun": ["All"]}}
    status, body = await api.delete(f"{CMS}/c", **kw)
    assert status == 200 and body["kind"] == "Status"
    assert body["details"]["uid"] == created["metadata"]["uid"]
    # A propagation policy would have marked it; the answer shows that, the store does not.
    body_kw = {"json": {"propagationPolicy": "Foreground", **({"dryRun": ["All"]} if how == "body" else {})}}
    if how == "query":
        body_kw["params"] = DRY
    status, body = await api.delete(f"{CMS}/c", **body_kw)
    assert status == 200 and body["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert body["metadata"]["deletionTimestamp"]
    assert await snapshot(api) == before


async def test_dry_run_graceful_pod_delete(api):
    await api.post(PODS, json={"metadata": {"name": "p"}, "spec": {
        "nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})
    before = await snapshot(api)
    status, body = await api.delete(f"{PODS}/p", params=DRY)
    assert status == 200 and body["metadata"]["deletionGracePeriodSeconds"] == 30
    status, body = await api.delete(f"{PODS}/p", params=DRY, json={"gracePeriodSeconds": 0})
    assert status == 200 and body["kind"] == "Pod"
    assert await snapshot(api) == before
    _, stored = await api.get(f"{PODS}/p")
    assert "deletionTimestamp" not in stored["metadata"]


async def test_dry_run_deletecollection_and_namespace(api):
    for name in ("a", "b"):
        await api.post(CMS, json={"metadata": {"name": name, "labels": {"k": "v"}}})
    await api.post("/api/v1/namespaces", json={"metadata": {"name": "scratch"}})
    before = await snapshot(api)
    status, body = await api.delete(CMS, params={**DRY, "labelSelector": "k=v"})
    assert status == 200 and sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "b"]
    status, body = await api.delete("/api/v1/namespaces/scratch", params=DRY)
    assert status == 200 and body["status"]["phase"] == "Terminating"
    assert await snapshot(api) == before


async def test_dry_run_still_runs_admission(api):
    before = await snapshot(api)
    status, body = await api.post("/api/v1/namespaces/nowhere/configmaps", json={"metadata": {"name": "c"}},
                                  params=DRY)
    assert status == 404 and "nowhere" in body["message"]  # NamespaceLifecycle
    status, body = await api.delete("/api/v1/namespaces/default", params=DRY)
    assert status == 403  # the system namespaces are immortal, even in a dry run
    assert await snapshot(api) == before


@pytest.mark.parametrize("method,path,kw", [
    ("POST", CMS, {"json": {"metadata": {"name": "x"}}, "params": {"dryRun": "Some"}}),
    ("DELETE", f"{CMS}/x", {"params": {"dryRun": "yes"}}),
    ("DELETE", f"{CMS}/x", {"json": {"dryRun": ["Nope"]}}),
    ("DELETE", f"{CMS}/x", {"json": {"dryRun": "All!"}}),
    ("DELETE", CMS, {"json": {"dryRun": ["All", "Some"]}}),
])
async def test_invalid_dry_run_values_are_400(api, method, path, kw):
    await api.post(CMS, json={"metadata": {"name": "x"}})
    before = await snapshot(api)
    status, body = await api.request(method, path, **kw)
    assert status == 400, body
    assert body["reason"] == "BadRequest" and "dry run" in body["message"].lower()
    assert await snapshot(api) == before
