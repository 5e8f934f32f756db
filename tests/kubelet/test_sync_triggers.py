"""What queues a pod sync, and how a sync finds its pod's records without scanning the node's."""

from __future__ import annotations

from kybernetes.client import ApiClient
from kybernetes.kubelet.kubelet import Kubelet
from kybernetes.kubelet.node_group import NodeGroup
from kybernetes.kubelet.node_status import NodeConfig
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.fake import FakeRuntime
from kybernetes.kubelet.runtime.runc.state import PodIndex, candidates
from kybernetes.util.clock import FakeClock

RUNNING = {"phase": "Running", "podIP": "10.1.0.5"}


def pod(rv: str, status: dict, **meta) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": rv, **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}, "status": status}


async def test_only_the_echo_of_our_own_status_queues_no_sync():
    async with ApiClient("http://127.0.0.1:1") as client:  # never called: informers are not started
        group = NodeGroup(client, pod_field_selector="spec.nodeName=n1", events=False)
        group._node_of["default/web"] = "n1"
        old = pod("5", {"phase": "Pending"})
        assert not group._own_status_echo(old, pod("6", RUNNING))  # nothing set by us yet
        group.status._cached["u1"] = RUNNING
        assert group._own_status_echo(old, pod("6", {**RUNNING, "extra": "server-side"}))
        assert not group._own_status_echo(old, pod("6", {**RUNNING, "phase": "Failed"}))  # another writer
        assert not group._own_status_echo(old, pod("6", RUNNING, labels={"a": "b"}))
        assert not group._own_status_echo(old, pod("6", RUNNING, deletionTimestamp="2026-01-01T00:00:00Z"))
        changed_spec = pod("6", RUNNING)
        changed_spec["spec"]["activeDeadlineSeconds"] = 5
        assert not group._own_status_echo(old, changed_spec)
        group._on_pod_update(old, pod("6", RUNNING))
        assert len(group.queue) == 0
        group._on_pod_update(old, pod("6", RUNNING, labels={"a": "b"}))
        assert len(group.queue) == 1


async def test_each_pod_is_synced_again_a_resync_period_after_its_first_sync():
    clock = FakeClock()
    async with ApiClient("http://127.0.0.1:1") as client:  # never called: nothing here reaches the API
        group = NodeGroup(client, clock=clock, pod_field_selector="spec.nodeName=n1", events=False)
        runtime = FakeRuntime(clock=clock, node_name="n1")
        kubelet = group.add(Kubelet(client, NodeConfig(name="n1", internal_ip="10.0.0.1"), runtime, runtime.images,
                                    pods=group.pods, nodes=group.nodes, status=group.status, queue=group.queue,
                                    clock=clock, resync_period=10))
        await kubelet.sync("default/web", pod("5", {}))
        assert len(group.queue) == 0 and group.queue.waiting == 1  # nothing else to do: not queued now
        await clock.advance(4)
        await kubelet.sync("default/web", pod("6", {}))  # synced again meanwhile (an update)
        await clock.advance(5.9)
        assert len(group.queue) == 0
        await clock.advance(0.2)  # 10 s after the first sync, not after the last
        assert len(group.queue) == 1 and group.queue.waiting == 0
        group.queue.shutdown()


def test_pod_index_gives_a_pods_records_in_order_and_forgets_removed_ones():
    index, records = PodIndex(), {}
    for record_id, uid in (("s1", "a"), ("s2", "b"), ("s3", "a"), ("s4", "")):
        records[record_id] = uid
        index.add({cri.POD_UID_LABEL: uid} if uid else {}, record_id)
    assert candidates(records, index, "", {cri.POD_UID_LABEL: "a"}) == ["a", "a"]
    assert index.ids("a") == ["s1", "s3"] and index.ids("missing") == []
    assert candidates(records, index, "s2", {cri.POD_UID_LABEL: "a"}) == ["b"]  # by id; the caller filters
    assert candidates(records, index, "nope", None) == []
    assert candidates(records, index, "", {"other": "x"}) == list(records.values())
    index.discard({cri.POD_UID_LABEL: "a"}, "s1")
    del records["s1"]
    index.discard({cri.POD_UID_LABEL: "a"}, "s3")
    assert index.ids("a") == [] and "a" not in index._ids
    assert candidates(records, index, "", {cri.POD_UID_LABEL: "a"}) == []
