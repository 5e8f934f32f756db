"""The clocks: FakeClock wakes sleepers in deadline order and only when advanced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from kybernetes.util.clock import Clock, FakeClock, RealClock


async def test_fake_clock_wakes_sleepers_in_deadline_order():
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now() - 1000.0))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2), ("late", 10))]
    await asyncio.sleep(0)
    assert clock.sleepers == 4
    await clock.advance(5)
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.now() == 1005.0
    assert not tasks[3].done()
    await clock.advance(5)
    assert woke[-1] == ("late", 10.0)
    await asyncio.gather(*tasks)


async def test_chained_sleeps_within_one_advance():
    clock = FakeClock()
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(5):
            await clock.sleep(1)
            ticks.append(clock.now())

    task = asyncio.create_task(ticker())
    await clock.advance(3.5)
    assert ticks == [1001.0, 1002.0, 1003.0]
    await clock.advance(10)
    assert ticks == [1001.0, 1002.0, 1003.0, 1004.0, 1005.0]
    await task


async def test_nothing_wakes_without_advance():
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(0.001))
    await asyncio.sleep(0.02)
    assert not task.done()
    await clock.advance(0.001)
    assert task.done()


async def test_wall_time_follows_monotonic_time():
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock = FakeClock(start=start)
    assert clock.wall() == start
    await clock.advance(90)
    assert clock.wall() == datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)


async def test_fake_wait_for_times_out_on_fake_time_only():
    clock = FakeClock()
    never = asyncio.Event()
    task = asyncio.create_task(clock.wait_for(never.wait(), 5))
    await asyncio.sleep(0.01)
    assert not task.done()
    await clock.advance(5)
    with pytest.raises(TimeoutError):
        await task


async def test_fake_wait_for_returns_result_and_cancels_timer():
    clock = FakeClock()
    event = asyncio.Event()

    async def waiter() -> str:
        await event.wait()
        return "ok"

    task = asyncio.create_task(clock.wait_for(waiter(), 5))
    await asyncio.sleep(0)
    event.set()
    assert await task == "ok"
    await asyncio.sleep(0)
    assert clock.sleepers == 0
    assert await clock.wait_for(waiter(), None) == "ok"


async def test_advance_refuses_to_go_backwards():
    with pytest.raises(ValueError):
        await FakeClock().advance(-1)


async def test_cancelled_sleeper_is_dropped():
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(1))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert clock.sleepers == 0
    await clock.advance(2)  # must not try to wake a cancelled future


async def test_real_clock():
    clock = RealClock()
    assert isinstance(clock, Clock) and isinstance(FakeClock(), Clock)
    before = clock.now()
    await clock.sleep(0.01)
    assert clock.now() - before >= 0.009
    assert clock.wall().tzinfo is not None
    with pytest.raises(TimeoutError):
        await clock.wait_for(asyncio.Event().wait(), 0.01)
