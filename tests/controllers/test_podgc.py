"""Pod GC: terminated pods above the threshold, pods on vanished nodes (after quarantine),
unscheduled terminating pods, terminating pods on out-of-service nodes."""

from __future__ import annotations

import contextlib

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import NODES, PODS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.podgc import GC_KEY, PodGarbageCollector
from kybernetes.util.clock import FakeClock


@contextlib.asynccontextmanager
async def podgc(client, clock, **options):
    informers = SharedInformerFactory(client)
    controller = PodGarbageCollector(ControllerContext(client, informers, clock=clock, options=options))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield controller
    finally:
        await informers.shutdown()


async def make_pod(client, name, *, node=None, phase=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    pod = await client.create(PODS, {"metadata": {"name": name, "namespace": "default"}, "spec": spec})
    if phase:
        pod["status"] = {"phase": phase}
        pod = await client.update_status(PODS, pod)
    return pod


async def sync(controller, client):
    """Put the server's pods and nodes into the caches (as the informers would)."""
    for informer, resource in ((controller.pods, PODS), (controller.nodes, NODES)):
        informer.indexer.replace((await client.list(resource))["items"])


async def test_terminated_pods_above_threshold_oldest_first(client):
    for i in range(4):
        await make_pod(client, f"done-{i}", phase="Succeeded")
    await make_pod(client, "running")
    async with podgc(client, FakeClock(), terminated_pod_gc_threshold=2) as gc:
        await sync(gc, client)
        client.clear()
        await gc.reconcile(GC_KEY)
        assert [(a.verb, a.name) for a in client.actions] == [("delete", "done-0"), ("delete", "done-1")]
        assert gc.queue.waiting == 1  # the next sweep is scheduled


async def test_threshold_zero_keeps_terminated_pods(client):
    await make_pod(client, "done", phase="Failed")
    async with podgc(client, FakeClock(), terminated_pod_gc_threshold=0) as gc:
        await sync(gc, client)
        client.clear()
        await gc.reconcile(GC_KEY)
        assert client.actions == []


async def test_orphaned_pods_deleted_after_quarantine(client):
    clock = FakeClock()
    await client.create(NODES, {"metadata": {"name": "alive"}})
    await make_pod(client, "on-alive", node="alive")
    await make_pod(client, "on-gone", node="gone")
    async with podgc(client, clock) as gc:
        await sync(gc, client)
        client.clear()
        await gc.reconcile(GC_KEY)
        assert client.actions == []  # quarantined first
        await clock.advance(41)
        await gc.reconcile(GC_KEY)
        assert [(a.verb, a.resource, a.name) for a in client.actions] == [
            ("patch", "pods/status", "on-gone"), ("delete", "pods", "on-gone")]
        status = client.actions[0].body["status"]
        assert status["phase"] == "Failed"
        assert status["conditions"][-1]["reason"] == "DeletionByPodGC"
        assert status["conditions"][-1]["message"] == "PodGC: node no longer exists"
        assert await client.get_or_none(PODS, "on-gone", "default") is None
        assert await client.get_or_none(PODS, "on-alive", "default") is not None


async def test_node_that_reappears_leaves_quarantine(client):
    clock = FakeClock()
    await make_pod(client, "p", node="late")
    async with podgc(client, clock) as gc:
        await sync(gc, client)
        await gc.reconcile(GC_KEY)
        assert "late" in gc.suspect_nodes
        await client.create(NODES, {"metadata": {"name": "late"}})  # the cache has not seen it yet
        await clock.advance(41)
        client.clear()
        await gc.reconcile(GC_KEY)
        assert client.actions == [] and "late" not in gc.suspect_nodes


async def test_terminating_pods_unscheduled_or_on_out_of_service_node(client):
    await make_pod(client, "bound", node="dead")
    await client.create(NODES, {"metadata": {"name": "dead"}, "spec": {"taints": [
        {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}]}})
    await client.delete(PODS, "bound", "default")  # graceful: stays, terminating
    # An unscheduled pod held by a finalizer: terminating, and no kubelet will ever finish it.
    await client.create(PODS, {"metadata": {"name": "ghost", "namespace": "default",
                                            "finalizers": ["example.com/hold"]},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    await client.delete(PODS, "ghost", "default")
    async with podgc(client, FakeClock()) as gc:
        await sync(gc, client)
        client.clear()
        await gc.reconcile(GC_KEY)
        deleted = [a.name for a in client.actions if a.verb == "delete"]
        assert deleted == ["bound", "ghost"]
        assert await client.get_or_none(PODS, "bound", "default") is None
        ghost = await client.get(PODS, "ghost", "default")
        assert ghost["status"]["phase"] == "Failed"
