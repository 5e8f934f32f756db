"""Taint eviction: pods leave NoExecute-tainted nodes at once, after tolerationSeconds, or never."""

from __future__ import annotations

import contextlib

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import NODES, PODS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.nodelifecycle_tainteviction import (
    TaintEvictionController,
    eviction_delay,
    tolerates,
)
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def test_toleration_matching():
    assert tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists"}, UNREACHABLE)
    assert tolerates({"operator": "Exists"}, UNREACHABLE)  # empty key + Exists: every taint
    assert not tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
                         UNREACHABLE)
    assert tolerates({"key": "k", "value": "v", "effect": "NoExecute"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    assert not tolerates({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"})


def test_eviction_delay():
    other = {"key": "other", "effect": "NoExecute"}
    assert eviction_delay([UNREACHABLE], []) == 0.0
    assert eviction_delay([UNREACHABLE], [{"operator": "Exists"}]) is None
    assert eviction_delay([UNREACHABLE], [{"operator": "Exists", "tolerationSeconds": 300},
                                          {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                           "tolerationSeconds": 30}]) == 30.0
    assert eviction_delay([UNREACHABLE, other], [{"key": "node.kubernetes.io/unreachable",
                                                 "operator": "Exists"}]) == 0.0
    assert eviction_delay([UNREACHABLE], [{"operator": "Exists", "tolerationSeconds": -5}]) == 0.0


@contextlib.asynccontextmanager
async def evictor(client, clock):
    informers = SharedInformerFactory(client)
    controller = TaintEvictionController(ControllerContext(client, informers, clock=clock))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield controller
    finally:
        await informers.shutdown()


async def make_pod(client, name, node, tolerations=None):
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return await client.create(PODS, {"metadata": {"name": name, "namespace": "default"}, "spec": spec})


async def seen(controller, client):
    for informer, resource in ((controller.pods, PODS), (controller.nodes, NODES)):
        want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in (await client.list(resource))["items"]}
        await eventually(lambda i=informer, w=want: {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                                                      for o in i.list()} == w, what=f"{resource} cache")


def pod_writes(client):
    return [(a.verb, a.resource, a.name) for a in client.actions if a.resource.startswith("pods")]


async def test_untolerated_pod_evicted_now_tolerating_pods_later_or_never(client):
    clock = FakeClock()
    drain = {"key": "example.com/drain", "effect": "NoExecute"}
    await client.create(NODES, {"metadata": {"name": "n1"}, "spec": {"taints": [drain]}})
    await make_pod(client, "defaults", "n1", tolerations=[{"key": "example.com/drain", "operator": "Exists",
                                                          "tolerationSeconds": 300}])
    await make_pod(client, "intolerant", "n1", tolerations=[{"key": "x", "operator": "Exists"}])
    await make_pod(client, "forever", "n1", tolerations=[{"operator": "Exists"}])
    async with evictor(client, clock) as tec:
        await seen(tec, client)
        client.clear()
        for name in ("defaults", "intolerant", "forever"):
            await tec.reconcile(f"default/{name}")
        assert pod_writes(client) == [("patch", "pods/status", "intolerant"), ("delete", "pods", "intolerant")]
        pod = await client.get_or_none(PODS, "intolerant", "default")
        if pod is not None:  # graceful deletion may keep it around; it is terminating then
            assert pod["metadata"].get("deletionTimestamp")
        events = [a.body for a in client.actions if a.resource == "events"]
        assert [(e["reason"], e["message"]) for e in events] == [
            ("TaintManagerEviction", "Marking for deletion Pod default/intolerant")]
        patch = next(a for a in client.actions if a.resource == "pods/status")
        condition = patch.body["status"]["conditions"][0]
        assert (condition["type"], condition["reason"], condition["message"]) == (
            "DisruptionTarget", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")

        await clock.advance(299)
        client.clear()
        await tec.reconcile("default/defaults")
        assert pod_writes(client) == []
        await clock.advance(2)
        await tec.reconcile("default/defaults")
        await tec.reconcile("default/forever")
        assert pod_writes(client) == [("patch", "pods/status", "defaults"), ("delete", "pods", "defaults")]


async def test_removed_taint_cancels_the_eviction(client):
    clock = FakeClock()
    await client.create(NODES, {"metadata": {"name": "n1"}, "spec": {"taints": [UNREACHABLE]}})
    await make_pod(client, "p", "n1")
    async with evictor(client, clock) as tec:
        await seen(tec, client)
        await tec.reconcile("default/p")
        assert "default/p" in tec.pending
        await client.patch(NODES, "n1", {"spec": {"taints": None}})
        await seen(tec, client)
        assert "default/p" in tec.queue  # the node change queued the pods on it
        client.clear()
        await tec.reconcile("default/p")
        assert pod_writes(client) == []
        assert [a.body["message"] for a in client.actions] == ["Cancelling deletion of Pod default/p"]
        await clock.advance(400)
        await tec.reconcile("default/p")
        assert await client.get_or_none(PODS, "p", "default") is not None


async def test_tolerated_clock_starts_when_the_taint_is_first_seen(client):
    clock = FakeClock()
    await client.create(NODES, {"metadata": {"name": "n1"}})
    await make_pod(client, "p", "n1", tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                                   "effect": "NoExecute", "tolerationSeconds": 60}])
    async with evictor(client, clock) as tec:
        await seen(tec, client)
        await tec.reconcile("default/p")
        await clock.advance(100)  # a healthy node for 100 s counts for nothing
        await client.patch(NODES, "n1", {"spec": {"taints": [UNREACHABLE]}})
        await seen(tec, client)
        client.clear()
        await tec.reconcile("default/p")
        assert pod_writes(client) == []
        await clock.advance(61)
        await tec.reconcile("default/p")
        assert pod_writes(client)[-1] == ("delete", "pods", "p")
