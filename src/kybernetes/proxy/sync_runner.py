"""Run a sync function when asked, but not more often than allowed (kube-proxy's
BoundedFrequencyRunner).

- ``request()`` asks for a run; requests that arrive while one is pending fold into it.
- Runs are rate limited by a token bucket: ``burst`` runs back to back, then one per
  ``min_interval`` (kube-proxy's minSyncPeriod, default 1 s; burst 2), so a storm of endpoint
  changes costs one restore a second instead of one per change.
- With nothing asked, it still runs every ``max_interval`` (the periodic resync).
- ``retry_after(s)`` schedules a run after a failure, without waiting for a change.
Every sleep goes through the Clock, so tests drive it with a FakeClock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)


class SyncRunner:
    def __init__(self, fn: Callable[[], Awaitable[None]], *, min_interval: float = 1.0,
                 max_interval: float = 3600.0, burst: int = 2, clock: Clock | None = None):
        if min_interval < 0 or max_interval <= 0 or burst < 1:
            raise ValueError("need min_interval >= 0, max_interval > 0 and burst >= 1")
        self.fn = fn
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.burst = burst
        self.clock = clock or REAL_CLOCK
        self._tokens = float(burst)
        self._last_refill = self.clock.now()
        self._wake = asyncio.Event()
        self._requested = False
        self._retry_at: float | None = None
        self.runs = 0

    def request(self) -> None:
        self._requested = True
        self._wake.set()

    def retry_after(self, seconds: float) -> None:
        at = self.clock.now() + seconds
        if self._retry_at is None or at < self._retry_at:
            self._retry_at = at
        self._wake.set()

    def _refill(self) -> None:
        now = self.clock.now()
        if self.min_interval == 0:
            self._tokens = float(self.burst)
        else:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last_refill) / self.min_interval)
        self._last_refill = now

    async def _wait_for_token(self) -> None:
        self._refill()
        while self._tokens < 1.0:
            await self.clock.sleep((1.0 - self._tokens) * self.min_interval)
            self._refill()
        self._tokens -= 1.0

    async def run(self) -> None:
        """Loop until cancelled."""
        last_run = self.clock.now()
        while True:
            deadline = last_run + self.max_interval
            if self._retry_at is not None:
                deadline = min(deadline, self._retry_at)
            timeout = max(0.0, deadline - self.clock.now())
            if not self._requested:
                self._wake.clear()
                try:
                    await self.clock.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
                # Woken by a retry being scheduled, not yet due: go round and wait again.
                if (not self._requested and self._retry_at is not None and self.clock.now() < self._retry_at
                        and self.clock.now() < last_run + self.max_interval):
                    continue
            await self._wait_for_token()
            self._requested = False
            self._retry_at = None
            last_run = self.clock.now()
            self.runs += 1
            try:
                await self.fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync failed")
