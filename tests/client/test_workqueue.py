"""Work queue semantics, timed on a FakeClock: dedup, one worker per key, delays, backoff."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialRateLimiter,
    ShutDown,
    WorkQueue,
    default_controller_rate_limiter,
)
from kybernetes.util.clock import FakeClock


async def test_dedup_while_queued_and_fifo_order():
    q = WorkQueue(clock=FakeClock())
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_key_added_while_processing_is_processed_again_after_done():
    q = WorkQueue(clock=FakeClock())
    q.add("a")
    key = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0 and "a" in q.processing  # not handed to a second worker
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.done(key)
    assert await asyncio.wait_for(getter, 1) == "a"
    q.done("a")
    assert len(q) == 0 and not q.processing


async def test_many_workers_never_share_a_key():
    q = WorkQueue(clock=FakeClock())
    active: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 30:
                q.add(key)  # a change arrives while we work on it
            processed.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for key in ("a", "b", "a", "c"):
        q.add(key)
    while len(processed) < 30:
        await asyncio.sleep(0.001)
    await q.shutdown_with_drain(timeout=1)
    await asyncio.gather(*workers)
    assert overlaps == [] and set(processed) == {"a", "b", "c"}


async def test_shutdown_hands_out_what_is_queued_then_raises():
    q = WorkQueue(clock=FakeClock())
    waiting = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await waiting
    q2 = WorkQueue(clock=FakeClock())
    q2.add("x")
    q2.shutdown()
    q2.add("y")  # ignored
    assert await q2.get() == "x"
    with pytest.raises(ShutDown):
        await q2.get()
    with pytest.raises(TypeError):
        q2.add(42)  # type: ignore[arg-type]


async def test_add_after_waits_on_the_clock_and_earliest_wins():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("a", 10)
    q.add_after("b", 5)
    q.add_after("a", 3)  # sooner: replaces
    q.add_after("b", 8)  # later: ignored
    assert len(q) == 0 and q.waiting == 2
    await clock.advance(2.9)
    assert len(q) == 0
    await clock.advance(0.1)
    assert len(q) == 1 and await q.get() == "a"
    await clock.advance(2)
    assert await q.get() == "b"
    await clock.advance(100)
    assert len(q) == 0  # the replaced deadline of "a" does not queue it again
    q.add_after("c", 0)
    assert await q.get() == "c"
    q.shutdown()


async def test_per_key_exponential_backoff_and_forget():
    clock = FakeClock()
    q = WorkQueue(clock=clock, rate_limiter=ItemExponentialRateLimiter(0.005, 1000))
    for expected in (0.005, 0.01, 0.02, 0.04, 0.08):
        q.add_rate_limited("a")
        await clock.advance(expected * 0.99)
        assert len(q) == 0
        await clock.advance(expected * 0.02)
        assert len(q) == 1
        q.done(await q.get())
    assert q.num_requeues("a") == 5
    q.forget("a")
    assert q.num_requeues("a") == 0
    q.shutdown()


def test_exponential_limiter_caps_at_maximum():
    limiter = ItemExponentialRateLimiter(0.005, 1000)
    delays = [limiter.when("k") for _ in range(30)]
    assert delays[0] == 0.005 and delays[1] == 0.01
    assert max(delays) == 1000 and delays[-1] == 1000
    assert limiter.when("other") == 0.005


def test_default_limiter_is_the_larger_of_item_and_bucket():
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    # 100 distinct keys use up the burst at the item delay of 5 ms...
    assert {limiter.when(f"k{i}") for i in range(100)} == {0.005}
    # ...then the overall bucket (10 per second) dominates.
    assert limiter.when("k-next") == pytest.approx(0.1)
    assert limiter.when("k-next2") == pytest.approx(0.2)
    bucket = BucketRateLimiter(10, 1, clock)
    assert bucket.when("x") == 0 and bucket.when("y") == pytest.approx(0.1)
