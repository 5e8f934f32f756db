"""ReplicaSet / ReplicationController status: what the pods a controller owns amount to.

    replicas              active pods owned (not finished, not being deleted)
    fullyLabeledReplicas  of those, the ones carrying every label of the template
    readyReplicas         of those, the Ready ones
    availableReplicas     of those, the ones Ready for longer than spec.minReadySeconds
    observedGeneration    the spec generation this status was computed for
    conditions            ReplicaFailure (FailedCreate / FailedDelete) while creating or deleting
                          pods fails; removed once a sync manages the replicas again

The status is written (PUT .../status) only when it changed, as Kubernetes does, so a quiet
controller makes no writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy, format_rfc3339
from kybernetes.api.selectors import selector_from_set
from kybernetes.controllers.podutil import is_pod_available, is_pod_ready

Obj = dict[str, Any]

REPLICA_FAILURE = "ReplicaFailure"


def calculate_status(rs: Obj, pods: list[Obj], manage_error: Exception | None, now: datetime) -> Obj:
    """The status ``rs`` should have, given the active pods it owns and how managing them went."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    labelled = selector_from_set(template_labels)
    min_ready = int(spec.get("minReadySeconds") or 0)
    status: Obj = {"replicas": len(pods)}
    counts = {
        "fullyLabeledReplicas": sum(1 for p in pods if labelled.matches((p.get("metadata") or {}).get("labels"))),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
    }
    status.update({k: v for k, v in counts.items() if v})
    old_status = rs.get("status") or {}
    if old_status.get("observedGeneration"):
        status["observedGeneration"] = old_status["observedGeneration"]
    conditions = [c for c in old_status.get("conditions") or [] if isinstance(c, dict)]
    failure = next((c for c in conditions if c.get("type") == REPLICA_FAILURE), None)
    if manage_error is not None and failure is None:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        reason = "FailedCreate" if len(pods) < desired else "FailedDelete"
        conditions.append({"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": format_rfc3339(now),
                           "reason": reason, "message": _error_text(manage_error)})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    return status


def _error_text(error: Exception) -> str:
    return error.message if isinstance(error, ApiError) else str(error)


def status_unchanged(rs: Obj, status: Obj) -> bool:
    generation = (rs.get("metadata") or {}).get("generation")
    old = rs.get("status") or {}
    return _normal(old) == _normal(status) and old.get("observedGeneration") == generation


def _normal(status: Obj) -> Obj:
    keys = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    out = {k: int(status.get(k) or 0) for k in keys}
    out["conditions"] = status.get("conditions") or []
    return out


async def update_status(client: Any, resource: Any, rs: Obj, status: Obj) -> Obj:
    """Write ``status`` (with observedGeneration = generation) unless nothing changed; the
    object as it now is. One retry on a conflict, over a fresh read, as Kubernetes does."""
    if status_unchanged(rs, status):
        return rs
    obj = deep_copy(rs)
    for attempt in range(2):
        new_status = dict(status)
        generation = (obj.get("metadata") or {}).get("generation")
        if generation:
            new_status["observedGeneration"] = generation
        obj["status"] = new_status
        try:
            return await client.update_status(resource, obj)
        except ApiError as e:
            if e.code != 409 or attempt:
                raise
            meta = obj.get("metadata") or {}
            obj = await client.get(resource, meta.get("name"), meta.get("namespace"))
    return obj
