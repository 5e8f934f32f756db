"""A token bucket: at most ``burst`` requests at once, refilled at ``qps`` per second.

Kubernetes' controllers talk to the apiserver through such a bucket (client-go's default for
controller-manager: 20 QPS burst 30; the brief's default here: 50/100) so a controller gone wild
cannot flood it. The work queue uses the same bucket to pace retries overall. ``reserve()`` takes
a token and says how long to wait before using it (tokens may go negative: a reservation is a
promise to wait), which is what a queue needs; ``acquire()`` waits that long on the Clock.
``qps=0`` means unlimited.
"""

from __future__ import annotations

from kybernetes.util.clock import REAL_CLOCK, Clock


class TokenBucket:
    def __init__(self, qps: float, burst: int, clock: Clock | None = None):
        if qps < 0 or burst < 0 or (qps > 0 and burst < 1):
            raise ValueError(f"a token bucket needs qps >= 0 and burst >= 1 (got qps={qps}, burst={burst})")
        self.qps = float(qps)
        self.burst = int(burst)
        self.clock = clock or REAL_CLOCK
        self._tokens = float(burst)
        self._last = self.clock.now()

    @property
    def unlimited(self) -> bool:
        return self.qps == 0

    def _refill(self) -> None:
        now = self.clock.now()
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now

    def tokens(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        if self.unlimited:
            return float("inf")
        self._refill()
        return self._tokens

    def try_acquire(self) -> bool:
        """Take a token if one is available now, without waiting."""
        if self.unlimited:
            return True
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def reserve(self) -> float:
        """Take a token; the seconds to wait before it may be used (0 if available now)."""
        if self.unlimited:
            return 0.0
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await self.clock.sleep(delay)
