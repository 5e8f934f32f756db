"""The disruption controller: PodDisruptionBudget status (Kubernetes' disruption controller).

The eviction API reads ``status.disruptionsAllowed`` (and ``disruptedPods``) to allow or refuse an
eviction; this controller keeps them true. Keyed by PDB ``namespace/name``; pod changes queue the
PDBs whose selector matches the pod, and a change of a workload's replicas queues its namespace's
PDBs.

    pods             the pods in the PDB's namespace its selector matches
    expectedPods     minAvailable as a number: how many pods match; otherwise (maxUnavailable, or
                     a percentage) the sum of the scale of the pods' controllers (ReplicaSet, or
                     the Deployment over it; StatefulSet; ReplicationController)
    desiredHealthy   minAvailable (a percentage rounded up), or expectedPods - maxUnavailable
    currentHealthy   Ready pods, not being deleted, not recently evicted (disruptedPods, which the
                     eviction API fills and which expire after 2 minutes)
    disruptionsAllowed  currentHealthy - desiredHealthy, never below 0 (and 0 while expectedPods
                     is 0), with the condition DisruptionAllowed True/SufficientPods or
                     False/InsufficientPods

When the numbers cannot be worked out (a pod whose controller is gone, a malformed percentage)
the budget fails safe: disruptionsAllowed 0 and DisruptionAllowed False/SyncFailed.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy, format_rfc3339, parse_rfc3339
from kybernetes.api.selectors import label_selector_from_spec
from kybernetes.client.indexer import split_key
from kybernetes.client.resource import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
)
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.podutil import controller_of, is_pod_ready

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0  # seconds an eviction is assumed to take before the pod counts again
CONDITION = "DisruptionAllowed"


class SyncError(Exception):
    """The budget's numbers cannot be worked out; the PDB fails safe."""


