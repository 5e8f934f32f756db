"""DaemonSet status: node counts, as ``kubectl rollout status`` and ``get ds`` read them.

    desiredNumberScheduled   nodes that should run the daemon pod
    currentNumberScheduled   of those, nodes that have one
    numberMisscheduled       nodes that have one but should not
    numberReady              nodes whose (oldest) daemon pod is Ready
    numberAvailable          ... and Ready for longer than minReadySeconds
    numberUnavailable        desired - available
    updatedNumberScheduled   nodes whose daemon pod is at the current revision
    observedGeneration       raised only by a sync that acted on this generation

Written (PUT .../status) only when something changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import DAEMONSETS
from kybernetes.controllers import podutil
from kybernetes.controllers.daemonset_update import is_pod_updated, sort_daemon_pods, template_generation

Obj = dict[str, Any]

_ALWAYS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
_WHEN_SET = ("updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def calculate_status(ds: Obj, nodes: list[Obj], node_to_pods: dict[str, list[Obj]], hash_: str, now: datetime,
                     node_should_run: Callable[[Obj], bool]) -> Obj:
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    counts = dict.fromkeys(_ALWAYS + _WHEN_SET, 0)
    for node in nodes:
        pods = node_to_pods.get((node.get("metadata") or {}).get("name", "")) or []
        if not node_should_run(node):
            if pods:
                counts["numberMisscheduled"] += 1
            continue
        counts["desiredNumberScheduled"] += 1
        if not pods:
            continue
        counts["currentNumberScheduled"] += 1
        pod = sort_daemon_pods(pods)[0]
        if podutil.is_pod_ready(pod):
            counts["numberReady"] += 1
            if podutil.is_pod_available(pod, min_ready, now):
                counts["numberAvailable"] += 1
        if is_pod_updated(pod, hash_, generation):
            counts["updatedNumberScheduled"] += 1
    counts["numberUnavailable"] = counts["desiredNumberScheduled"] - counts["numberAvailable"]
    return counts


def _unchanged(ds: Obj, counts: Obj, observe: bool) -> bool:
    old = ds.get("status") or {}
    generation = int((ds.get("metadata") or {}).get("generation") or 0)
    if observe and int(old.get("observedGeneration") or 0) < generation:
        return False
    return all(int(old.get(k) or 0) == v for k, v in counts.items())


async def store_status(client: Any, ds: Obj, counts: Obj, observe: bool) -> Obj:
    """Write ``counts`` (and observedGeneration = generation when ``observe``) unless nothing
    changed; retried on a conflict over a fresh read."""
    if _unchanged(ds, counts, observe):
        return ds
    obj = deep_copy(ds)
    for attempt in range(3):
        status = dict(obj.get("status") or {})
        for key in _ALWAYS:
            status[key] = counts[key]
        for key in _WHEN_SET:
            if counts[key]:
                status[key] = counts[key]
            else:
                status.pop(key, None)
        if observe:
            status["observedGeneration"] = (obj.get("metadata") or {}).get("generation") or 0
        obj["status"] = status
        try:
            return await client.update_status(DAEMONSETS, obj)
        except ApiError as e:
            if e.code != 409 or attempt == 2:
                raise
            meta = obj.get("metadata") or {}
            obj = await client.get(DAEMONSETS, meta.get("name"), meta.get("namespace"))
    return obj
