"""CrashLoopBackOff timing, as the kubelet does it (client-go's flowcontrol.Backoff).

Keyed by pod uid and container name. The first restart after an exit is immediate; each
further one waits twice as long as the last (10 s, 20 s, 40 s, ... capped at 5 min), counted from
the moment the container exited. A container that then ran for longer than twice the cap
(10 min) without a new failure starts again from 10 s.
"""

from __future__ import annotations

INITIAL = 10.0
MAXIMUM = 300.0


class RestartBackoff:
    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM):
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (backoff, last update)

    def remaining(self, key: str, exited_at: float, now: float) -> float:
        """Seconds still to wait before restarting a container that exited at ``exited_at``
        (0: restart now). Only ``restarted`` moves the backoff on."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        backoff, updated = entry
        if now - updated > 2 * self.maximum:
            return 0.0
        return max(0.0, exited_at + backoff - now)

    def restarted(self, key: str, exited_at: float) -> float:
        """Record a restart of a container that exited at ``exited_at``; the next backoff."""
        entry = self._entries.get(key)
        if entry is None or exited_at - entry[1] > 2 * self.maximum:
            backoff = self.initial
        else:
            backoff = min(entry[0] * 2, self.maximum)
        self._entries[key] = (backoff, exited_at)
        return backoff

    def remaining_since_last(self, key: str, now: float) -> float:
        """Seconds until the backoff recorded by the last ``restarted`` call runs out."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry[1] + entry[0] - now)

    def current(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._entries if k.startswith(uid + "/")]:
            del self._entries[key]
