"""Deletion: plain, preconditions, finalizers, graceful pods, collections, namespaces."""

from __future__ import annotations

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


def cm(name: str, finalizers: list[str] | None = None, labels: dict | None = None) -> dict:
    meta = {"name": name, "labels": labels or {}}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"metadata": meta, "data": {}}


def pod(name: str, node: str = "", grace: int | None = None) -> dict:
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": name}, "spec": spec}


async def test_delete_returns_success_status_for_most_kinds(api):
    _, created = await api.post(CMS, json=cm("d1"))
    status, body = await api.delete(f"{CMS}/d1")
    assert status == 200
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "d1", "kind": "configmaps", "uid": created["metadata"]["uid"]}}
    assert (await api.get(f"{CMS}/d1"))[0] == 404
    status, body = await api.delete(f"{CMS}/d1")
    assert status == 404 and body["reason"] == "NotFound"


async def test_delete_unbound_pod_is_immediate_and_returns_the_pod(api):
    await api.post(PODS, json=pod("p0"))
    status, body = await api.delete(f"{PODS}/p0")
    assert status == 200
    assert body["kind"] == "Pod" and body["metadata"]["name"] == "p0"
    assert (await api.get(f"{PODS}/p0"))[0] == 404


async def test_delete_preconditions(api):
    _, created = await api.post(CMS, json=cm("pre"))
    status, body = await api.delete(f"{CMS}/pre", json={"preconditions": {"uid": "wrong"}})
    assert status == 409 and body["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: wrong" in body["message"]
    status, body = await api.delete(f"{CMS}/pre", json={"preconditions": {"resourceVersion": "1"}})
    assert status == 409
    assert (await api.get(f"{CMS}/pre"))[0] == 200
    status, _ = await api.delete(f"{CMS}/pre", json={"preconditions": {"uid": created["metadata"]["uid"]}})
    assert status == 200
    assert (await api.get(f"{CMS}/pre"))[0] == 404


async def test_finalizers_hold_the_object_until_removed(api):
    await api.post(CMS, json=cm("fin", finalizers=["example.com/hold"]))
    status, body = await api.delete(f"{CMS}/fin")
    assert status == 200
    assert body["kind"] == "ConfigMap"
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["deletionGracePeriodSeconds"] == 0
    status, still = await api.get(f"{CMS}/fin")
    assert status == 200 and still["metadata"]["deletionTimestamp"]

    # Adding a finalizer to a deleting object is refused.
    status, body = await api.patch(f"{CMS}/fin", json={"metadata": {"finalizers": ["example.com/hold", "x/y"]}})
    assert status == 422, body
    # deletionTimestamp cannot be cleared by a client.
    status, body = await api.patch(f"{CMS}/fin", json={"metadata": {"deletionTimestamp": None}})
    assert status == 200 and body["metadata"]["deletionTimestamp"] == still["metadata"]["deletionTimestamp"]

    # A second delete changes nothing.
    status, again = await api.delete(f"{CMS}/fin")
    assert status == 200 and again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]

    status, body = await api.patch(f"{CMS}/fin", json={"metadata": {"finalizers": None}})
    assert status == 200, body
    assert (await api.get(f"{CMS}/fin"))[0] == 404


async def test_propagation_policy_adds_finalizer(api):
    await api.post(CMS, json=cm("orph"))
    status, body = await api.delete(f"{CMS}/orph", json={"propagationPolicy": "Orphan"})
    assert status == 200
    assert body["metadata"]["finalizers"] == ["orphan"]
    status, body = await api.delete(f"{CMS}/orph", json={"propagationPolicy": "Foreground"})
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_graceful_pod_deletion(api):
    await api.post(PODS, json=pod("g1", node="n1", grace=45))
    status, body = await api.delete(f"{PODS}/g1")
    assert status == 200
    assert body["metadata"]["deletionGracePeriodSeconds"] == 45
    assert body["metadata"]["deletionTimestamp"]
    assert (await api.get(f"{PODS}/g1"))[0] == 200

    # A shorter grace period shortens it; a longer one does not.
    status, body = await api.delete(f"{PODS}/g1", json={"gracePeriodSeconds": 10})
    assert body["metadata"]["deletionGracePeriodSeconds"] == 10
    status, body = await api.delete(f"{PODS}/g1", json={"gracePeriodSeconds": 20})
    assert body["metadata"]["deletionGracePeriodSeconds"] == 10

    # The kubelet finishes with grace 0.
    status, body = await api.delete(f"{PODS}/g1", json={"gracePeriodSeconds": 0})
    assert status == 200 and body["kind"] == "Pod"
    assert (await api.get(f"{PODS}/g1"))[0] == 404


async def test_pod_default_grace_and_query_parameter(api):
    await api.post(PODS, json=pod("g2", node="n1"))
    _, body = await api.delete(f"{PODS}/g2")
    assert body["metadata"]["deletionGracePeriodSeconds"] == 30
    await api.post(PODS, json=pod("g3", node="n1"))
    status, _ = await api.delete(f"{PODS}/g3?gracePeriodSeconds=0")
    assert status == 200
    assert (await api.get(f"{PODS}/g3"))[0] == 404


async def test_deletecollection_with_selector(api):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        await api.post(CMS, json=cm(name, labels={"team": team}))
    status, body = await api.delete(CMS + "?labelSelector=team%3Dx")
    assert status == 200
    assert body["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "b"]
    _, remaining = await api.get(CMS)
    assert [i["metadata"]["name"] for i in remaining["items"]] == ["c"]


async def test_namespace_deletion_empties_and_removes_it(api):
    await api.post("/api/v1/namespaces", json={"metadata": {"name": "gone"}})
    await api.post("/api/v1/namespaces/gone/configmaps", json=cm("one"))
    await api.post("/api/v1/namespaces/gone/pods", json=pod("p"))
    status, body = await api.delete("/api/v1/namespaces/gone")
    assert status == 200
    assert body["kind"] == "Namespace"
    assert body["status"]["phase"] == "Terminating"
    assert (await api.get("/api/v1/namespaces/gone/configmaps/one"))[0] == 404
    assert (await api.get("/api/v1/namespaces/gone"))[0] == 404


async def test_terminating_namespace_refuses_new_content_until_empty(api):
    await api.post("/api/v1/namespaces", json={"metadata": {"name": "slow"}})
    await api.post("/api/v1/namespaces/slow/configmaps", json=cm("held", finalizers=["example.com/x"]))
    status, body = await api.delete("/api/v1/namespaces/slow")
    assert status == 200 and body["status"]["phase"] == "Terminating"
    status, ns = await api.get("/api/v1/namespaces/slow")
    assert status == 200 and ns["status"]["phase"] == "Terminating"

    status, body = await api.post("/api/v1/namespaces/slow/configmaps", json=cm("new"))
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert "because it is being terminated" in body["message"]

    # Releasing the last finalizer removes the object and then the namespace.
    status, _ = await api.patch("/api/v1/namespaces/slow/configmaps/held", json={"metadata": {"finalizers": None}})
    assert status == 200
    assert (await api.get("/api/v1/namespaces/slow"))[0] == 404


async def test_system_namespaces_cannot_be_deleted(api):
    status, body = await api.delete("/api/v1/namespaces/kube-system")
    assert status == 403
    assert body["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    assert (await api.get("/api/v1/namespaces/kube-system"))[0] == 200
