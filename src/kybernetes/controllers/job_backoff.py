"""How long a Job waits before replacing failed pods: 10 s, doubling per failure, at most 6 min.

The controller remembers, per Job, how many pods failed since the last success and when the
last of them finished (a BackoffRecord, kept in memory as Kubernetes keeps it). A success resets
the count. Before creating pods it asks ``remaining``: while the delay since the last failure has
not passed, it creates nothing and looks again when it has.

A pod's finish time is the latest finishedAt of its terminated containers; failing that, when
its Ready condition turned False; failing that, its deletion time minus its grace period; and
last of all its creation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.api.meta import parse_rfc3339

Obj = dict[str, Any]

DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure_time: datetime | None = None


class BackoffStore:
    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def get(self, key: str) -> BackoffRecord:
        return self._records.get(key, BackoffRecord())

    def update(self, key: str, record: BackoffRecord) -> None:
        self._records[key] = record

    def remove(self, key: str) -> None:
        self._records.pop(key, None)

    def new_record(self, key: str, new_succeeded: list[Obj], new_failed: list[Obj]) -> BackoffRecord:
        """The record after counting pods that finished since the last sync."""
        old = self.get(key)
        if not new_failed:
            return BackoffRecord() if new_succeeded else old
        failed_times = sorted(finished_time(p) for p in new_failed)
        if not new_succeeded:
            return BackoffRecord(old.failures_after_last_success + len(failed_times), failed_times[-1])
        last_success = max(finished_time(p) for p in new_succeeded)
        after = [t for t in failed_times if t > last_success]
        return BackoffRecord(len(after), after[-1] if after else None)


def remaining(record: BackoffRecord, now: datetime, base: float = DEFAULT_BACKOFF,
              maximum: float = MAX_BACKOFF) -> float:
    """Seconds still to wait before creating pods again (0: go ahead)."""
    return remaining_for_failures(record.failures_after_last_success, record.last_failure_time, now, base, maximum)


def remaining_for_failures(failures: int, last_failure: datetime | None, now: datetime,
                           base: float = DEFAULT_BACKOFF, maximum: float = MAX_BACKOFF) -> float:
    if failures <= 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= maximum:
            delay = maximum
            break
    elapsed = (now - last_failure).total_seconds()
    return max(0.0, delay - elapsed)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def finished_time(pod: Obj) -> datetime:
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    latest: datetime | None = None
    containers = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    for container in containers:
        finished = _time((((container.get("state") or {}).get("terminated")) or {}).get("finishedAt"))
        if finished is None:
            latest = None
            break
        latest = finished if latest is None or finished > latest else latest
    if latest is not None:
        return latest
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready" and cond.get("status") == "False":
            moment = _time(cond.get("lastTransitionTime"))
            if moment is not None:
                return moment
    deleted = _time(meta.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
    return _time(meta.get("creationTimestamp")) or _EPOCH
