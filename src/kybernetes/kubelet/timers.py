"""Timers: many delayed callbacks on one task, on the component's Clock.

A thousand simulated nodes with ten thousand containers each due to "exit" at some time would
be ten thousand sleeping tasks; here they are entries of one heap, served by a single task that
sleeps until the earliest deadline (and is woken early when an earlier one is added). Callbacks
are plain functions and must be quick (flip a state, put an event on a queue).

    timers = Timers(clock)
    handle = timers.call_later(30.0, on_exit)
    handle.cancel()
    await timers.aclose()

The serving task starts with the first timer, like the work queue's delays, and is cancelled by
``aclose()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable

from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)


class TimerHandle:
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    def __init__(self, clock: Clock | None = None):
        self.clock = clock or REAL_CLOCK
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.cancelled)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(self.clock.now() + max(delay, 0.0), callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        if self._closed:
            raise RuntimeError("timers are closed")
        handle = TimerHandle(when, callback)
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (when, next(self._seq), handle))
        if earliest is None or when < earliest:
            self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._serve(), name="kubelet timers")
        return handle

    async def _serve(self) -> None:
        while True:
            now = self.clock.now()
            while self._heap and self._heap[0][0] <= now:
                _, _, handle = heapq.heappop(self._heap)
                if handle.cancelled:
                    continue
                try:
                    handle.callback()
                except Exception:
                    log.exception("timer callback %r failed", handle.callback)
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            self._changed.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._changed.wait(), timeout)

    async def aclose(self) -> None:
        self._closed = True
        self._heap.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