def scaled_value(value: Any, total: int, what: str) -> int:
    """An IntOrString against ``total`` (percentages rounded up, as upstream)."""
    if isinstance(value, bool):
        raise SyncError(f"invalid {what}: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            raise SyncError(f'invalid value for IntOrString: invalid value "{value}": {what}') from None
        return math.ceil(percent * total / 100)
    raise SyncError(f"invalid value for IntOrString: invalid type: string is not a percentage ({what}: {value!r})")


class DisruptionController(Controller):
    name = "disruption"
    workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.pdbs = ctx.informer(PODDISRUPTIONBUDGETS)
        self.pods = ctx.informer(PODS)
        self.workloads = {(r.group, r.kind): ctx.informer(r)
                          for r in (REPLICASETS, DEPLOYMENTS, STATEFULSETS, REPLICATIONCONTROLLERS)}
        self.pdbs.add_event_handler(**self.handlers())
        self.pods.add_event_handler(on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod)
        for informer in self.workloads.values():
            informer.add_event_handler(on_update=self._on_workload_update)

    # -- events to keys --------------------------------------------------------------------------

    def _pdbs_for(self, pod: Obj) -> list[Obj]:
        m = pod.get("metadata") or {}
        out = []
        for pdb in self.pdbs.list(m.get("namespace") or ""):
            try:
                if label_selector_from_spec((pdb.get("spec") or {}).get("selector")).matches(m.get("labels") or {}):
                    out.append(pdb)
            except ApiError:
                continue  # a malformed selector matches nothing
        return out

    def _on_pod(self, pod: Obj) -> None:
        for pdb in self._pdbs_for(pod):
            self.enqueue(pdb)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        self._on_pod(new)
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._on_pod(old)

    def _on_workload_update(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("replicas") != (new.get("spec") or {}).get("replicas"):
            for pdb in self.pdbs.list((new.get("metadata") or {}).get("namespace") or ""):
                self.enqueue(pdb)

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        try:
            await self._sync(key, pdb)
        except SyncError as e:
            await self._fail_safe(pdb, str(e))
            raise

    async def _sync(self, key: str, pdb: Obj) -> None:
        namespace, _ = split_key(key)
        try:
            selector = label_selector_from_spec((pdb.get("spec") or {}).get("selector"))
        except ApiError as e:
            await self.events.warning(pdb, "NoPods", f"Failed to get pods: {e.message}")
            raise SyncError(e.message) from None
        pods = [p for p in self.pods.list(namespace)
                if selector.matches((p.get("metadata") or {}).get("labels") or {})]
        if not pods:
            await self.events.normal(pdb, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = self.expected_pod_count(pdb, pods)
        except SyncError as e:
            await self.events.warning(pdb, "CalculateExpectedPodCountFailed",
                                      f"Failed to calculate the number of expected pods: {e}")
            raise
        if unmanaged:
            await self.events.warning(pdb, "UnmanagedPods", (
                f"Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. "
                "As a result, the status of the PDB cannot be calculated correctly, which may result in "
                "undefined behavior. To account for these pods please set \".spec.minAvailable\" field of "
                "the PDB to an integer value."))
        now = self.clock.wall()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = _count_healthy(pods, disrupted, now)
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.requeue_after(key, recheck)

    def expected_pod_count(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        """(expectedPods, desiredHealthy, names of pods without a controller)."""
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self._expected_scale(pods)
            max_unavailable = scaled_value(spec["maxUnavailable"], expected, "maxUnavailable")
            return expected, max(expected - max_unavailable, 0), unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        if min_available is not None:
            expected, unmanaged = self._expected_scale(pods)
            return expected, scaled_value(min_available, expected, "minAvailable"), unmanaged
        return 0, 0, []

    def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            m = pod.get("metadata") or {}
            ref = controller_of(pod)
            if ref is None:
                unmanaged.append(m.get("name") or "")
                continue
            if ref.get("uid") in scales:
                continue
            found = self._controller_scale(ref, m.get("namespace") or "")
            if found is None:
                raise SyncError(f'found no controllers for pod "{m.get("name")}"')
            uid, scale = found
            scales[uid] = scale
        return sum(scales.values()), unmanaged

    def _controller_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the workload behind a pod's controllerRef: a ReplicaSet owned by a
        Deployment answers with the Deployment, as a rollout spans several ReplicaSets."""
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        informer = self.workloads.get((group, ref.get("kind")))
        if informer is None:
            return None
        owner = informer.get_by_name(namespace, str(ref.get("name") or ""))
        if owner is None or (owner.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        if ref.get("kind") == "ReplicaSet" and group == "apps":
            dep_ref = controller_of(owner)
            if dep_ref is not None and dep_ref.get("kind") == "Deployment":
                return self._controller_scale(dep_ref, namespace)
        return owner["metadata"]["uid"], int((owner.get("spec") or {}).get("replicas", 1) or 0)

    def _disrupted_pods(self, pdb: Obj, pods: list[Obj], now: datetime) -> tuple[dict[str, str], float | None]:
        """The entries of status.disruptedPods still pending, and when the first one expires."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        by_name = {(p.get("metadata") or {}).get("name"): p for p in pods}
        kept: dict[str, str] = {}
        recheck: float | None = None
        for name, when in recorded.items():
            pod = by_name.get(name)
            if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue  # evicted and gone (or going): nothing to hold back any more
            try:
                left = DELETION_TIMEOUT - (now - parse_rfc3339(when)).total_seconds()
            except (TypeError, ValueError):
                continue
            if left <= 0:
                log.info("pdb %s: pod %s was expected to be deleted by now", pdb["metadata"].get("name"), name)
                continue
            kept[name] = when
            recheck = left if recheck is None else min(recheck, left)
        return kept, recheck

    async def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int,
                             disrupted: dict[str, str]) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        generation = (pdb.get("metadata") or {}).get("generation") or 0
        status = pdb.get("status") or {}
        new_status = {**status, "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                      "disruptionsAllowed": allowed, "observedGeneration": generation}
        if disrupted:
            new_status["disruptedPods"] = disrupted
        else:
            new_status.pop("disruptedPods", None)
        if allowed > 0:
            new_status["conditions"] = self._condition(status, "True", "SufficientPods", "", generation)
        else:
            new_status["conditions"] = self._condition(status, "False", "InsufficientPods", "", generation)
        if new_status == status:
            return
        await self._write(pdb, new_status)

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        status = pdb.get("status") or {}
        generation = (pdb.get("metadata") or {}).get("generation") or 0
        new_status = {**status, "disruptionsAllowed": 0,
                      "conditions": self._condition(status, "False", "SyncFailed", message, generation)}
        if new_status != status:
            try:
                await self._write(pdb, new_status)
            except ApiError as e:
                log.warning("pdb %s: could not record the failure: %s", pdb["metadata"].get("name"), e)

    def _condition(self, status: Obj, value: str, reason: str, message: str, generation: int) -> list[Obj]:
        conditions = [dict(c) for c in status.get("conditions") or [] if c.get("type") != CONDITION]
        old = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
        when = old.get("lastTransitionTime") if old and old.get("status") == value else None
        conditions.append({"type": CONDITION, "status": value, "observedGeneration": generation,
                           "lastTransitionTime": when or format_rfc3339(self.clock.wall()),
                           "reason": reason, "message": message})
        return conditions

    async def _write(self, pdb: Obj, status: Obj) -> None:
        new = deep_copy(pdb)
        new["status"] = status
        try:
            await self.client.update_status(PODDISRUPTIONBUDGETS, new)
        except ApiError as e:
            if e.code != 404:  # 409: the cache was behind; the reconcile runs again
                raise


def _count_healthy(pods: list[Obj], disrupted: dict[str, str], now: datetime) -> int:
    healthy = 0
    for pod in pods:
        m = pod.get("metadata") or {}
        if m.get("deletionTimestamp") or m.get("name") in disrupted:
            continue  # disrupted holds only entries that have not expired
        if is_pod_ready(pod):
            healthy += 1
    return healthy
