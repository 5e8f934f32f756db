"""Keeping the right number of a Job's pods running (manageJob).

    suspended                     delete every active pod (finalizer removed first: they are
                                  not failures, and the Job will not count them)
    too many active               delete the least valuable surplus (and, for an Indexed Job,
                                  duplicates of an index and pods without a valid index)
    too few active                wait out the failure backoff (10 s doubling to 6 min), then
                                  create the missing pods in slow-start batches 1, 2, 4, ...;
                                  an Indexed Job creates the lowest indexes not running or done

    wanted = min(parallelism, completions - succeeded)        (completions set)
           = parallelism until one pod succeeds, then no more  (completions unset: work queue)

Never more than 500 creations or deletions a sync, and never both in one sync.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kybernetes.api.errors import ApiError
from kybernetes.client.indexer import object_key
from kybernetes.client.resource import PODS
from kybernetes.controllers import job_backoff, job_indexes, job_pods, podutil
from kybernetes.controllers.job_failure_policy import match_pod_failure_policy
from kybernetes.controllers.job_state import JobSync

if TYPE_CHECKING:
    from kybernetes.controllers.job_controller import JobController

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MAX_POD_CREATE_DELETE_PER_SYNC = 500


async def manage_job(ctrl: JobController, s: JobSync) -> tuple[int, Exception | None]:
    """Create or delete pods; the number of active pods afterwards, and the first error."""
    active = len(s.active_pods)
    spec = s.spec
    if s.suspended:
        victims = pods_for_removal(ctrl, s, s.active_pods, active)
        ctrl.expectations.expect_deletions(s.key, [object_key(p) for p in victims])
        ready, removed, error = await delete_job_pods(ctrl, s, victims)
        s.terminating += removed
        s.ready -= ready
        return active - removed, error
    parallelism = int(spec.get("parallelism") or 0)
    completions = s.completions
    if completions is None:
        wanted = active if s.succeeded > 0 else parallelism
    else:
        wanted = max(0, min(completions - s.succeeded, parallelism))
    victims = pods_for_removal(ctrl, s, s.active_pods, max(0, active - wanted))[:MAX_POD_CREATE_DELETE_PER_SYNC]
    if victims:
        ctrl.expectations.expect_deletions(s.key, [object_key(p) for p in victims])
        ready, removed, error = await delete_job_pods(ctrl, s, victims)
        s.terminating += removed
        s.ready -= ready
        return active - removed, error
    terminating = s.terminating if job_pods.only_replace_failed_pods(s.job) else 0
    missing = wanted - terminating - active
    if missing <= 0:
        return active, None
    if not s.per_index_backoff:
        wait = job_backoff.remaining(s.new_backoff, ctrl.clock.wall())
        if wait > 0:
            ctrl.requeue_after(s.key, wait)
            return active, None
    missing = min(missing, MAX_POD_CREATE_DELETE_PER_SYNC)
    indexes: list[int] = []
    if job_indexes.is_indexed(s.job):
        indexes = _first_pending_indexes(s, missing, completions or 0)
        if s.per_index_backoff:
            indexes, wait = _indexes_ready_to_create(ctrl, s, indexes)
            if wait > 0:
                ctrl.requeue_after(s.key, wait)
                return active, None
        missing = len(indexes)
    created, error = await _create_pods(ctrl, s, missing, indexes)
    return active + created, error


def pods_for_removal(ctrl: JobController, s: JobSync, pods: list[Obj], at_least: int) -> list[Obj]:
    now = ctrl.clock.wall()

    def order(pod: Obj) -> tuple[Any, ...]:
        return podutil.deletion_order_key(pod, 0, now)

    if job_indexes.is_indexed(s.job):
        remove, keep = job_indexes.duplicated_index_pods(pods, s.completions or 0, order)
    else:
        remove, keep = [], list(pods)
    if len(remove) < at_least:
        remove += sorted(keep, key=order)[:at_least - len(remove)]
    return remove


def _first_pending_indexes(s: JobSync, count: int, completions: int) -> list[int]:
    non_pending = s.succeeded_indexes.with_indexes(job_indexes.indexes_of(s.active_pods))
    if job_pods.only_replace_failed_pods(s.job):
        terminating = [p for p in s.pods if job_pods.is_pod_terminating(p)]
        non_pending = non_pending.with_indexes(job_indexes.indexes_of(terminating))
    if s.failed_indexes is not None:
        non_pending = non_pending.merge(s.failed_indexes)
    return job_indexes.first_pending_indexes(count, completions, non_pending)


def _indexes_ready_to_create(ctrl: JobController, s: JobSync, indexes: list[int]) -> tuple[list[int], float]:
    """With backoffLimitPerIndex each index waits out its own backoff."""
    now = ctrl.clock.wall()
    ready: list[int] = []
    shortest: float | None = None
    for ix in indexes:
        previous = s.delayed_deletion.get(ix)
        wait = 0.0
        if previous is not None:
            failures = job_indexes.index_failure_count(previous) + job_indexes.index_ignored_failure_count(previous) + 1
            wait = job_backoff.remaining_for_failures(failures, job_backoff.finished_time(previous), now)
        if wait == 0:
            ready.append(ix)
        elif shortest is None or wait < shortest:
            shortest = wait
    return (ready, 0.0) if ready else (ready, shortest or 0.0)


def _failure_counts(s: JobSync, index: int) -> tuple[int, int]:
    previous = s.delayed_deletion.get(index)
    if previous is None:
        return 0, 0
    failed = job_indexes.index_failure_count(previous)
    ignored = job_indexes.index_ignored_failure_count(previous)
    if match_pod_failure_policy(s.spec.get("podFailurePolicy"), previous).counts:
        failed += 1
    else:
        ignored += 1
    return failed, ignored


async def _create_pods(ctrl: JobController, s: JobSync, count: int, indexes: list[int]) -> tuple[int, Exception | None]:
    """Create ``count`` pods in slow-start batches; how many were created, and the first error."""
    ctrl.expectations.expect_creations(s.key, count)
    template = job_pods.pod_template_for_job(s.job)
    pending = list(indexes)
    created = 0
    attempted = 0
    error: Exception | None = None
    for size in podutil.slow_start_batches(count):
        batch: list[Obj] = []
        for _ in range(size):
            index = pending.pop(0) if pending else job_indexes.UNKNOWN_INDEX
            counts = _failure_counts(s, index) if s.per_index_backoff and index >= 0 else None
            batch.append(job_pods.pod_for_index(s.job, template, index, counts))
        attempted += size
        results = await asyncio.gather(*(_create_one(ctrl, s, pod) for pod in batch), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        created += sum(1 for r in results if r is True)
        skipped_quietly = sum(1 for r in results if r is False)
        if skipped_quietly:
            ctrl.expectations.lower_creations(s.key, skipped_quietly)
        if failures:
            ctrl.expectations.lower_creations(s.key, len(failures))
            first = failures[0]
            error = first if isinstance(first, Exception) else RuntimeError(str(first))
            break
    if count > attempted:
        ctrl.expectations.lower_creations(s.key, count - attempted)  # skipped after a failure
    return created, error


async def _create_one(ctrl: JobController, s: JobSync, pod: Obj) -> bool:
    namespace = (s.job.get("metadata") or {}).get("namespace")
    try:
        created = await ctrl.client.create(PODS, pod, namespace)
    except ApiError as e:
        if e.code == 403 and "being terminated" in (e.message or ""):
            return False  # the namespace is going away: every creation would fail
        await ctrl.events.warning(s.job, "FailedCreate", f"Error creating: {e.message}")
        raise
    await ctrl.events.normal(s.job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
    return True


async def delete_job_pods(ctrl: JobController, s: JobSync, pods: list[Obj]) -> tuple[int, int, Exception | None]:
    """Remove the tracking finalizer, then delete: pods the Job no longer wants and will not count.
    Returns (ready pods deleted, pods deleted, first error)."""
    return await _delete(ctrl, s, pods, remove_finalizer=True)


async def delete_active_pods(ctrl: JobController, s: JobSync, pods: list[Obj]) -> tuple[int, int, Exception | None]:
    """Delete the pods of a finishing Job, keeping the finalizer so each is still counted (as failed)."""
    return await _delete(ctrl, s, pods, remove_finalizer=False)


async def _delete(ctrl: JobController, s: JobSync, pods: list[Obj], remove_finalizer: bool):
    async def delete(pod: Obj) -> bool:
        meta = pod.get("metadata") or {}
        name, namespace = meta.get("name", ""), meta.get("namespace")
        try:
            if remove_finalizer and job_pods.has_tracking_finalizer(pod):
                await ctrl.client.patch(PODS, name, job_pods.remove_finalizer_patch(), namespace,
                                        patch_type="strategic")
            await ctrl.client.delete(PODS, name, namespace)
        except ApiError as e:
            if remove_finalizer:
                ctrl.expectations.deletion_observed(s.key, object_key(pod))  # never coming
            if e.code == 404:
                return podutil.is_pod_ready(pod)
            await ctrl.events.warning(s.job, "FailedDelete", f"Error deleting: {e.message}")
            raise
        await ctrl.events.normal(s.job, "SuccessfulDelete", f"Deleted pod: {name}")
        return podutil.is_pod_ready(pod)

    results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
    deleted = [r for r in results if isinstance(r, bool)]
    errors = [r for r in results if isinstance(r, Exception)]
    return sum(1 for r in deleted if r), len(deleted), (errors[0] if errors else None)
