"""What one sync of a Job works with: the Job (a private copy), its pods, and the running tallies.

Built by job_sync from the informer caches, changed in place by job_manage (pods created and
deleted) and job_tracking (pods counted, finalizers removed, conditions), then written as the
Job's status. Also the status shape Kubernetes serialises: active, succeeded and failed are left
out when zero, ready and terminating are always written, uncountedTerminatedPods is {} when
empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.controllers.job_backoff import BackoffRecord
from kybernetes.controllers.job_indexes import Indexes

Obj = dict[str, Any]


@dataclass
class JobSync:
    key: str
    job: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]  # as status.uncountedTerminatedPods listed them at the start
    uncounted_failed: set[str]
    expected_removed_finalizers: set[str]  # pod uids whose finalizer removal is not yet seen
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None  # the condition the Job is about to finish with
    prev_succeeded_indexes: Indexes = field(default_factory=Indexes)
    succeeded_indexes: Indexes = field(default_factory=Indexes)
    failed_indexes: Indexes | None = None
    new_backoff: BackoffRecord = field(default_factory=BackoffRecord)
    delayed_deletion: dict[int, Obj] = field(default_factory=dict)  # per index: failed pod kept

    @property
    def spec(self) -> Obj:
        return self.job.get("spec") or {}

    @property
    def status(self) -> Obj:
        return self.job.setdefault("status", {})

    @property
    def completions(self) -> int | None:
        value = self.spec.get("completions")
        return None if value is None else int(value)

    @property
    def suspended(self) -> bool:
        return bool(self.spec.get("suspend"))

    @property
    def per_index_backoff(self) -> bool:
        return self.spec.get("backoffLimitPerIndex") is not None


def count(status: Obj, field_name: str) -> int:
    return int(status.get(field_name) or 0)


def uncounted_lists(status: Obj) -> Obj:
    """status.uncountedTerminatedPods, created if missing, with both lists present."""
    uncounted = status.get("uncountedTerminatedPods")
    if not isinstance(uncounted, dict):
        uncounted = {}
        status["uncountedTerminatedPods"] = uncounted
    uncounted["succeeded"] = list(uncounted.get("succeeded") or [])
    uncounted["failed"] = list(uncounted.get("failed") or [])
    return uncounted


def clean_uncounted(status: Obj, uids_with_finalizer: set[str]) -> bool:
    """Move uncounted pods whose finalizer is gone into the counters; True if any moved."""
    uncounted = uncounted_lists(status)
    changed = False
    for name in ("succeeded", "failed"):
        keep = [u for u in uncounted[name] if u in uids_with_finalizer]
        if len(keep) != len(uncounted[name]):
            status[name] = count(status, name) + len(uncounted[name]) - len(keep)
            uncounted[name] = keep
            changed = True
    return changed


def serialised_status(status: Obj) -> Obj:
    """The status as the API writes it (zero counters and empty lists left out)."""
    out = dict(status)
    for name in ("active", "succeeded", "failed"):
        if not out.get(name):
            out.pop(name, None)
    for name in ("ready", "terminating"):
        out[name] = int(out.get(name) or 0)
    uncounted = out.get("uncountedTerminatedPods")
    if isinstance(uncounted, dict):
        out["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}
    if not out.get("conditions"):
        out.pop("conditions", None)
    if not out.get("completedIndexes"):
        out.pop("completedIndexes", None)
    return out
