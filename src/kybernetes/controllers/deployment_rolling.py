"""The two rollout strategies, one step at a time (Kubernetes' deployment/rolling.go, recreate.go).

RollingUpdate, each sync does at most one of:
    scale the new ReplicaSet up, while the sum of all ReplicaSets' replicas stays within
        spec.replicas + maxSurge
    scale old ReplicaSets down, first their unavailable pods (which cost no availability), then
        available ones, while available pods stay at least spec.replicas - maxUnavailable
and when the rollout is complete, trims the history. The ReplicaSet controller makes the pods;
their readiness, reported back through ReplicaSet status, lets the next step go further.

Recreate: scale every old ReplicaSet to zero, wait until none of their pods is left running,
then create/scale the new ReplicaSet to spec.replicas.
"""

from __future__ import annotations

from typing import Any

from kybernetes.controllers import deployment_util as du
from kybernetes.controllers.deployment_sync import Sync

Obj = dict[str, Any]


async def rollout_rolling(sync: Sync) -> None:
    new_rs, old = await sync.new_and_old(create=True)
    all_rss = [*old, new_rs]
    if await _reconcile_new_rs(sync, all_rss, new_rs):
        await sync.sync_rollout_status(_current(sync, all_rss), _current_one(sync, new_rs))
        return
    old = _current(sync, old)
    new_rs = _current_one(sync, new_rs)
    if await _reconcile_old_rss(sync, [*old, new_rs], du.active(old), new_rs):
        await sync.sync_rollout_status(_current(sync, [*old, new_rs]), _current_one(sync, new_rs))
        return
    if du.deployment_complete(sync.d, sync.d.get("status") or {}):
        await sync.cleanup(old)
    await sync.sync_rollout_status([*old, new_rs], new_rs)


def _current_one(sync: Sync, rs: Obj | None) -> Obj | None:
    if rs is None:
        return None
    uid = rs["metadata"].get("uid")
    return next((r for r in sync.rss if r["metadata"].get("uid") == uid), rs)


def _current(sync: Sync, rss: list[Obj | None]) -> list[Obj]:
    return [r for r in (_current_one(sync, rs) for rs in rss) if r is not None]


async def _reconcile_new_rs(sync: Sync, all_rss: list[Obj | None], new_rs: Obj | None) -> bool:
    if new_rs is None:
        return False
    desired = du.replicas_of(sync.d)
    current = du.replicas_of(new_rs)
    if current == desired:
        return False
    if current > desired:
        scaled, _ = await sync.scale_rs(new_rs, desired)
        return scaled
    target = sync.new_rs_replicas([rs for rs in all_rss if rs is not None], new_rs)
    scaled, _ = await sync.scale_rs(new_rs, target)
    return scaled


async def _reconcile_old_rss(sync: Sync, all_rss: list[Obj | None], old: list[Obj], new_rs: Obj | None) -> bool:
    if du.sum_spec(old) == 0:
        return False
    min_available = du.replicas_of(sync.d) - du.max_unavailable(sync.d)
    new_unavailable = du.replicas_of(new_rs) - du.status_int(new_rs, "availableReplicas") if new_rs else 0
    max_scaled_down = du.sum_spec(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    # Unhealthy old pods first: removing them costs no availability.
    cleaned = 0
    for rs in du.by_creation(old):
        if cleaned >= max_scaled_down:
            break
        size, available = du.replicas_of(rs), du.status_int(rs, "availableReplicas")
        if size == 0 or size <= available:
            # (available above size: the status lags a scale-down; never scale up from here)
            continue
        count = min(max_scaled_down - cleaned, size - available)
        await sync.scale_rs(rs, size - count)
        cleaned += count
    old = _current(sync, old)
    all_now = [*old, _current_one(sync, new_rs)]
    # Then available ones, down to the minimum availability.
    available = du.sum_status(all_now, "availableReplicas")
    scaled = 0
    if available > min_available:
        budget = available - min_available
        for rs in du.by_creation(old):
            if scaled >= budget:
                break
            size = du.replicas_of(rs)
            if size == 0:
                continue
            count = min(size, budget - scaled)
            await sync.scale_rs(rs, size - count)
            scaled += count
    return cleaned + scaled > 0


async def rollout_recreate(sync: Sync, pods_by_rs: dict[str, list[Obj]]) -> None:
    new_rs, old = await sync.new_and_old(create=False)
    scaled_down = False
    for rs in du.active(old):
        changed, _ = await sync.scale_rs(rs, 0)
        scaled_down = scaled_down or changed
    old = _current(sync, old)
    if scaled_down or _old_pods_running(new_rs, old, pods_by_rs):
        await sync.sync_rollout_status([*old, new_rs], new_rs)
        return
    if new_rs is None:
        new_rs, old = await sync.new_and_old(create=True)
    if new_rs is not None:
        await sync.scale_rs(new_rs, du.replicas_of(sync.d))
        new_rs = _current_one(sync, new_rs)
    if du.deployment_complete(sync.d, sync.d.get("status") or {}):
        await sync.cleanup(old)
    await sync.sync_rollout_status([*old, new_rs], new_rs)


def _old_pods_running(new_rs: Obj | None, old: list[Obj], pods_by_rs: dict[str, list[Obj]]) -> bool:
    if du.sum_status(old, "replicas") > 0:
        return True
    new_uid = (new_rs or {}).get("metadata", {}).get("uid")
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                return True
    return False
