"""The token bucket, timed on a FakeClock."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.ratelimit import TokenBucket
from kybernetes.util.clock import FakeClock


async def test_burst_then_qps():
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=5, clock=clock)
    assert all(bucket.try_acquire() for _ in range(5))
    assert not bucket.try_acquire()
    await clock.advance(0.1)
    assert bucket.try_acquire() and not bucket.try_acquire()
    await clock.advance(10)
    assert bucket.tokens() == 5  # refill stops at the burst


async def test_reservations_queue_up():
    clock = FakeClock()
    bucket = TokenBucket(qps=4, burst=1, clock=clock)
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]


async def test_acquire_waits_on_the_clock():
    clock = FakeClock()
    bucket = TokenBucket(qps=1, burst=1, clock=clock)
    await bucket.acquire()
    task = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    assert not task.done()
    await clock.advance(0.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()


async def test_zero_qps_is_unlimited_and_bad_values_refused():
    bucket = TokenBucket(qps=0, burst=0, clock=FakeClock())
    assert all(bucket.reserve() == 0 for _ in range(1000))
    with pytest.raises(ValueError):
        TokenBucket(qps=-1, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(qps=5, burst=0)
