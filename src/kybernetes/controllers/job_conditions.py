"""A Job's status conditions and the words Kubernetes uses in them.

The life of a Job as its conditions tell it (Kubernetes 1.31 and later):

    Suspended=True/False           spec.suspend flipped (reasons JobSuspended / JobResumed)
    SuccessCriteriaMet=True        enough pods succeeded; pods still terminating, finalizers pending
      └─► Complete=True            once nothing is left running: the Job is finished
    FailureTarget=True             backoff limit, deadline or a FailJob rule: the Job will fail
      └─► Failed=True              once its pods are gone: the Job is finished

The interim conditions come first so that a client seeing Complete or Failed knows every pod has
stopped; ``kubectl wait --for=condition=Complete`` looks the type up wherever it is in the list.
The CronJob and TTL controllers read "finished" from here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.meta import format_rfc3339, parse_rfc3339

Obj = dict[str, Any]

COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"

REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
REASON_DEADLINE = "DeadlineExceeded"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_FAILED_INDEXES = "FailedIndexes"
REASON_MAX_FAILED_INDEXES = "MaxFailedIndexesExceeded"
REASON_COMPLETIONS_REACHED = "CompletionsReached"
REASON_SUCCESS_POLICY = "SuccessPolicy"

MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"
MESSAGE_FAILED_INDEXES = "Job has failed indexes"
MESSAGE_MAX_FAILED_INDEXES = "Job has exceeded the specified maximal number of failed indexes"
MESSAGE_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"


def conditions(job: Obj) -> list[Obj]:
    return [c for c in ((job.get("status") or {}).get("conditions") or []) if isinstance(c, dict)]


def find_condition(job: Obj, cond_type: str) -> Obj | None:
    for cond in conditions(job):
        if cond.get("type") == cond_type:
            return cond
    return None


def has_true_condition(job: Obj, cond_type: str) -> bool:
    cond = find_condition(job, cond_type)
    return cond is not None and cond.get("status") == "True"


def new_condition(cond_type: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_rfc3339(now)
    cond: Obj = {"type": cond_type, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def ensure_condition(job: Obj, cond_type: str, status: str, reason: str, message: str, now: datetime) -> bool:
    """Set a condition on ``job`` (a private copy); True if that changed anything. A condition that
    does not exist yet is not added as "False" (from nothing to false means nothing)."""
    status_obj = job.setdefault("status", {})
    conds = status_obj.setdefault("conditions", [])
    for i, cond in enumerate(conds):
        if cond.get("type") == cond_type:
            if cond.get("status") != status or cond.get("reason", "") != reason or cond.get("message", "") != message:
                conds[i] = new_condition(cond_type, status, reason, message, now)
                return True
            return False
    if status == "False":
        if not conds:
            status_obj.pop("conditions", None)
        return False
    conds.append(new_condition(cond_type, status, reason, message, now))
    return True


def finished_condition(job: Obj) -> Obj | None:
    """The Complete=True or Failed=True condition of a finished Job."""
    for cond in conditions(job):
        if cond.get("type") in (COMPLETE, FAILED) and cond.get("status") == "True":
            return cond
    return None


def is_job_finished(job: Obj) -> bool:
    return finished_condition(job) is not None


def is_job_succeeded(job: Obj) -> bool:
    return has_true_condition(job, COMPLETE)


def job_finish_time(job: Obj) -> datetime | None:
    """When the Job finished: its Complete/Failed condition's lastTransitionTime."""
    cond = finished_condition(job)
    stamp = (cond or {}).get("lastTransitionTime")
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return parse_rfc3339(stamp)
    except ValueError:
        return None
