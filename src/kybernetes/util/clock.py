"""One clock for every sleep, timeout, backoff, lease and heartbeat.

Components never call ``asyncio.sleep`` or ``time.monotonic`` for timing that matters; they take
a ``Clock`` (default ``RealClock``). Tests and simulations pass a ``FakeClock`` instead and move
time forward themselves, so a 15 s lease, a 1000 s backoff or an hourly cron runs in
microseconds and always in the same order.

    now()                 monotonic seconds (only differences mean anything)
    wall()                the current UTC datetime (for timestamps written into objects)
    await sleep(s)        suspend for s seconds of this clock's time
    await wait_for(aw, s) await ``aw`` but give up with TimeoutError after s seconds

``FakeClock.advance(seconds)`` is a coroutine: it moves time to each sleeper's deadline in
deadline order, wakes it, and lets the event loop run what it woke (which may sleep again within
the same advance) before moving on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...

    def wall(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T: ...


class RealClock:
    """The process's clocks: time.monotonic, datetime.now(UTC) and the event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        return await asyncio.wait_for(aw, None if timeout is None else max(0.0, timeout))


REAL_CLOCK = RealClock()


class FakeClock:
    """A clock that moves only when told to. Wall time starts at ``start`` (default 2026-01-01)."""

    # How many times advance() yields to the event loop after waking sleepers, so that the woken
    # coroutines (and what they await without real I/O) run before time moves again.
    SETTLE_ROUNDS = 20

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1000.0):
        self._now = float(monotonic_start)
        self._monotonic_start = float(monotonic_start)
        self._wall_start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._monotonic_start)

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (not yet woken or cancelled)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def next_deadline(self) -> float | None:
        """The monotonic time of the earliest pending sleep, if any."""
        self._drop_done()
        return self._sleepers[0][0] if self._sleepers else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        if timeout is None:
            return await aw
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self.sleep(timeout))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        raise TimeoutError(f"timed out after {timeout} s (fake clock)")

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper whose deadline is reached, in
        deadline order, letting the loop run after each wake."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        target = self._now + seconds
        await self._settle()
        while True:
            self._drop_done()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            fut.set_result(None)
            # Wake everyone due at the same instant before letting the loop run.
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, other = heapq.heappop(self._sleepers)
                if not other.done():
                    other.set_result(None)
            await self._settle()
        self._now = target
        await self._settle()

    async def _settle(self) -> None:
        for _ in range(self.SETTLE_ROUNDS):
            await asyncio.sleep(0)

    def _drop_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
