"""Pod helpers every workload controller shares (Kubernetes' controller_utils + api/v1/pod).

    is_pod_ready / is_pod_available(min_ready_seconds)  what "ready" and "available" mean
    is_pod_active                                         not finished and not being deleted
    pod_from_template(template, owner)                    the pod a controller creates:
        generateName "<owner>-", the template's labels/annotations/finalizers/spec, and one
        ownerReference with controller=true, blockOwnerDeletion=true
    controller_of / new_controller_ref / adopt_patch / release_patch   controller ownerRefs
    deletion_order_key                                    which pods to delete first on scale-down
    Expectations                                          "I created 3 pods and have seen 1"
    claim_objects                                         adopt matching orphans, release the rest

Expectations keep a reconcile from acting twice on the same gap: after a controller asks for N
creations, the informer has not yet seen them, so its cache still shows too few pods. Until the
watch delivers them (or five minutes pass), the controller waits instead of creating N more.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import parse_rfc3339
from kybernetes.util.clock import Clock

Obj = dict[str, Any]

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
EXPECTATIONS_TIMEOUT = 5 * 60.0  # as ExpectationsTimeout: a lost watch event heals in 5 minutes
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# -- readiness -------------------------------------------------------------------------------------

def _conditions(pod: Obj) -> list[Obj]:
    return [c for c in ((pod.get("status") or {}).get("conditions") or []) if isinstance(c, dict)]


def pod_ready_condition(pod: Obj) -> Obj | None:
    for cond in _conditions(pod):
        if cond.get("type") == "Ready":
            return cond
    return None


def is_pod_ready(pod: Obj) -> bool:
    cond = pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None


def pod_ready_since(pod: Obj) -> datetime | None:
    """When the pod last became Ready (None if it is not ready or the time is unknown)."""
    cond = pod_ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    return _time(cond.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int | float, now: datetime) -> bool:
    """Ready for more than ``min_ready_seconds`` (0: ready is enough)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_since(pod)
    return since is not None and (now - since).total_seconds() > min_ready_seconds


def is_pod_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


# -- controller references -------------------------------------------------------------------------

def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == (owner.get("metadata") or {}).get("uid")


def new_controller_ref(owner: Obj, api_version: str | None = None, kind: str | None = None) -> Obj:
    meta = owner.get("metadata") or {}
    return {"apiVersion": api_version or owner.get("apiVersion", ""), "kind": kind or owner.get("kind", ""),
            "name": meta.get("name", ""), "uid": meta.get("uid", ""), "controller": True,
            "blockOwnerDeletion": True}


def adopt_patch(obj: Obj, controller_ref: Obj) -> Obj:
    """Strategic merge patch adding ``controller_ref``; the uid makes it fail on a re-created object."""
    return {"metadata": {"ownerReferences": [controller_ref], "uid": (obj.get("metadata") or {}).get("uid")}}


def release_patch(obj: Obj, owner_uid: str) -> Obj:
    """Strategic merge patch removing the ownerReference to ``owner_uid``."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
                         "uid": (obj.get("metadata") or {}).get("uid")}}


# -- creating pods ---------------------------------------------------------------------------------

def pod_from_template(template: Obj, owner: Obj, controller_ref: Obj | None = None) -> Obj:
    """The pod a controller creates from ``template`` (a PodTemplateSpec) on behalf of ``owner``."""
    tmeta = (template or {}).get("metadata") or {}
    owner_meta = owner.get("metadata") or {}
    meta: Obj = {"generateName": f"{owner_meta.get('name', '')}-"}
    if owner_meta.get("namespace"):
        meta["namespace"] = owner_meta["namespace"]
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            meta[key] = dict(tmeta[key])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    ref = controller_ref if controller_ref is not None else new_controller_ref(owner)
    meta["ownerReferences"] = [dict(ref)]
    spec = _json_copy((template or {}).get("spec") or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def slow_start_batches(count: int, initial: int = 1) -> list[int]:
    """Batch sizes 1, 2, 4, ... summing to ``count`` (SlowStartBatch): a failing burst stops early."""
    sizes: list[int] = []
    size = initial
    remaining = count
    while remaining > 0:
        batch = min(remaining, size)
        sizes.append(batch)
        remaining -= batch
        size *= 2
    return sizes


# -- which pods to delete first --------------------------------------------------------------------

def deletion_cost(pod: Obj) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def max_restarts(pod: Obj) -> int:
    status = pod.get("status") or {}
    counts = [int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []
              if isinstance(c, dict)]
    return max(counts, default=0)


def _log_rank(moment: datetime | None, now: datetime) -> int:
    """log2 of the age in nanoseconds, so pods of similar age tie (LogarithmicScaleDown)."""
    if moment is None:
        return -1
    age_ns = (now - moment).total_seconds() * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def deletion_order_key(pod: Obj, rank: int, now: datetime) -> tuple[Any, ...]:
    """Sort key: the pods to delete first sort first (ActivePodsWithRanks).

    Unscheduled before scheduled; Pending before Unknown before Running; not ready before ready;
    lower pod-deletion-cost first; more related pods on the same node first; ready for a shorter
    time first; more restarts first; newer before older (ages compared on a log2 scale).
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    ready = is_pod_ready(pod)
    ready_rank = _log_rank(pod_ready_since(pod), now) if ready else 0
    created = _time(meta.get("creationTimestamp"))
    return (1 if spec.get("nodeName") else 0, _PHASE_ORDINAL.get(phase, 0), 1 if ready else 0,
            deletion_cost(pod), -rank, ready_rank, -max_restarts(pod), _log_rank(created, now),
            meta.get("uid", ""))


