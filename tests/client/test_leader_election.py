"""Leader election between candidates on one Lease, on a FakeClock (real apiserver, real writes)."""

from __future__ import annotations

import asyncio
import re

import pytest

from kybernetes.client.leader_election import LeaderElector
from kybernetes.client.resource import LEASES
from kybernetes.client.rest import ApiClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Candidate:
    def __init__(self, client: ApiClient, identity: str, clock: FakeClock, **kwargs):
        self.log: list[str] = []
        self.leaders: list[str] = []
        self.elector = LeaderElector(client, name="ctrl", namespace="kube-system", identity=identity,
                                     on_started_leading=self.lead, on_stopped_leading=self.stopped,
                                     on_new_leader=self.leaders.append, clock=clock, **kwargs)
        self.task: asyncio.Task | None = None

    async def lead(self) -> None:
        self.log.append("started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.log.append("cancelled")
            raise

    def stopped(self) -> None:
        self.log.append("stopped")

    def start(self) -> Candidate:
        self.task = asyncio.create_task(self.elector.run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def run_for(clock: FakeClock, seconds: float, step: float = 0.5) -> None:
    """Move fake time on in steps, giving the real HTTP round trips time to finish in between."""
    for _ in range(int(seconds / step)):
        await clock.advance(step)
        await asyncio.sleep(0.01)


async def lease(client: ApiClient) -> dict:
    return (await client.get(LEASES, "ctrl", "kube-system"))["spec"]


async def test_one_leads_and_the_other_takes_over_when_it_stops_renewing(client: ApiClient):
    clock = FakeClock()
    a = Candidate(client, "a", clock, release_on_cancel=False).start()
    await eventually(a.elector.is_leader, what="a to lead")
    b = Candidate(client, "b", clock).start()
    try:
        await eventually(lambda: b.leaders == ["a"], what="b to see a leading")
        spec = await lease(client)
        assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
        assert spec["leaseTransitions"] == 0 and MICRO_TIME.match(spec["renewTime"])
        await run_for(clock, 30)  # a renews every 2 s: b never gets in
        assert a.elector.is_leader() and not b.elector.is_leader()
        assert (await lease(client))["renewTime"] > spec["renewTime"]
        await a.stop()  # a crashes: no release
        assert a.log == ["started", "cancelled", "stopped"]
        crashed_at = clock.now()
        while not b.elector.is_leader():
            await run_for(clock, 0.5)
            # b notices a's last renewal within one jittered retry period (<= 4.4 s), waits a
            # lease duration from then, and tries again within another retry period.
            assert clock.now() - crashed_at < 4.4 + 15 + 4.4 + 1, "b should take over once the lease expires"
        assert clock.now() - crashed_at >= 13  # not before a's last renewal is a lease duration old
        spec = await lease(client)
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
        assert b.log == ["started"] and b.leaders == ["a", "b"]
    finally:
        await a.stop()
        await b.stop()


async def test_clean_stop_releases_so_the_successor_need_not_wait(client: ApiClient):
    clock = FakeClock()
    a = Candidate(client, "a", clock).start()
    await eventually(a.elector.is_leader)
    b = Candidate(client, "b", clock).start()
    try:
        await eventually(lambda: b.leaders == ["a"])
        await a.stop()
        assert (await lease(client))["holderIdentity"] == ""
        released_at = clock.now()
        while not b.elector.is_leader():
            await run_for(clock, 0.5)
        assert clock.now() - released_at <= 2 * (1 + 1.2) + 0.5  # one retry period, not a lease duration
    finally:
        await b.stop()


async def test_leader_steps_down_when_someone_else_holds_the_lease(client: ApiClient):
    clock = FakeClock()
    a = Candidate(client, "a", clock)
    a.start()
    await eventually(a.elector.is_leader)
    current = await client.get(LEASES, "ctrl", "kube-system")
    current["spec"]["holderIdentity"] = "intruder"
    await client.update(LEASES, current)
    await run_for(clock, 2.5)
    await eventually(lambda: a.task.done(), what="run() to return after losing the lease")
    assert a.log == ["started", "cancelled", "stopped"] and not a.elector.is_leader()
    assert (await lease(client))["holderIdentity"] == "intruder"  # not released: not ours any more


async def test_work_that_returns_ends_leadership(client: ApiClient):
    done = []

    async def short_work() -> None:
        done.append(True)

    elector = LeaderElector(client, name="job", identity="a", on_started_leading=short_work, clock=FakeClock())
    await asyncio.wait_for(elector.run(), 5)
    assert done == [True] and not elector.is_leader()
    assert (await client.get(LEASES, "job", "kube-system"))["spec"]["holderIdentity"] == ""


def test_bad_durations_are_refused(client: ApiClient):
    async def work() -> None:
        pass

    with pytest.raises(ValueError):
        LeaderElector(client, name="x", identity="a", on_started_leading=work, lease_duration=5, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElector(client, name="x", identity="", on_started_leading=work)


async def test_leader_steps_down_when_it_cannot_renew_within_the_deadline(client: ApiClient):
    import socket

    clock = FakeClock()
    a = Candidate(client, "a", clock).start()
    await eventually(a.elector.is_leader)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    async with ApiClient(dead, qps=0, max_retries=0) as unreachable:
        a.elector.client = unreachable  # the apiserver becomes unreachable for a
        lost_from = clock.now()
        await run_for(clock, 9)
        assert a.elector.is_leader(), "still within the renew deadline"
        await run_for(clock, 2.5)
        await eventually(lambda: a.task.done())
    assert a.log == ["started", "cancelled", "stopped"] and clock.now() - lost_from >= 10


async def test_the_leader_renews_without_reading_the_lease_first(client: ApiClient, monkeypatch):
    clock = FakeClock()
    a = Candidate(client, "a", clock)
    a.start()
    await eventually(a.elector.is_leader)
    before = (await lease(client))["renewTime"]
    reads = []
    real_get = client.get_or_none

    async def counting_get(*args, **kwargs):
        reads.append(args)
        return await real_get(*args, **kwargs)

    monkeypatch.setattr(client, "get_or_none", counting_get)
    await run_for(clock, 6.5)
    assert (await lease(client))["renewTime"] > before
    assert reads == [], "a leader whose lease is valid renews it with one update, as client-go does"
    await a.stop()
