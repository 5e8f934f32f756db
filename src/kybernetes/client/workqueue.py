"""The controllers' work queue: keys, not events (client-go's workqueue, rate limiting included).

    informer handler ─► add("ns/name") ─► [queue, deduplicated] ─► get() ─► reconcile ─► done(key)
                                                                             │ failed
                                         add_rate_limited(key) ◄─────────────┘ (5 ms, 10 ms, ... 1000 s)
                                         forget(key) once it succeeds

Rules that make reconcilers simple:

- A key is in the queue at most once: ten changes to one object before a worker gets to it
  are one reconcile (level-triggered, so the last state is all that matters).
- A key is processed by one worker at a time: a key added while it is being processed is
  remembered ("dirty") and queued again only when ``done(key)`` is called.
- ``add_after(key, delay)`` queues later (the earliest of several pending times wins);
  ``add_rate_limited(key)`` asks the rate limiter for the delay: per key exponential
  (5 ms doubling to 1000 s) and, overall, a token bucket of 10 per second with a burst of 100,
  the larger of the two, as client-go's default controller rate limiter.
- ``shutdown()`` stops accepting keys; ``get()`` still hands out what is queued, then raises
  ``ShutDown``.

All timing goes through the Clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from typing import Protocol

from kybernetes.client.ratelimit import TokenBucket
from kybernetes.util.clock import REAL_CLOCK, Clock


class ShutDown(Exception):
    """The queue was shut down and holds nothing more to hand out."""


class RateLimiter(Protocol):
    def when(self, key: str) -> float: ...

    def forget(self, key: str) -> None: ...

    def num_requeues(self, key: str) -> int: ...


class ItemExponentialRateLimiter:
    """base * 2**failures per key, capped at ``maximum``."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0):
        self.base = base
        self.maximum = maximum
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures > 64:
            return self.maximum
        return min(self.base * (2 ** failures), self.maximum)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket: how long until this retry's token is available."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None):
        self.bucket = TokenBucket(qps, burst, clock)

    def when(self, key: str) -> float:
        return self.bucket.reserve()

    def forget(self, key: str) -> None:
        pass

    def num_requeues(self, key: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of several limiters asks for."""

    def __init__(self, *limiters: RateLimiter):
        self.limiters = limiters

    def when(self, key: str) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: str) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    return MaxOfRateLimiter(ItemExponentialRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100, clock))


class WorkQueue:
    def __init__(self, *, clock: Clock | None = None, rate_limiter: RateLimiter | None = None, name: str = ""):
        self.name = name
        self.clock = clock or REAL_CLOCK
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()  # queued, or re-added while processing
        self._processing: set[str] = set()
        self._shutting_down = False
        self._has_items = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        # add_after: a heap of (ready time, sequence, key) and the earliest time per key.
        self._waiting: list[tuple[float, int, str]] = []
        self._ready_at: dict[str, float] = {}
        self._seq = itertools.count()
        self._waiting_changed = asyncio.Event()
        self._delay_task: asyncio.Task[None] | None = None

    # -- the basic queue -------------------------------------------------------------------------

    def add(self, key: str) -> None:
        if not isinstance(key, str):
            raise TypeError(f"work queue keys are strings, not {type(key).__name__}")
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # queued again by done()
        self._queue.append(key)
        self._has_items.set()

    async def get(self) -> str:
        """The next key (waiting for one); the caller must call ``done(key)`` when finished."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(f"work queue {self.name!r} is shut down")
            self._has_items.clear()
            await self._has_items.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        self._idle.clear()
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._has_items.set()
        if not self._processing:
            self._idle.set()

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, key: object) -> bool:
        return key in self._dirty

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Accept no more keys; wake every waiting ``get()``; drop delayed keys."""
        self._shutting_down = True
        self._has_items.set()
        self._waiting.clear()
        self._ready_at.clear()
        if self._delay_task is not None:
            self._delay_task.cancel()
            self._delay_task = None

    async def shutdown_with_drain(self, timeout: float | None = None) -> bool:
        """Shut down, then wait until no key is being processed; False on timeout."""
        self.shutdown()
        try:
            await self.clock.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- delaying --------------------------------------------------------------------------------

    def add_after(self, key: str, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready = self.clock.now() + delay
        if self._ready_at.get(key, float("inf")) <= ready:
            return  # already due sooner
        self._ready_at[key] = ready
        heapq.heappush(self._waiting, (ready, next(self._seq), key))
        self._waiting_changed.set()
        if self._delay_task is None or self._delay_task.done():
            self._delay_task = asyncio.get_running_loop().create_task(self._release_when_ready(),
                                                                      name=f"workqueue {self.name} delays")

    @property
    def waiting(self) -> int:
        """How many keys wait for their add_after delay."""
        return len(self._ready_at)

    async def _release_when_ready(self) -> None:
        while True:
            now = self.clock.now()
            while self._waiting and self._waiting[0][0] <= now:
                ready, _, key = heapq.heappop(self._waiting)
                if self._ready_at.get(key) == ready:
                    del self._ready_at[key]
                    self.add(key)
            self._waiting_changed.clear()
            timeout = self._waiting[0][0] - now if self._waiting else None
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._waiting_changed.wait(), timeout)

    # -- rate limiting ---------------------------------------------------------------------------

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` again after the rate limiter's delay (grows with each failure)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        """Stop tracking ``key``'s failures (call after it succeeded)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)
