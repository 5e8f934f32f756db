"""One sync of one Job (Kubernetes' syncJob): decide, act, record.

    1. read the Job and its pods from the caches; count pods newly Succeeded / Failed
    2. decide whether it is finishing:
         SuccessCriteriaMet already set                       -> completing
         FailureTarget already set, or a FailJob rule matched  -> failing (PodFailurePolicy)
         failures > backoffLimit (or container restarts with
           restartPolicy OnFailure)                            -> failing (BackoffLimitExceeded)
         active longer than activeDeadlineSeconds             -> failing (DeadlineExceeded)
         Indexed: too many failed indexes, successPolicy met   -> failing / completing
    3. finishing: delete the active pods. Otherwise manage the pods (job_manage) and check
       whether enough succeeded; flip the Suspended condition when spec.suspend changed
    4. count finished pods and remove their finalizers (job_tracking); add Complete / Failed
       once no pod is left running
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kybernetes.api.meta import deep_copy, format_rfc3339, parse_rfc3339
from kybernetes.controllers import job_conditions as jc
from kybernetes.controllers import job_indexes, job_pods, podutil
from kybernetes.controllers.job_backoff import finished_time
from kybernetes.controllers.job_failure_policy import FAIL_INDEX, match_pod_failure_policy
from kybernetes.controllers.job_indexes import Indexes
from kybernetes.controllers.job_manage import delete_active_pods, manage_job
from kybernetes.controllers.job_state import JobSync, count, uncounted_lists
from kybernetes.controllers.job_tracking import track_status

if TYPE_CHECKING:
    from kybernetes.controllers.job_controller import JobController

log = logging.getLogger(__name__)

Obj = dict[str, Any]

JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"


def managed_elsewhere(job: Obj) -> bool:
    managed_by = (job.get("spec") or {}).get("managedBy")
    return managed_by is not None and managed_by != JOB_CONTROLLER_NAME


async def sync_job(ctrl: JobController, key: str) -> None:
    shared = ctrl.jobs.get(key)
    if shared is None:
        ctrl.expectations.forget(key)
        ctrl.finalizer_expectations.forget(key)
        ctrl.backoff.remove(key)
        return
    if managed_elsewhere(shared):
        return
    if jc.is_job_finished(shared):
        ctrl.backoff.remove(key)
        return
    job = deep_copy(shared)
    job.setdefault("apiVersion", "batch/v1")
    job.setdefault("kind", "Job")
    if (job.get("spec") or {}).get("completionMode") not in (None, "NonIndexed", "Indexed"):
        await ctrl.events.warning(job, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
        return
    status = job.setdefault("status", {})
    uncounted = uncounted_lists(status)
    satisfied = ctrl.expectations.satisfied(key)
    pods = await ctrl.pods_for_job(job)
    active_pods = [p for p in pods if podutil.is_pod_active(p)]
    s = JobSync(key=key, job=job, pods=pods, active_pods=active_pods,
                ready=sum(1 for p in active_pods if podutil.is_pod_ready(p)),
                terminating=sum(1 for p in pods if job_pods.is_pod_terminating(p)),
                uncounted_succeeded=set(uncounted["succeeded"]), uncounted_failed=set(uncounted["failed"]),
                expected_removed_finalizers=ctrl.finalizer_expectations.expected(key))
    now = ctrl.clock.wall()
    new_succeeded = _new_finished_pods(s, s.uncounted_succeeded, lambda p: job_pods.phase(p) == "Succeeded")
    new_failed = _new_finished_pods(s, s.uncounted_failed, lambda p: job_pods.is_pod_failed(p, job))
    policy = s.spec.get("podFailurePolicy")
    s.succeeded = count(status, "succeeded") + len(new_succeeded) + len(s.uncounted_succeeded)
    s.failed = (count(status, "failed") + sum(1 for p in new_failed if match_pod_failure_policy(policy, p).counts)
                + len(s.uncounted_failed))
    if not status.get("startTime") and not s.suspended:
        status["startTime"] = format_rfc3339(now)
    s.new_backoff = ctrl.backoff.new_record(key, new_succeeded, new_failed)
    _decide_finish(ctrl, s, now)
    if job_indexes.is_indexed(job):
        _index_bookkeeping(s, now)
    suspend_changed = False
    active = len(active_pods)
    error: Exception | None = None
    if s.finished is not None:
        ready, deleted, error = await delete_active_pods(ctrl, s, active_pods)
        if deleted != active or not satisfied:
            s.finished = None  # pods still to go, or not yet seen: finish in a later sync
        active -= deleted
        s.terminating += deleted
        s.ready -= ready
    else:
        managed = False
        if satisfied and not (job.get("metadata") or {}).get("deletionTimestamp"):
            active, error = await manage_job(ctrl, s)
            managed = True
        completions = s.completions
        if completions is None:
            complete = s.succeeded > 0 and active == 0
        else:
            complete = s.succeeded >= completions and active == 0
        if complete:
            s.finished = jc.new_condition(jc.SUCCESS_CRITERIA_MET, "True", jc.REASON_COMPLETIONS_REACHED,
                                          jc.MESSAGE_COMPLETIONS_REACHED, now)
        elif managed:
            suspend_changed = await _suspend_condition(ctrl, s, now)
    status = s.status
    needs_update = (suspend_changed or active != count(status, "active") or status.get("ready") != s.ready
                    or status.get("terminating") != s.terminating)
    status["active"] = active
    status["ready"] = s.ready
    status["terminating"] = s.terminating
    await track_status(ctrl, s, needs_update)
    if error is not None:
        raise error


def _new_finished_pods(s: JobSync, uncounted: set[str], finished) -> list[Obj]:
    """Pods that finished and are not counted yet: they still have the finalizer, are not in the
    uncounted list already, and (Indexed) have a valid index."""
    completions = s.completions or 0
    indexed = job_indexes.is_indexed(s.job)
    out = []
    for pod in s.pods:
        pod_uid = job_pods.uid(pod)
        if (not job_pods.has_tracking_finalizer(pod) or pod_uid in uncounted
                or pod_uid in s.expected_removed_finalizers):
            continue
        if indexed and job_indexes.valid_index(pod, completions) == job_indexes.UNKNOWN_INDEX:
            continue
        if finished(pod):
            out.append(pod)
    return out


def _decide_finish(ctrl: JobController, s: JobSync, now) -> None:
    existing_success = jc.find_condition(s.job, jc.SUCCESS_CRITERIA_MET)
    if existing_success is not None and existing_success.get("status") == "True":
        s.finished = existing_success
        return
    target = jc.find_condition(s.job, jc.FAILURE_TARGET)
    if target is not None and target.get("status") == "True":
        s.finished = jc.new_condition(jc.FAILED, "True", target.get("reason", ""), target.get("message", ""), now)
        return
    message = _fail_job_message(s)
    if message is not None:
        s.finished = jc.new_condition(jc.FAILURE_TARGET, "True", jc.REASON_POD_FAILURE_POLICY, message, now)
        return
    spec = s.spec
    backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
    if s.failed > backoff_limit or job_pods.restarts_on_failure(s.job, s.pods):
        s.finished = jc.new_condition(jc.FAILURE_TARGET, "True", jc.REASON_BACKOFF_LIMIT, jc.MESSAGE_BACKOFF_LIMIT, now)
        return
    deadline = spec.get("activeDeadlineSeconds")
    started = s.status.get("startTime")
    if deadline is None or s.suspended or not started:
        return
    elapsed = (now - parse_rfc3339(started)).total_seconds()
    if elapsed >= int(deadline):
        s.finished = jc.new_condition(jc.FAILURE_TARGET, "True", jc.REASON_DEADLINE, jc.MESSAGE_DEADLINE, now)
    else:
        ctrl.requeue_after(s.key, int(deadline) - elapsed)


def _fail_job_message(s: JobSync) -> str | None:
    policy = s.spec.get("podFailurePolicy")
    if policy is None:
        return None
    for pod in s.pods:
        if job_pods.is_pod_failed(pod, s.job):
            message = match_pod_failure_policy(policy, pod).fail_job_message
            if message is not None:
                return message
    return None


def _index_bookkeeping(s: JobSync, now) -> None:
    completions = s.completions or 0
    s.prev_succeeded_indexes = Indexes.parse(s.status.get("completedIndexes"), completions)
    s.succeeded_indexes = s.prev_succeeded_indexes.with_indexes(
        ix for ix in (job_indexes.valid_index(p, completions) for p in s.pods
                      if job_pods.phase(p) == "Succeeded" and job_pods.has_tracking_finalizer(p))
        if ix != job_indexes.UNKNOWN_INDEX)
    s.succeeded = s.succeeded_indexes.total()
    if s.per_index_backoff:
        s.failed_indexes = _failed_indexes(s, completions)
        if s.finished is None:
            max_failed = s.spec.get("maxFailedIndexes")
            failed_total = s.failed_indexes.total()
            if max_failed is not None and failed_total > int(max_failed):
                s.finished = jc.new_condition(jc.FAILURE_TARGET, "True", jc.REASON_MAX_FAILED_INDEXES,
                                              jc.MESSAGE_MAX_FAILED_INDEXES, now)
            elif failed_total > 0 and failed_total + s.succeeded_indexes.total() >= completions:
                s.finished = jc.new_condition(jc.FAILURE_TARGET, "True", jc.REASON_FAILED_INDEXES,
                                              jc.MESSAGE_FAILED_INDEXES, now)
        s.delayed_deletion = _pods_with_delayed_deletion(s, completions)
    if s.finished is None:
        message = _success_policy_message(s.spec.get("successPolicy"), completions, s.succeeded_indexes)
        if message is not None:
            s.finished = jc.new_condition(jc.SUCCESS_CRITERIA_MET, "True", jc.REASON_SUCCESS_POLICY, message, now)


def _failed_indexes(s: JobSync, completions: int) -> Indexes:
    previous = Indexes.parse(s.status.get("failedIndexes"), completions)
    limit = int(s.spec.get("backoffLimitPerIndex") or 0)
    policy = s.spec.get("podFailurePolicy")
    failed: set[int] = set()
    for pod in s.pods:
        ix = job_indexes.valid_index(pod, completions)
        if ix == job_indexes.UNKNOWN_INDEX or not job_pods.has_tracking_finalizer(pod):
            continue
        if not job_pods.is_pod_failed(pod, s.job):
            continue
        match = match_pod_failure_policy(policy, pod)
        if match.action == FAIL_INDEX or (match.counts and job_indexes.index_failure_count(pod) >= limit):
            failed.add(ix)
    return previous.with_indexes(failed)


def _pods_with_delayed_deletion(s: JobSync, completions: int) -> dict[int, Obj]:
    """Per index, the last failed pod, kept (finalizer on) until its replacement exists so the
    replacement can carry the index's failure count forward."""
    active_indexes = job_indexes.indexes_of(s.active_pods)
    kept: dict[int, Obj] = {}
    for pod in s.pods:
        if not job_pods.has_tracking_finalizer(pod) or job_pods.uid(pod) in s.expected_removed_finalizers:
            continue
        if not job_pods.is_pod_failed(pod, s.job):
            continue
        ix = job_indexes.valid_index(pod, completions)
        if ix == job_indexes.UNKNOWN_INDEX or ix in active_indexes or s.succeeded_indexes.has(ix):
            continue
        if s.failed_indexes is not None and s.failed_indexes.has(ix):
            continue
        previous = kept.get(ix)
        if previous is None or (_absolute_failures(previous) <= _absolute_failures(pod)
                                and finished_time(pod) >= finished_time(previous)):
            kept[ix] = pod
    return kept


