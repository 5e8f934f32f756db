"""The pods of a Job: how they are made, and what their state counts as.

Every pod a Job creates carries the finalizer batch.kubernetes.io/job-tracking. It keeps the pod
object alive after it finished or was deleted until the controller has counted it in the Job's
status, so a pod removed by anyone (kubectl delete, pod GC, eviction) is never lost from
status.succeeded / status.failed. The controller removes the finalizer once the pod is counted.

A pod counts as failed when its phase is Failed, or (unless the Job replaces only Failed pods:
podReplacementPolicy Failed, implied by a podFailurePolicy) when it is being deleted before it
succeeded.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.meta import deep_copy
from kybernetes.controllers import job_indexes, podutil

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def remove_finalizer_patch() -> Obj:
    """Strategic merge patch dropping the tracking finalizer and leaving any others."""
    return {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def only_replace_failed_pods(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    if phase(pod) == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    # A deleted pod that never reached a terminal phase (an orphan, say) still counts as failed.
    return podutil.is_terminating(pod) and phase(pod) != "Succeeded"


def is_pod_terminating(pod: Obj) -> bool:
    """Being deleted and not yet finished (what status.terminating counts)."""
    return podutil.is_terminating(pod) and phase(pod) not in ("Succeeded", "Failed")


def restarts_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """With restartPolicy OnFailure the kubelet restarts failing containers in place, so the
    backoff limit counts container restarts of running and pending pods instead."""
    template_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    total = 0
    for pod in pods:
        if phase(pod) not in ("Running", "Pending"):
            continue
        status = pod.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses"):
            total += sum(int(c.get("restartCount") or 0) for c in status.get(key) or [] if isinstance(c, dict))
    limit = int((job.get("spec") or {}).get("backoffLimit") or 0)
    return total > 0 if limit == 0 else total >= limit


def pod_template_for_job(job: Obj) -> Obj:
    """The job's pod template with what every pod gets: the tracking finalizer and, for an
    Indexed Job, JOB_COMPLETION_INDEX in the containers' environment."""
    template = deep_copy((job.get("spec") or {}).get("template") or {})
    meta = template.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    meta["finalizers"] = finalizers
    if job_indexes.is_indexed(job):
        job_indexes.add_completion_index_env(template.setdefault("spec", {}))
    return template


def pod_for_index(job: Obj, template: Obj, index: int, failure_counts: tuple[int, int] | None = None) -> Obj:
    """A pod to create from ``template``; ``index`` is the completion index (UNKNOWN_INDEX for a
    NonIndexed Job); ``failure_counts`` (failed, ignored) for Jobs with backoffLimitPerIndex."""
    name = (job.get("metadata") or {}).get("name", "")
    ref = podutil.new_controller_ref(job, "batch/v1", "Job")
    pod = podutil.pod_from_template(template, job, ref)
    if index == job_indexes.UNKNOWN_INDEX:
        return pod
    meta = pod["metadata"]
    meta.setdefault("annotations", {})[job_indexes.COMPLETION_INDEX] = str(index)
    meta.setdefault("labels", {})[job_indexes.COMPLETION_INDEX] = str(index)
    if failure_counts is not None:
        failed, ignored = failure_counts
        meta["annotations"][job_indexes.INDEX_FAILURE_COUNT] = str(failed)
        if ignored > 0:
            meta["annotations"][job_indexes.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    pod["spec"]["hostname"] = f"{name}-{index}"
    meta["generateName"] = job_indexes.generate_name_with_index(name, index)
    return pod
