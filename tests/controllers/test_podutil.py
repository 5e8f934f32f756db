"""Pod helpers: readiness, availability, pods from templates, ownerRefs, deletion order, expectations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kybernetes.controllers import podutil
from kybernetes.util.clock import FakeClock

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name, *, node="", phase="Running", ready=None, ready_ago=100.0, created_ago=1000.0, restarts=0,
        cost=None, deleting=False):
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "creationTimestamp": ts(created_ago)}
    if cost is not None:
        meta["annotations"] = {podutil.POD_DELETION_COST: str(cost)}
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    status = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": ts(ready_ago)}]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


def test_ready_and_available():
    assert not podutil.is_pod_ready(pod("a"))
    assert not podutil.is_pod_ready(pod("a", ready=False))
    assert podutil.is_pod_ready(pod("a", ready=True))
    p = pod("a", ready=True, ready_ago=10)
    assert podutil.is_pod_available(p, 0, NOW)
    assert podutil.is_pod_available(p, 9, NOW)
    assert not podutil.is_pod_available(p, 10, NOW)  # strictly more than minReadySeconds
    assert not podutil.is_pod_available(pod("a", ready=False), 0, NOW)


def test_active():
    assert podutil.is_pod_active(pod("a", phase="Pending"))
    assert not podutil.is_pod_active(pod("a", phase="Succeeded"))
    assert not podutil.is_pod_active(pod("a", phase="Failed"))
    assert not podutil.is_pod_active(pod("a", deleting=True))


def test_pod_from_template_sets_generate_name_and_controller_ref():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "web-abc", "namespace": "ns1", "uid": "u1"}}
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f"]},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    p = podutil.pod_from_template(template, owner)
    assert p["metadata"]["generateName"] == "web-abc-"
    assert p["metadata"]["namespace"] == "ns1"
    assert p["metadata"]["labels"] == {"app": "web"}
    assert p["metadata"]["annotations"] == {"a": "b"}
    assert p["metadata"]["finalizers"] == ["f"]
    assert p["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                                 "uid": "u1", "controller": True, "blockOwnerDeletion": True}]
    p["spec"]["containers"][0]["image"] = "changed"
    assert template["spec"]["containers"][0]["image"] == "nginx"  # the template was copied
    assert podutil.is_controlled_by(p, owner)
    assert podutil.controller_of(p)["uid"] == "u1"


def test_adopt_and_release_patches_name_the_pod_uid():
    p = pod("a")
    ref = {"uid": "u1", "controller": True}
    assert podutil.adopt_patch(p, ref) == {"metadata": {"ownerReferences": [ref], "uid": "uid-a"}}
    assert podutil.release_patch(p, "u1") == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}], "uid": "uid-a"}}


def test_slow_start_batches():
    assert podutil.slow_start_batches(0) == []
    assert podutil.slow_start_batches(1) == [1]
    assert podutil.slow_start_batches(10) == [1, 2, 4, 3]
    assert podutil.slow_start_batches(15) == [1, 2, 4, 8]


def names(pods):
    return [p["metadata"]["name"] for p in pods]


def test_deletion_order_follows_kubernetes():
    pods = [
        pod("old-ready", node="n1", ready=True, ready_ago=100000, created_ago=200000),
        pod("unscheduled", phase="Pending"),
        pod("pending", node="n1", phase="Pending"),
        pod("unknown", node="n1", phase="Unknown"),
        pod("not-ready", node="n1", ready=False),
        pod("new-ready", node="n1", ready=True, ready_ago=5, created_ago=200000),
    ]
    order = names(podutil.rank_pods_for_deletion(pods, pods, NOW))
    assert order == ["unscheduled", "pending", "unknown", "not-ready", "new-ready", "old-ready"]


def test_deletion_order_cost_doubling_restarts_age():
    a = pod("cheap", node="n1", ready=True, cost=-5)
    b = pod("dear", node="n1", ready=True, cost=10)
    assert names(podutil.rank_pods_for_deletion([b, a], [a, b], NOW)) == ["cheap", "dear"]
    # More related pods on the same node: deleted first.
    crowded = pod("crowded", node="n1", ready=True)
    alone = pod("alone", node="n2", ready=True)
    others = [pod(f"o{i}", node="n1", ready=True) for i in range(3)]
    assert names(podutil.rank_pods_for_deletion([alone, crowded], [alone, crowded, *others], NOW)) == [
        "crowded", "alone"]
    flaky = pod("flaky", node="n1", ready=True, restarts=7)
    steady = pod("steady", node="n1", ready=True, restarts=0)
    assert names(podutil.rank_pods_for_deletion([steady, flaky], [], NOW)) == ["flaky", "steady"]
    young = pod("young", node="n1", ready=True, created_ago=10)
    old = pod("old", node="n1", ready=True, created_ago=100000)
    assert names(podutil.rank_pods_for_deletion([old, young], [], NOW)) == ["young", "old"]


async def test_expectations_wait_for_observations_and_expire():
    clock = FakeClock()
    exp = podutil.Expectations(clock)
    assert exp.satisfied("ns/rs")
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs") and exp.pending("ns/rs") == (1, 0)
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", ["ns/p1", "ns/p2"])
    exp.deletion_observed("ns/rs", "ns/p1")
    exp.deletion_observed("ns/rs", "ns/other")
    assert not exp.satisfied("ns/rs")
    await clock.advance(podutil.EXPECTATIONS_TIMEOUT + 1)
    assert exp.satisfied("ns/rs")  # a lost watch event cannot wedge the controller
    exp.expect_creations("ns/rs", 1)
    exp.lower_creations("ns/rs")
    assert exp.satisfied("ns/rs")
