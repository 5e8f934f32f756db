"""Indexed Jobs: completion indexes on pods, and sets of indexes as status writes them ("1,3-5").

Every pod of an Indexed Job carries its index 0..completions-1 in the annotation (and label)
batch.kubernetes.io/job-completion-index, has the hostname "<job>-<index>", a generateName of
"<job>-<index>-", and JOB_COMPLETION_INDEX in every container's environment (read from that label
by the kubelet). The Job is complete when every index has one succeeded pod.

Sets of indexes are kept as sorted, non-overlapping, non-adjacent intervals, so a million
completions cost a few bytes: status.completedIndexes "0-3,7" and status.failedIndexes. Two
adjacent indexes are written "3,4" rather than "3-4", as Kubernetes writes them.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Interval = tuple[int, int]  # (first, last), inclusive

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX = -1
MAX_GENERATED_NAME_LENGTH = 58  # 63 minus the five random characters generateName appends
MAX_INT32 = 2**31 - 1


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def completion_index(pod: Obj) -> int:
    """The pod's completion index from its annotation; UNKNOWN_INDEX if missing or garbled."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    if not isinstance(value, str) or not value.isdigit():
        return UNKNOWN_INDEX
    return int(value)


def valid_index(pod: Obj, completions: int) -> int:
    """The pod's index if it is in 0..completions-1, else UNKNOWN_INDEX."""
    ix = completion_index(pod)
    return ix if 0 <= ix < completions else UNKNOWN_INDEX


# -- interval sets -----------------------------------------------------------------------------------

class Indexes:
    """An ordered set of indexes as intervals."""

    __slots__ = ("intervals",)

    def __init__(self, intervals: Iterable[Interval] = ()):
        self.intervals: list[Interval] = list(intervals)

    @classmethod
    def parse(cls, text: str | None, completions: int) -> Indexes:
        """Read a status string, dropping what is garbled or not below ``completions``."""
        out: list[Interval] = []
        for part in (text or "").split(","):
            if not part:
                continue
            limits = part.split("-")
            try:
                first = int(limits[0])
                last = int(limits[1]) if len(limits) > 1 else first
            except ValueError:
                log.info("corrupted indexes interval %r, ignoring", part)
                continue
            if first >= completions:
                break
            last = min(last, completions - 1)
            if out and out[-1][1] == first - 1:
                out[-1] = (out[-1][0], last)
            else:
                out.append((first, last))
        return cls(out)

    def with_indexes(self, indexes: Iterable[int]) -> Indexes:
        return self.merge(Indexes((i, i) for i in sorted(set(indexes))))

    def merge(self, other: Indexes) -> Indexes:
        merged: list[Interval] = []
        for first, last in sorted(self.intervals + other.intervals):
            if merged and first <= merged[-1][1] + 1:
                if last > merged[-1][1]:
                    merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        return Indexes(merged)

    def total(self) -> int:
        return sum(last - first + 1 for first, last in self.intervals)

    def has(self, index: int) -> bool:
        pos = bisect.bisect_left(self.intervals, (index + 1, -1)) - 1
        return pos >= 0 and self.intervals[pos][0] <= index <= self.intervals[pos][1]

    def __str__(self) -> str:
        parts: list[str] = []
        for first, last in self.intervals:
            if last == first:
                parts.append(str(first))
            elif last == first + 1:
                parts.append(f"{first},{last}")
            else:
                parts.append(f"{first}-{last}")
        return ",".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Indexes) and self.intervals == other.intervals

    def __repr__(self) -> str:
        return f"Indexes({str(self)!r})"


def first_pending_indexes(count: int, completions: int, non_pending: Indexes) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` not in ``non_pending``."""
    result: list[int] = []
    candidate = 0
    for first, last in non_pending.intervals:
        while candidate < completions and len(result) < count and candidate < first:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(result) < count:
        result.append(candidate)
        candidate += 1
    return result


def indexes_of(pods: Iterable[Obj]) -> set[int]:
    return {ix for ix in (completion_index(p) for p in pods) if ix != UNKNOWN_INDEX}


def duplicated_index_pods(pods: list[Obj], completions: int, order_key) -> tuple[list[Obj], list[Obj]]:
    """Split active pods into (to remove, to keep): pods without a valid index go, and of several
    pods with the same index all but the best one (last in ``order_key`` order) go."""
    remove: list[Obj] = []
    by_index: dict[int, list[Obj]] = {}
    for pod in pods:
        ix = valid_index(pod, completions)
        if ix == UNKNOWN_INDEX:
            remove.append(pod)
        else:
            by_index.setdefault(ix, []).append(pod)
    keep: list[Obj] = []
    for ix in sorted(by_index):
        group = sorted(by_index[ix], key=order_key)
        remove.extend(group[:-1])
        keep.append(group[-1])
    return remove, keep


# -- pods of an indexed job -------------------------------------------------------------------------

def generate_name_with_index(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def add_completion_index_env(template_spec: Obj) -> None:
    """JOB_COMPLETION_INDEX from the index label, in every (init) container that lacks it."""
    for key in ("initContainers", "containers"):
        for container in template_spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            env = container.setdefault("env", [])
            if any(isinstance(v, dict) and v.get("name") == COMPLETION_INDEX_ENV for v in env):
                continue
            env.append({"name": COMPLETION_INDEX_ENV,
                        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}})


def index_failure_count(pod: Obj) -> int:
    return _count_annotation(pod, INDEX_FAILURE_COUNT)


def index_ignored_failure_count(pod: Obj) -> int:
    return _count_annotation(pod, INDEX_IGNORED_FAILURE_COUNT)


def _count_annotation(pod: Obj, name: str) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(name)
    if not isinstance(value, str) or not value.isdigit():
        return 0
    number = int(value)
    return number if number <= MAX_INT32 else 0
