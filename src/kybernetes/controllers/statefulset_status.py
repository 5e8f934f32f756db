"""StatefulSet status: what the pods amount to, and when a rolling update is complete.

    replicas            pods created (the apiserver has them), terminating ones included
    readyReplicas       Running and Ready
    availableReplicas   Ready for longer than spec.minReadySeconds
    currentReplicas     live pods at status.currentRevision
    updatedReplicas     live pods at status.updateRevision
    currentRevision / updateRevision / collisionCount / observedGeneration

A RollingUpdate completes when every one of spec.replicas pods is updated and ready: then the
update revision becomes the current one (completeRollingUpdate). ``kubectl rollout status``
reads exactly these fields. The status is written only when it differs from the stored one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import STATEFULSETS
from kybernetes.controllers import podutil
from kybernetes.controllers.statefulset_pods import (
    ROLLING_UPDATE,
    is_available,
    is_created,
    is_running_and_ready,
    pod_revision,
    replicas_of,
    update_strategy,
)

Obj = dict[str, Any]

_COUNTS = ("replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas")


def count_pods(status: Obj, pods: list[Obj], min_ready_seconds: int, now: datetime) -> None:
    """Set the five counts of ``status`` from ``pods``."""
    counts = dict.fromkeys(_COUNTS, 0)
    current, update = status.get("currentRevision"), status.get("updateRevision")
    for pod in pods:
        created = is_created(pod)
        if created:
            counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_available(pod, min_ready_seconds, now):
                counts["availableReplicas"] += 1
        if created and not podutil.is_terminating(pod):
            revision = pod_revision(pod)
            if revision == current:
                counts["currentReplicas"] += 1
            if revision == update:
                counts["updatedReplicas"] += 1
    status.update(counts)


def complete_rolling_update(sts: Obj, status: Obj) -> None:
    if update_strategy(sts).get("type", ROLLING_UPDATE) != ROLLING_UPDATE:
        return
    replicas = replicas_of(sts)
    if status["updatedReplicas"] == replicas and status["readyReplicas"] == replicas and status["replicas"] == replicas:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


def wire_status(status: Obj) -> Obj:
    """As apps/v1 serialises it: replicas and availableReplicas always, the rest when set."""
    out: Obj = {"replicas": int(status.get("replicas") or 0),
                "availableReplicas": int(status.get("availableReplicas") or 0)}
    for key in ("observedGeneration", "readyReplicas", "currentReplicas", "updatedReplicas"):
        if status.get(key):
            out[key] = int(status[key])
    for key in ("currentRevision", "updateRevision"):
        if status.get(key):
            out[key] = status[key]
    out["collisionCount"] = int(status.get("collisionCount") or 0)
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    return out


def inconsistent(sts: Obj, status: Obj) -> bool:
    """Does ``status`` say something the stored status does not (inconsistentStatus)?"""
    old = sts.get("status") or {}
    if int(status.get("observedGeneration") or 0) > int(old.get("observedGeneration") or 0):
        return True
    for key in _COUNTS:
        if int(status.get(key) or 0) != int(old.get(key) or 0):
            return True
    for key in ("currentRevision", "updateRevision"):
        if (status.get(key) or "") != (old.get(key) or ""):
            return True
    return int(status.get("collisionCount") or 0) != int(old.get("collisionCount") or 0)


async def store_status(client: Any, sts: Obj, status: Obj) -> Obj:
    """Complete a finished rolling update, then PUT .../status if it changed (one retry over a
    fresh read on a conflict). Returns the set as it now is."""
    complete_rolling_update(sts, status)
    if not inconsistent(sts, status):
        return sts
    obj = deep_copy(sts)
    for attempt in range(3):
        obj["status"] = wire_status({**(obj.get("status") or {}), **status})
        try:
            return await client.update_status(STATEFULSETS, obj)
        except ApiError as e:
            if e.code != 409 or attempt == 2:
                raise
            meta = obj.get("metadata") or {}
            obj = await client.get(STATEFULSETS, meta.get("name"), meta.get("namespace"))
    return obj
