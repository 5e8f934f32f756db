"""The scheduling queue on a FakeClock: order, backoff, unschedulable pods and cluster events."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.scheduler.plugins.queue_sort import PrioritySort
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.queue import SchedulingQueue
from kybernetes.util.clock import FakeClock
from tests.scheduler.objects import make_pod


def pod(name, priority=0, **kw):
    return PodInfo(make_pod(name, priority=priority, **kw))


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def queue(clock):
    return SchedulingQueue(PrioritySort().sort_key, clock=clock)


async def test_pops_by_priority_then_age(queue, clock):
    queue.add(pod("old-low"))
    await clock.advance(1)
    queue.add(pod("high", priority=100))
    queue.add(pod("new-low"))
    order = [queue.pop_nowait().pod.name for _ in range(3)]
    assert order == ["high", "old-low", "new-low"]
    assert queue.pop_nowait() is None


async def test_pop_waits_for_a_pod(queue):
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(pod("p"))
    qp = await asyncio.wait_for(waiter, 1)
    assert qp.pod.name == "p" and qp.attempts == 1


async def test_unschedulable_pod_waits_for_an_event(queue, clock):
    queue.add(pod("p"))
    qp = queue.pop_nowait()
    qp.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable(qp)
    assert queue.pending()["unschedulable"] == ["default/p"]
    await clock.advance(60)
    queue.flush_backoff_completed()
    assert queue.pop_nowait() is None  # time alone does not bring it back (before 5 minutes)
    # an event only affinity plugins care about does not move it
    assert queue.move_all_to_active_or_backoff("AssignedPodAdd", {"InterPodAffinity"}) == 0
    assert queue.move_all_to_active_or_backoff("NodeAdd") == 1
    assert queue.pop_nowait().key == "default/p"  # backoff (1 s) long over: straight to activeQ


async def test_backoff_doubles_to_ten_seconds(queue, clock):
    queue.add(pod("p"))
    durations = []
    for _ in range(6):
        qp = queue.pop_nowait()
        durations.append(queue.backoff_duration(qp))
        queue.add_unschedulable(qp)
        queue.move_all_to_active_or_backoff("NodeAdd")  # moves it into backoffQ: still backing off
        assert queue.pending()["backoff"] == ["default/p"]
        await clock.advance(durations[-1] - 0.01)
        queue.flush_backoff_completed()
        assert queue.pop_nowait() is None
        await clock.advance(0.02)
        queue.flush_backoff_completed()
        queue._push_active(queue._active.pop("default/p"))
    assert durations == [1, 2, 4, 8, 10, 10]


async def test_event_during_scheduling_sends_pod_to_backoff(queue, clock):
    queue.add(pod("p"))
    qp = queue.pop_nowait()
    queue.move_all_to_active_or_backoff("NodeAdd")  # arrives while p is being scheduled
    qp.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable(qp)
    assert queue.pending()["backoff"] == ["default/p"]
    await clock.advance(1.5)
    assert queue.flush_backoff_completed() == 1
    assert queue.pop_nowait().key == "default/p"


async def test_leftover_unschedulable_pods_retried_after_five_minutes(queue, clock):
    runner = asyncio.create_task(queue.run())
    try:
        queue.add(pod("p"))
        queue.add_unschedulable(queue.pop_nowait())
        await clock.advance(299)
        assert queue.pending()["unschedulable"] == ["default/p"]
        await clock.advance(31)  # the 30 s flush after the 5 minutes
        assert queue.pending()["active"] == ["default/p"]
    finally:
        runner.cancel()


async def test_updates_and_deletes(queue, clock):
    queue.add(pod("p"))
    queue.add_unschedulable(queue.pop_nowait())
    queue.update_unchanged(pod("p"))  # e.g. our own status patch
    assert queue.pending()["unschedulable"] == ["default/p"]
    queue.add(pod("p", labels={"changed": "yes"}))  # a real change: try again, after its backoff
    assert queue.pending()["backoff"] == ["default/p"]
    queue.add_unschedulable(queue._backoff.pop("default/p"))
    await clock.advance(2)
    queue.add(pod("p", labels={"changed": "again"}))
    assert queue.pending()["active"] == ["default/p"]
    queue.delete("default/p")
    assert len(queue) == 0 and "default/p" not in queue


def test_nominated_pods(queue):
    p = PodInfo({**make_pod("p"), "status": {"nominatedNodeName": "n1"}})
    queue.add(p)
    assert [x.key for x in queue.nominated_pods_for_node("n1")] == ["default/p"]
    queue.delete("default/p")
    assert queue.nominated_pods_for_node("n1") == [] and not queue.has_nominated_pods


async def test_update_while_in_flight_sends_failure_to_backoff(queue):
    queue.add(pod("p"))
    qp = queue.pop_nowait()
    queue.add(pod("p", labels={"new": "label"}))  # changed while being scheduled
    qp.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable(qp)
    assert queue.pending()["backoff"] == ["default/p"]
