"""Node lifecycle: silent nodes go Unknown, taints follow conditions, zones limit the tainting rate.

Reconcile steps against a real apiserver with running informers and a FakeClock; the actions
are asserted through RecordingClient (events are filtered out where they do not matter)."""

from __future__ import annotations

import contextlib

from kybernetes.api.meta import format_rfc3339
from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import EVENTS, LEASES, NODES, PODS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.nodelifecycle import TAINT_PASS_KEY, NodeLifecycleController
from kybernetes.controllers.nodelifecycle_health import (
    FULL_DISRUPTION,
    NORMAL,
    PARTIAL_DISRUPTION,
    eviction_qps,
    mark_conditions_unknown,
    no_schedule_taint_diff,
    zone_state,
)
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

# -- the pure rules ------------------------------------------------------------------------------------


def test_mark_unknown_changes_kubelet_conditions_only():
    node = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "hb"},
                {"type": "NetworkUnavailable", "status": "False"},
                {"type": "MemoryPressure", "status": "Unknown", "reason": "NodeStatusUnknown",
                 "lastTransitionTime": "earlier"}]}}
    assert mark_conditions_unknown(node, "now") is True
    by_type = {c["type"]: c for c in node["status"]["conditions"]}
    assert by_type["Ready"] == {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": "hb",
                                "lastTransitionTime": "now"}
    assert by_type["NetworkUnavailable"]["status"] == "False"
    assert by_type["MemoryPressure"]["lastTransitionTime"] == "earlier"  # already Unknown: untouched
    assert by_type["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert by_type["PIDPressure"]["message"] == "Kubelet never posted node status."
    assert mark_conditions_unknown(node, "later") is False


def test_no_schedule_taints_follow_conditions():
    node = {"spec": {"unschedulable": True, "taints": [
        {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
        {"key": "user/own", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]},
        "status": {"conditions": [{"type": "Ready", "status": "False"},
                                  {"type": "DiskPressure", "status": "True"},
                                  {"type": "MemoryPressure", "status": "False"}]}}
    add, remove = no_schedule_taint_diff(node)
    assert add == {"node.kubernetes.io/not-ready", "node.kubernetes.io/disk-pressure",
                   "node.kubernetes.io/unschedulable"}
    assert remove == {"node.kubernetes.io/memory-pressure"}


def test_zone_states_and_rates():
    assert zone_state(["True", "True", "False"]) == NORMAL
    assert zone_state(["Unknown", None]) == FULL_DISRUPTION
    assert zone_state(["True", "False", "False", "Unknown"]) == PARTIAL_DISRUPTION
    assert zone_state(["True", "True", "False", "False"]) == NORMAL  # only 2 down
    kw = {"healthy_qps": 0.1, "secondary_qps": 0.01, "large_cluster_threshold": 50}
    assert eviction_qps(NORMAL, 3, **kw) == 0.1
    assert eviction_qps(PARTIAL_DISRUPTION, 10, **kw) == 0.0
    assert eviction_qps(PARTIAL_DISRUPTION, 51, **kw) == 0.01
    assert eviction_qps(FULL_DISRUPTION, 3, **kw) == 0.1


# -- reconcile steps -----------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def lifecycle(client, clock, **options):
    informers = SharedInformerFactory(client)
    controller = NodeLifecycleController(ControllerContext(client, informers, clock=clock, options=options))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield controller
    finally:
        await informers.shutdown()


async def make_node(client, clock, name, ready="True", zone=None):
    meta = {"name": name, "labels": {"topology.kubernetes.io/zone": zone} if zone else {}}
    node = await client.create(NODES, {"metadata": meta})
    now = format_rfc3339(clock.wall())
    node["status"] = {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                      "lastHeartbeatTime": now, "lastTransitionTime": now}]}
    return await client.update_status(NODES, node)


async def renew_lease(client, clock, name):
    lease = await client.get_or_none(LEASES, name, "kube-node-lease")
    spec = {"holderIdentity": name, "leaseDurationSeconds": 40,
            "renewTime": clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if lease is None:
        return await client.create(LEASES, {"metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec})
    lease["spec"] = spec
    return await client.update(LEASES, lease)


async def caught_up(controller, client):
    """Wait until the informer caches hold what the server holds."""
    for informer, resource, ns in ((controller.nodes, NODES, None), (controller.pods, PODS, None),
                                   (controller.leases, LEASES, "kube-node-lease")):
        want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                for o in (await client.list(resource, ns))["items"]}
        await eventually(lambda i=informer, w=want: {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                                                      for o in i.list()} == w, what=f"{resource} cache")


def writes(client):
    return [(a.verb, a.resource, a.name) for a in client.actions if a.resource not in ("events", "leases")]


def taints(node):
    return sorted((t["key"], t["effect"]) for t in node["spec"].get("taints") or [])


async def test_silent_node_goes_unknown_and_tainted(client):
    clock = FakeClock()
    await make_node(client, clock, "n1")
    await renew_lease(client, clock, "n1")
    for name in ("n2", "n3"):  # healthy neighbours keep the zone Normal
        await make_node(client, clock, name)
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        client.clear()
        for name in ("n1", "n2", "n3"):
            await nlc.reconcile(name)
        assert writes(client) == []
        registered = [a.body for a in client.actions if a.resource == "events"]
        assert {e["reason"] for e in registered} == {"RegisteredNode"}
        assert registered[0]["message"] == "Node n1 event: Registered Node n1 in Controller"
        assert registered[0]["source"]["component"] == "node-controller"

        await clock.advance(39)
        client.clear()
        await nlc.reconcile("n1")
        assert writes(client) == []  # within the grace period
        await clock.advance(2)
        await nlc.reconcile("n1")
        assert writes(client) == [("update", "nodes/status", "n1"), ("patch", "nodes", "n1")]
        node = await client.get(NODES, "n1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert taints(node) == [("node.kubernetes.io/unreachable", "NoSchedule")]
        events = [a.body for a in client.actions if a.resource == "events"]
        assert [(e["reason"], e["message"]) for e in events] == [("NodeNotReady", "Node n1 status is now: NodeNotReady")]
        assert TAINT_PASS_KEY in nlc.queue  # the NoExecute taint goes through the zone's rate limiter

        await caught_up(nlc, client)
        client.clear()
        await nlc.reconcile(TAINT_PASS_KEY)
        assert writes(client) == [("patch", "nodes", "n1")]
        node = await client.get(NODES, "n1")
        assert taints(node) == [("node.kubernetes.io/unreachable", "NoExecute"),
                                ("node.kubernetes.io/unreachable", "NoSchedule")]
        assert all(t.get("timeAdded") for t in node["spec"]["taints"])


async def test_lease_renewals_keep_a_node_alive(client):
    clock = FakeClock()
    await make_node(client, clock, "n1")
    await renew_lease(client, clock, "n1")
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("n1")
        client.clear()
        for _ in range(3):
            await clock.advance(30)
            await renew_lease(client, clock, "n1")
            await caught_up(nlc, client)
            await nlc.reconcile("n1")
        assert writes(client) == []
        assert (await client.get(NODES, "n1"))["status"]["conditions"][0]["status"] == "True"


async def test_not_ready_node_tainted_and_untainted_when_ready(client):
    clock = FakeClock()
    await make_node(client, clock, "sick", ready="False")
    await make_node(client, clock, "ok")
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("sick")
        await caught_up(nlc, client)
        await nlc.reconcile(TAINT_PASS_KEY)
        node = await client.get(NODES, "sick")
        assert taints(node) == [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")]
        node["status"]["conditions"][0]["status"] = "True"
        await client.update_status(NODES, node)
        await caught_up(nlc, client)
        client.clear()
        await nlc.reconcile("sick")
        assert writes(client) == [("patch", "nodes", "sick"), ("patch", "nodes", "sick")]
        assert taints(await client.get(NODES, "sick")) == []


async def test_unreachable_swaps_to_not_ready_at_once(client):
    clock = FakeClock()
    await make_node(client, clock, "n1", ready="False")
    await make_node(client, clock, "n2")
    await client.patch(NODES, "n1", {"spec": {"taints": [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}})
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("n1")
        assert TAINT_PASS_KEY not in nlc.queue  # no rate limit for a swap
        assert taints(await client.get(NODES, "n1")) == [("node.kubernetes.io/not-ready", "NoExecute"),
                                                        ("node.kubernetes.io/not-ready", "NoSchedule")]


async def test_pods_on_a_silent_node_become_not_ready(client):
    clock = FakeClock()
    await make_node(client, clock, "n1")
    await make_node(client, clock, "n2")
    pod = await client.create(PODS, {"metadata": {"name": "p", "namespace": "default"},
                                     "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}})
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    await client.update_status(PODS, pod)
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("n1")
        await clock.advance(41)
        await caught_up(nlc, client)
        client.clear()
        await nlc.reconcile("n1")
        assert ("update", "pods/status", "p") in writes(client)
        pod = await client.get(PODS, "p", "default")
        assert pod["status"]["conditions"][0]["status"] == "False"
        pod_events = [a.body for a in client.actions if a.resource == "events"
                      and a.body["involvedObject"]["kind"] == "Pod"]
        assert [(e["type"], e["reason"], e["message"]) for e in pod_events] == [
            ("Warning", "NodeNotReady", "Node is not ready")]


async def test_zone_rate_limits_no_execute_tainting(client):
    clock = FakeClock()
    for i in range(10):
        await make_node(client, clock, f"n{i}", ready="False" if i < 2 else "True", zone="z1")
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("n0")
        await nlc.reconcile("n1")
        await caught_up(nlc, client)
        client.clear()
        await nlc.reconcile(TAINT_PASS_KEY)
        assert writes(client) == [("patch", "nodes", "n0")]  # one now, 0.1 per second after
        assert nlc.queue.waiting == 1 or TAINT_PASS_KEY in nlc.queue
        await clock.advance(10)
        await caught_up(nlc, client)
        client.clear()
        await nlc.reconcile(TAINT_PASS_KEY)
        assert writes(client) == [("patch", "nodes", "n1")]


async def test_every_node_down_means_no_eviction(client):
    clock = FakeClock()
    await make_node(client, clock, "only", ready="False")
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("only")
        assert nlc.master_disruption
        assert TAINT_PASS_KEY not in nlc.queue
        assert taints(await client.get(NODES, "only")) == [("node.kubernetes.io/not-ready", "NoSchedule")]


async def test_deleted_node_forgotten_with_event(client):
    clock = FakeClock()
    await make_node(client, clock, "gone")
    async with lifecycle(client, clock) as nlc:
        await caught_up(nlc, client)
        await nlc.reconcile("gone")
        await client.delete(NODES, "gone")
        await eventually(lambda: nlc.nodes.get("gone") is None, what="node deletion seen")
        client.clear()
        await nlc.reconcile("gone")
        assert "gone" not in nlc.health
        assert [a.body["reason"] for a in client.actions if a.resource == "events"] == ["RemovingNode"]
        assert (await client.list(EVENTS, "default"))["items"]
