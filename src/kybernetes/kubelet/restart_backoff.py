"""CrashLoopBackOff timing, as the kubelet does it (client-go's flowcontrol.Backoff).

Keyed by pod uid and container name. The first restart after an exit is immediate; each
further one waits twice as long as the last (10 s, 20 s, 40 s, ... capped at 5 min), counted from
the moment the container exited. Each restart is recorded at the time it happens; a container
that then ran for longer than twice the cap (10 min) before exiting again starts over: restarted
at once, with the next wait back at 10 s.

    exit ─► remaining(key, exited_at, now) > 0 ─► CrashLoopBackOff, ask again then
                                           == 0 ─► restarted(key, exited_at, now) ─► start it
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
        if self._expired(exited_at, updated):
            return 0.0
        return max(0.0, exited_at + backoff - now)

    def _expired(self, event_at: float, updated: float) -> bool:
        return event_at - updated > 2 * self.maximum

    def restarted(self, key: str, exited_at: float, now: float | None = None) -> float:
        """Record a restart, at ``now`` (default: ``exited_at``), of a container that exited at
        ``exited_at``; the wait the next restart will need."""
        entry = self._entries.get(key)
        if entry is None or self._expired(exited_at, entry[1]):
            backoff = self.initial
        else:
            backoff = min(entry[0] * 2, self.maximum)
        self._entries[key] = (backoff, exited_at if now is None else now)
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
