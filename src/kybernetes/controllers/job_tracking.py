"""Counting finished pods without losing or doubling any, with the job-tracking finalizer.

A finished pod goes through three steps, each durable before the next (Kubernetes' protocol):

    1. its uid is written to status.uncountedTerminatedPods.{succeeded,failed}   (status update)
    2. its batch.kubernetes.io/job-tracking finalizer is removed                (pod patch)
    3. uids whose pod no longer has the finalizer move from the lists to
       status.succeeded / status.failed                                         (status update)

A crash between any two steps repeats the step, never the count: a uid already listed is not
listed again, and a pod without the finalizer is never counted from its phase again. Indexed
Jobs skip step 1 for successes: the index in status.completedIndexes is the record.

The informer may not yet show a removed finalizer; ``FinalizerExpectations`` remembers the pods
whose removal we asked for, so a later sync does not take them for uncounted.

The Job is finished (Complete / Failed appended, events recorded) only when nothing is left
uncounted and no pod is still terminating.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import JOBS, PODS
from kybernetes.controllers import job_conditions as jc
from kybernetes.controllers import job_indexes, job_pods
from kybernetes.controllers.job_failure_policy import match_pod_failure_policy
from kybernetes.controllers.job_state import (
    JobSync,
    clean_uncounted,
    count,
    serialised_status,
    uncounted_lists,
)

if TYPE_CHECKING:
    from kybernetes.controllers.job_controller import JobController

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MAX_UNCOUNTED_PODS = 500


class FinalizerExpectations:
    """Per Job key, the pod uids whose finalizer removal was requested but not yet observed."""

    def __init__(self) -> None:
        self._uids: dict[str, set[str]] = {}

    def expect_removed(self, key: str, uids: list[str]) -> None:
        self._uids.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        uids = self._uids.get(key)
        if uids is not None:
            uids.discard(uid)
            if not uids:
                del self._uids[key]

    def expected(self, key: str) -> set[str]:
        return set(self._uids.get(key, ()))

    def forget(self, key: str) -> None:
        self._uids.pop(key, None)


async def update_status(ctrl: JobController, job: Obj) -> Obj:
    body = dict(job)
    body["status"] = serialised_status(job.get("status") or {})
    return await ctrl.client.update_status(JOBS, body)


async def track_status(ctrl: JobController, s: JobSync, needs_flush: bool) -> None:
    """Count finished pods, remove their finalizers, and finish the Job when it is done."""
    job = s.job
    status = s.status
    indexed = job_indexes.is_indexed(job)
    completions = s.completions or 0
    uncounted = uncounted_lists(status)
    pods = sorted(s.pods, key=job_indexes.completion_index) if indexed else list(s.pods)
    with_finalizer = {job_pods.uid(p) for p in s.pods
                      if job_pods.has_tracking_finalizer(p) and job_pods.uid(p) not in s.expected_removed_finalizers}
    old_counters = (count(status, "succeeded"), count(status, "failed"))
    needs_flush = clean_uncounted(status, with_finalizer) or needs_flush
    policy = s.spec.get("podFailurePolicy")
    to_remove: list[Obj] = []
    new_indexes: list[int] = []
    reached_max = False
    for pod in pods:
        pod_uid = job_pods.uid(pod)
        if not job_pods.has_tracking_finalizer(pod) or pod_uid in s.expected_removed_finalizers:
            continue  # counted in an earlier sync
        failed = job_pods.is_pod_failed(pod, job)
        if not _can_remove_finalizer(s, pod, failed):
            continue
        to_remove.append(pod)
        if job_pods.phase(pod) == "Succeeded" and pod_uid not in s.uncounted_failed:
            if indexed:
                ix = job_indexes.valid_index(pod, completions)
                if ix != job_indexes.UNKNOWN_INDEX and not s.prev_succeeded_indexes.has(ix):
                    new_indexes.append(ix)
                    needs_flush = True
            elif pod_uid not in s.uncounted_succeeded:
                uncounted["succeeded"].append(pod_uid)
                needs_flush = True
        elif failed or (s.finished is not None and s.finished.get("type") != jc.SUCCESS_CRITERIA_MET):
            # When the Job is finishing, every pod that did not succeed counts as failed.
            valid = not indexed or job_indexes.valid_index(pod, completions) != job_indexes.UNKNOWN_INDEX
            if pod_uid not in s.uncounted_failed and valid and match_pod_failure_policy(policy, pod).counts:
                uncounted["failed"].append(pod_uid)
                needs_flush = True
        if len(new_indexes) + len(uncounted["succeeded"]) + len(uncounted["failed"]) >= MAX_UNCOUNTED_PODS:
            reached_max = True  # the rest next sync: keeps status small and big Jobs from starving others
            break
    if indexed:
        needs_flush = _record_indexes(s, new_indexes) or needs_flush
    now = ctrl.clock.wall()
    if s.finished is not None and s.finished.get("type") == jc.FAILURE_TARGET:
        status.setdefault("conditions", []).append(s.finished)
        needs_flush = True
        s.finished = jc.new_condition(jc.FAILED, "True", s.finished.get("reason", ""),
                                      s.finished.get("message", ""), now)
    if s.finished is not None and s.finished.get("type") == jc.SUCCESS_CRITERIA_MET:
        if jc.find_condition(job, jc.SUCCESS_CRITERIA_MET) is None:
            status.setdefault("conditions", []).append(s.finished)
            needs_flush = True
        s.finished = jc.new_condition(jc.COMPLETE, "True", s.finished.get("reason", ""),
                                      s.finished.get("message", ""), now)
    needs_flush = await _flush_and_remove_finalizers(ctrl, s, to_remove, with_finalizer, needs_flush)
    finished = not reached_max and _enact_finished(s, now)
    if needs_flush or finished:
        s.job = await update_status(ctrl, s.job)
        if finished:
            await _record_finished(ctrl, s)
    if (count(s.status, "succeeded"), count(s.status, "failed")) != old_counters:
        log.debug("job %s: succeeded %d failed %d", s.key, count(s.status, "succeeded"), count(s.status, "failed"))


def _record_indexes(s: JobSync, new_indexes: list[int]) -> bool:
    status = s.status
    changed = False
    s.succeeded_indexes = s.succeeded_indexes.with_indexes(new_indexes)
    text = str(s.succeeded_indexes)
    if text != (status.get("completedIndexes") or ""):
        changed = True
    status["succeeded"] = s.succeeded_indexes.total()
    status["completedIndexes"] = text
    failed_text = str(s.failed_indexes) if s.failed_indexes is not None else None
    if failed_text != status.get("failedIndexes"):
        if failed_text is None:
            status.pop("failedIndexes", None)
        else:
            status["failedIndexes"] = failed_text
        changed = True
    return changed


def _can_remove_finalizer(s: JobSync, pod: Obj, failed: bool) -> bool:
    if (s.job.get("metadata") or {}).get("deletionTimestamp") or s.finished is not None:
        return True
    if job_pods.phase(pod) == "Succeeded":
        return True
    if not failed:
        return False
    if s.per_index_backoff:
        kept = s.delayed_deletion.get(job_indexes.completion_index(pod))
        if kept is not None and job_pods.uid(kept) == job_pods.uid(pod):
            return False  # kept until its replacement carries the index's failure count
    return True


async def _flush_and_remove_finalizers(ctrl: JobController, s: JobSync, to_remove: list[Obj],
                                       with_finalizer: set[str], needs_flush: bool) -> bool:
    """Steps 1-3 above; returns whether the status still has unwritten changes."""
    if needs_flush:
        s.job = await update_status(ctrl, s.job)
        ctrl.backoff.update(s.key, s.new_backoff)
        needs_flush = False
    error: Exception | None = None
    if to_remove:
        removed, error = await remove_tracking_finalizers(ctrl, s.key, to_remove)
        with_finalizer -= removed
    if clean_uncounted(s.status, with_finalizer):
        needs_flush = True
    if error is not None:
        if needs_flush:
            s.job = await update_status(ctrl, s.job)  # keep the partial progress
        raise error
    return needs_flush


async def remove_tracking_finalizers(ctrl: JobController, key: str, pods: list[Obj]) -> tuple[set[str], Exception | None]:
    """Patch the finalizer off each pod; the uids done (a pod already gone counts as done)."""
    uids = [job_pods.uid(p) for p in pods]
    if key:
        ctrl.finalizer_expectations.expect_removed(key, uids)

    async def remove(pod: Obj) -> str:
        meta = pod.get("metadata") or {}
        try:
            await ctrl.client.patch(PODS, meta.get("name", ""), job_pods.remove_finalizer_patch(),
                                    meta.get("namespace"), patch_type="strategic")
        except ApiError as e:
            if key:
                ctrl.finalizer_expectations.observed(key, job_pods.uid(pod))
            if e.code != 404:
                raise
        return job_pods.uid(pod)

    results = await asyncio.gather(*(remove(p) for p in pods), return_exceptions=True)
    done = {r for r in results if isinstance(r, str)}
    errors = [r for r in results if isinstance(r, Exception)]
    return done, (errors[0] if errors else None)


def _enact_finished(s: JobSync, now) -> bool:
    if s.finished is None:
        return False
    uncounted = uncounted_lists(s.status)
    if uncounted["succeeded"] or uncounted["failed"]:
        return False  # finish only once every pod is counted
    if s.terminating > 0:
        return False  # and once no pod is still running its last seconds
    cond = s.finished
    jc.ensure_condition(s.job, cond["type"], cond["status"], cond.get("reason", ""), cond.get("message", ""), now)
    if cond["type"] == jc.COMPLETE:
        s.status["completionTime"] = jc.find_condition(s.job, jc.COMPLETE)["lastTransitionTime"]
    return True


async def _record_finished(ctrl: JobController, s: JobSync) -> None:
    cond = s.finished or {}
    job = s.job
    if cond.get("type") == jc.COMPLETE:
        completions = s.completions
        if completions is not None and count(s.status, "succeeded") > completions:
            await ctrl.events.warning(job, "TooManySucceededPods",
                                      "Too many succeeded pods running after completion count reached")
        await ctrl.events.normal(job, "Completed", "Job completed")
    else:
        await ctrl.events.warning(job, cond.get("reason", "Failed"), cond.get("message", ""))
