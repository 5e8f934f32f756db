"""One scheduling cycle as a step on seeded informer caches, asserting the client's actions
(the sample-controller way): a fit binds, a misfit patches the PodScheduled condition."""

from __future__ import annotations

import asyncio

from kybernetes.client.resource import NODES, PODS
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.testing import eventually
from kybernetes.testing.recording import RecordingClient
from tests.scheduler.objects import make_node, make_pod


async def step(s: Scheduler) -> None:
    qp = s.queue.pop_nowait()
    assert qp is not None, "nothing queued"
    async with asyncio.TaskGroup() as tasks:
        s._tasks = tasks
        s.schedule_one(qp)
    s._tasks = None


async def test_one_cycle_binds_or_reports(srv, client):
    await client.create(NODES, make_node("n1", cpu="2"))
    await client.create(PODS, make_pod("fits", cpu="1"))
    await client.create(PODS, make_pod("too-big", cpu="3", priority=-1))
    async with RecordingClient(srv.url, qps=0) as recording:
        s = Scheduler(recording)
        s.informers.start()
        try:
            assert await s.informers.wait_for_cache_sync(5)
            await eventually(lambda: len(s.queue) == 2, what="both pods queued")
            await step(s)  # "fits" first: higher priority
            assert [(a.verb, a.resource, a.name) for a in recording.actions] == [
                ("create", "pods/binding", "fits")]
            assert recording.actions[0].body["target"] == {"apiVersion": "v1", "kind": "Node", "name": "n1"}
            assert s.cache.get_pod("default/fits").node_name == "n1"  # assumed, or confirmed already
            recording.clear()
            await step(s)
            assert [(a.verb, a.resource, a.name) for a in recording.actions] == [("patch", "pods/status", "too-big")]
            condition = recording.actions[0].body["status"]["conditions"][0]
            assert condition["reason"] == "Unschedulable"
            assert condition["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")
            assert s.queue.pending()["unschedulable"] == ["default/too-big"]
            # the same failure again does not patch again (the condition is already there)
            await eventually(lambda: (s.pod_informer.get("default/too-big")["status"].get("conditions") or [{}])[-1]
                             .get("reason") == "Unschedulable", what="condition seen")
            s.queue.move_all_to_active_or_backoff("test")
            s.queue.flush_backoff_completed()
            qp = s.queue._backoff.pop("default/too-big", None) or s.queue._active.pop("default/too-big")
            s.queue._push_active(qp)
            recording.clear()
            await step(s)
            assert recording.verbs_on("pods/status") == []
        finally:
            await s.informers.shutdown()