def rank_pods_for_deletion(pods: list[Obj], related: list[Obj], now: datetime) -> list[Obj]:
    """``pods`` ordered deletion-first; ``related`` (all active pods of the same workload) gives
    how doubled-up each pod's node is."""
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    return sorted(pods, key=lambda p: deletion_order_key(
        p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0), now))


# -- expectations ----------------------------------------------------------------------------------

@dataclass
class _Expectation:
    add: int
    delete_keys: set[str] = field(default_factory=set)
    delete_count: int = 0
    timestamp: float = 0.0

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete_count <= 0 and not self.delete_keys


class Expectations:
    """Creations and deletions a controller asked for and has not yet seen in its cache, per
    controller key (ControllerExpectations + UIDTrackingControllerExpectations)."""

    def __init__(self, clock: Clock, timeout: float = EXPECTATIONS_TIMEOUT):
        self.clock = clock
        self.timeout = timeout
        self._items: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for ``key`` (or the expectation has expired)."""
        exp = self._items.get(key)
        if exp is None:
            return True
        return exp.fulfilled() or self.clock.now() - exp.timestamp > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._items[key] = _Expectation(add=count, timestamp=self.clock.now())

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._items[key] = _Expectation(add=0, delete_keys=set(pod_keys), timestamp=self.clock.now())

    def creation_observed(self, key: str) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.delete_keys.discard(pod_key)

    def lower_creations(self, key: str, count: int = 1) -> None:
        """Creations that were skipped or failed: never coming, stop waiting for them."""
        exp = self._items.get(key)
        if exp is not None:
            exp.add -= count

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        exp = self._items.get(key)
        return (0, 0) if exp is None else (max(exp.add, 0), len(exp.delete_keys))


# -- claiming: adopt matching orphans, release owned objects that stopped matching ----------------

async def claim_objects(client: Any, resource: Any, owner: Obj, controller_ref: Obj, selector: Any,
                        candidates: list[Obj],
                        can_adopt: Callable[[], Awaitable[None]] | None = None) -> list[Obj]:
    """The candidates ``owner`` controls after adopting and releasing (ControllerRefManager.Claim).

    Owned by us and matching: kept. Owned by us and not matching: released (unless the owner is
    being deleted, when the garbage collector will handle it). Orphans that match are adopted,
    once ``can_adopt`` (a fresh read of the owner, so a deleted owner never adopts) passes.
    Objects owned by another controller are never touched. A 404 while patching means the object
    is gone: skip it. Other failures are raised after every candidate was tried.
    """
    owner_meta = owner.get("metadata") or {}
    owner_uid = owner_meta.get("uid")
    owner_deleting = bool(owner_meta.get("deletionTimestamp"))
    claimed: list[Obj] = []
    errors: list[Exception] = []
    adopt_checked = False
    for obj in candidates:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if selector.matches(labels):
                claimed.append(obj)
            elif not owner_deleting:
                try:
                    await _patch_or_gone(client, resource, obj, release_patch(obj, owner_uid))
                except Exception as e:  # noqa: BLE001 - collected, raised after the others
                    errors.append(e)
            continue
        if owner_deleting or is_terminating(obj) or not selector.matches(labels):
            continue
        try:
            if not adopt_checked and can_adopt is not None:
                await can_adopt()
            adopt_checked = True
            patched = await _patch_or_gone(client, resource, obj, adopt_patch(obj, controller_ref))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            continue
        if patched is not None:
            claimed.append(patched)
    if errors:
        raise errors[0]
    return claimed


async def _patch_or_gone(client: Any, resource: Any, obj: Obj, patch: Obj) -> Obj | None:
    meta = obj.get("metadata") or {}
    try:
        return await client.patch(resource, meta.get("name"), patch, meta.get("namespace"),
                                  patch_type="strategic")
    except ApiError as e:
        if e.code == 404:
            return None
        raise


def recheck_owner(client: Any, resource: Any, owner: Obj) -> Callable[[], Awaitable[None]]:
    """A ``can_adopt`` check: the owner, read fresh, is the same object and not being deleted."""
    meta = owner.get("metadata") or {}

    async def check() -> None:
        fresh = await client.get(resource, meta.get("name"), meta.get("namespace"))
        fresh_meta = fresh.get("metadata") or {}
        if fresh_meta.get("uid") != meta.get("uid"):
            raise RuntimeError(f"original {owner.get('kind', 'owner')} {meta.get('namespace')}/"
                               f"{meta.get('name')} is gone: got uid {fresh_meta.get('uid')}, "
                               f"wanted {meta.get('uid')}")
        if fresh_meta.get("deletionTimestamp"):
            raise RuntimeError(f"{owner.get('kind', 'owner')} {meta.get('namespace')}/{meta.get('name')} "
                               f"has just been deleted at {fresh_meta['deletionTimestamp']}")

    return check