def _absolute_failures(pod: Obj) -> int:
    return job_indexes.index_failure_count(pod) + job_indexes.index_ignored_failure_count(pod)


def _success_policy_message(policy: Any, completions: int, succeeded: Indexes) -> str | None:
    if not isinstance(policy, dict):
        return None
    for index, rule in enumerate(policy.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        wanted = rule.get("succeededCount")
        if rule.get("succeededIndexes"):
            rule_indexes = Indexes.parse(rule["succeededIndexes"], completions)
            matched = sum(1 for first, last in rule_indexes.intervals for ix in range(first, last + 1)
                          if succeeded.has(ix))
            if (wanted is None and matched == rule_indexes.total()) or (wanted is not None and matched >= wanted):
                return f"Matched rules at index {index}"
        elif wanted is not None and succeeded.total() >= int(wanted):
            return f"Matched rules at index {index}"
    return None


async def _suspend_condition(ctrl: JobController, s: JobSync, now) -> bool:
    if s.suspended:
        changed = jc.ensure_condition(s.job, jc.SUSPENDED, "True", "JobSuspended", "Job suspended", now)
        if changed:
            await ctrl.events.normal(s.job, "Suspended", "Job suspended")
        return changed
    changed = jc.ensure_condition(s.job, jc.SUSPENDED, "False", "JobResumed", "Job resumed", now)
    if changed:
        await ctrl.events.normal(s.job, "Resumed", "Job resumed")
        # The deadline counts the time a Job runs without a break: resuming restarts the clock.
        s.status["startTime"] = format_rfc3339(now)
    return changed
