"""DELETE with propagationPolicy (Orphan, Background, Foreground), the legacy orphanDependents
field, and preconditions: the API side of cascading deletion (the garbage collector, which acts
on the finalizers, comes later)."""

from __future__ import annotations

import pytest

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"


def deployment(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def make_cm(api, name: str, finalizers: list[str] | None = None) -> dict:
    meta: dict = {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    status, body = await api.post(CMS, json={"metadata": meta})
    assert status == 201, body
    return body


async def test_foreground_marks_deleting_with_the_finalizer_and_bumps_generation(api):
    _, created = await api.post(DEPLOYS, json=deployment("web"))
    status, body = await api.delete(f"{DEPLOYS}/web", json={"propagationPolicy": "Foreground"})
    assert status == 200, body
    m = body["metadata"]
    assert m["finalizers"] == ["foregroundDeletion"]
    assert m["deletionTimestamp"] and m["deletionGracePeriodSeconds"] == 0
    assert m["generation"] == created["metadata"]["generation"] + 1
    _, stored = await api.get(f"{DEPLOYS}/web")
    assert stored["metadata"]["finalizers"] == ["foregroundDeletion"]
    # What the garbage collector does when the dependents are gone: drop the finalizer.
    stored["metadata"]["finalizers"] = []
    status, _ = await api.put(f"{DEPLOYS}/web", json=stored)
    assert status == 200
    assert (await api.get(f"{DEPLOYS}/web"))[0] == 404


async def test_orphan_keeps_other_finalizers_and_goes_last(api):
    await make_cm(api, "c", finalizers=["example.com/hold"])
    status, body = await api.delete(f"{CMS}/c", json={"propagationPolicy": "Orphan"})
    assert status == 200
    assert body["metadata"]["finalizers"] == ["example.com/hold", "orphan"]


async def test_background_deletes_at_once_and_clears_propagation_finalizers(api):
    await make_cm(api, "plain")
    status, body = await api.delete(f"{CMS}/plain", json={"propagationPolicy": "Background"})
    assert status == 200 and body["kind"] == "Status"
    # An object created with the orphan finalizer: an explicit Background overrides it, so
    # nothing holds the object any more.
    await make_cm(api, "orphaned", finalizers=["orphan"])
    status, body = await api.delete(f"{CMS}/orphaned", json={"propagationPolicy": "Background"})
    assert status == 200 and body["kind"] == "Status", body
    assert (await api.get(f"{CMS}/orphaned"))[0] == 404


async def test_without_a_policy_the_objects_own_finalizer_stands(api):
    await make_cm(api, "o", finalizers=["orphan"])
    status, body = await api.delete(f"{CMS}/o")
    assert status == 200
    assert body["metadata"]["finalizers"] == ["orphan"] and body["metadata"]["deletionTimestamp"]


async def test_a_second_delete_can_switch_the_policy(api):
    await make_cm(api, "s")
    _, body = await api.delete(f"{CMS}/s", json={"propagationPolicy": "Foreground"})
    first = body["metadata"]["deletionTimestamp"]
    _, body = await api.delete(f"{CMS}/s", json={"propagationPolicy": "Orphan"})
    assert body["metadata"]["finalizers"] == ["orphan"]
    assert body["metadata"]["deletionTimestamp"] == first
    # Background on a deleting object drops the last finalizer: it is removed.
    status, body = await api.delete(f"{CMS}/s", json={"propagationPolicy": "Background"})
    assert status == 200 and body["kind"] == "Status"
    assert (await api.get(f"{CMS}/s"))[0] == 404


@pytest.mark.parametrize("where", ["body", "query"])
async def test_legacy_orphan_dependents(api, where):
    await make_cm(api, "l")
    if where == "body":
        status, body = await api.delete(f"{CMS}/l", json={"orphanDependents": True})
    else:
        status, body = await api.delete(f"{CMS}/l", params={"orphanDependents": "true"})
    assert status == 200 and body["metadata"]["finalizers"] == ["orphan"]
    status, body = await api.delete(f"{CMS}/l", json={"orphanDependents": False})
    assert status == 200 and body["kind"] == "Status"


@pytest.mark.parametrize("options,text", [
    ({"orphanDependents": True, "propagationPolicy": "Orphan"}, "cannot be both set"),
    ({"orphanDependents": "maybe"}, "orphanDependents"),
    ({"propagationPolicy": "Sideways"}, "propagationPolicy"),
    ({"preconditions": "uid"}, "preconditions"),
    ({"kind": "Pod"}, "DeleteOptions"),
])
async def test_bad_delete_options_are_400(api, options, text):
    await make_cm(api, "b")
    status, body = await api.delete(f"{CMS}/b", json=options)
    assert status == 400, body
    assert body["reason"] == "BadRequest" and text in body["message"]
    assert (await api.get(f"{CMS}/b"))[0] == 200


async def test_query_propagation_policy(api):
    await make_cm(api, "q")
    status, body = await api.delete(f"{CMS}/q", params={"propagationPolicy": "Foreground"})
    assert status == 200 and body["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_preconditions_apply_with_propagation(api):
    created = await make_cm(api, "p")
    rv = created["metadata"]["resourceVersion"]
    status, body = await api.delete(f"{CMS}/p", json={"propagationPolicy": "Foreground",
                                                      "preconditions": {"resourceVersion": str(int(rv) + 5)}})
    assert status == 409 and "Precondition failed: ResourceVersion in precondition" in body["message"]
    status, body = await api.delete(f"{CMS}/p", json={"propagationPolicy": "Foreground",
                                                      "preconditions": {"resourceVersion": rv,
                                                                        "uid": created["metadata"]["uid"]}})
    assert status == 200 and body["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_pending_graceful_pod_ignores_a_new_policy_but_takes_a_shorter_grace(api):
    status, _ = await api.post(PODS, json={"metadata": {"name": "g"}, "spec": {
        "nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})
    assert status == 201
    _, first = await api.delete(f"{PODS}/g", json={"gracePeriodSeconds": 60})
    assert first["metadata"]["deletionGracePeriodSeconds"] == 60
    _, again = await api.delete(f"{PODS}/g", json={"propagationPolicy": "Foreground"})
    assert again["metadata"] == first["metadata"]  # nothing changes while the grace period runs
    _, shorter = await api.delete(f"{PODS}/g", json={"gracePeriodSeconds": 10, "propagationPolicy": "Orphan"})
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    assert shorter["metadata"]["finalizers"] == ["orphan"]


async def test_deletecollection_with_propagation(api):
    for name in ("a", "b"):
        await make_cm(api, name)
    status, body = await api.delete(CMS, json={"propagationPolicy": "Orphan"})
    assert status == 200 and body["kind"] == "ConfigMapList"
    assert {i["metadata"]["name"]: i["metadata"]["finalizers"] for i in body["items"]} == {
        "a": ["orphan"], "b": ["orphan"]}
