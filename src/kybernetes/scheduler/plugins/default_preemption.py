"""DefaultPreemption: when nothing fits, make room by evicting less important pods.

    eligible? (preemptionPolicy Never, or a victim already terminating on the nominated node: no)
    ─► candidate nodes: those whose filter failure removing pods could fix (not Unresolvable)
    ─► per node: remove every lower-priority pod; if the pod then fits, add them back most
       important first (PDB-protected ones first), keeping each one the pod still fits beside;
       the rest are the victims
    ─► pick one node: fewest PDB violations, lowest top victim priority, lowest priority sum,
       fewest victims, latest-started top victims, then the first
    ─► victims get the DisruptionTarget condition, a Preempted event and a graceful delete;
       lower-priority pods nominated to that node lose their nomination; the preemptor is
       nominated to the node (status.nominatedNodeName) and retried when the victims are gone.

The what-ifs run on the live cache (pods taken out and put back), inside the synchronous
scheduling cycle, so every plugin's pre-filter sees the cluster as it would be.
"""

from __future__ import annotations

import logging

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import label_selector_from_spec
from kybernetes.client.resource import PODS
from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    Plugin,
    Status,
    fit_error_message,
    unresolvable,
    unschedulable,
)
from kybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
MIN_CANDIDATES = 100
MIN_CANDIDATE_PERCENTAGE = 10


class DefaultPreemption(Plugin):
    NAME = "DefaultPreemption"

    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> tuple[str | None, Status]:
        reason = self._not_eligible(pod)
        if reason:
            return None, unschedulable(f"preemption: {reason}")
        cache = self.handle.cache
        nodes = cache.node_list()
        results: dict[str, Status] = {}
        candidates: list[tuple[str, list[PodInfo], int]] = []
        wanted = max(MIN_CANDIDATES, len(nodes) * MIN_CANDIDATE_PERCENTAGE // 100)
        for node in nodes:
            status = statuses.get(node.name)
            if status is None or status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                results[node.name] = unresolvable(NOT_HELPFUL)
                continue
            victims, violations, failure = self._select_victims(pod, node.name)
            if failure is not None:
                results[node.name] = failure
            else:
                candidates.append((node.name, victims, violations))
                if len(candidates) >= wanted:
                    break
        if not candidates:
            message = fit_error_message(len(nodes), Diagnosis(node_statuses=results))
            return None, unschedulable(f"preemption: {message}")
        node_name, victims, _ = min(candidates, key=_candidate_rank)
        self._prepare(pod, node_name, victims)
        return node_name, Status(Code.SUCCESS)

    def _not_eligible(self, pod: PodInfo) -> str:
        if pod.preemption_policy == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = pod.nominated_node_name
        node = self.handle.cache.get_node(nominated) if nominated else None
        if node is not None:
            if any(p.deleting and p.priority < pod.priority for p in node.pods.values()):
                return "not eligible due to a terminating pod on the nominated node."
        return ""

    # -- one node --------------------------------------------------------------------------------

    def _fits(self, pod: PodInfo, node_name: str) -> Status | None:
        state = CycleState()
        _, status = self.profile.run_pre_filter(state, pod)
        if status is not None:
            return status
        node = self.handle.cache.get_node(node_name)
        return self.profile.run_filters(self.profile.filters_for(state), state, pod, node)

    def _select_victims(self, pod: PodInfo, node_name: str) -> tuple[list[PodInfo], int, Status | None]:
        cache = self.handle.cache
        node = cache.get_node(node_name)
        lower = [p for p in node.pods.values() if p.priority < pod.priority and p.key != pod.key]
        if not lower:
            return [], 0, unresolvable(NO_VICTIMS)
        taken = [cache.take_out(p.key) for p in lower]
        taken_by_key = {t[0].key: t for t in taken if t is not None}
        try:
            status = self._fits(pod, node_name)
            if status is not None:
                return [], 0, status
            lower.sort(key=lambda p: (-p.priority, _start_time(p)))
            pdbs = self._pdbs()
            violating = [p for p in lower if _violates_pdb(p, pdbs)]
            non_violating = [p for p in lower if not _violates_pdb(p, pdbs)]
            victims: list[PodInfo] = []
            violations = 0
            for group, counts in ((violating, True), (non_violating, False)):
                for p in group:
                    entry = taken_by_key.pop(p.key)
                    cache.put_back(entry)
                    if self._fits(pod, node_name) is not None:
                        cache.take_out(p.key)
                        taken_by_key[p.key] = entry
                        victims.append(p)
                        violations += 1 if counts else 0
            return victims, violations, None
        finally:
            for entry in taken_by_key.values():
                cache.put_back(entry)

    def _pdbs(self) -> list[dict]:
        lister = getattr(self.handle, "pdbs", None)
        return lister() if lister is not None else []

    # -- acting on the choice --------------------------------------------------------------------

    def _prepare(self, pod: PodInfo, node_name: str, victims: list[PodInfo]) -> None:
        handle = self.handle
        queue = getattr(handle, "queue", None)
        cleared = []
        if queue is not None:
            for other in queue.nominated_pods_for_node(node_name):
                if other.priority < pod.priority and other.key != pod.key:
                    queue.delete_nominated(other.key)
                    cleared.append(other)
        spawn = getattr(handle, "spawn", None)
        if spawn is not None:
            spawn(self._evict(pod, node_name, victims, cleared))

    async def _evict(self, pod: PodInfo, node_name: str, victims: list[PodInfo], cleared: list[PodInfo]) -> None:
        client = self.handle.client
        scheduler = getattr(self.profile, "scheduler_name", "default-scheduler")
        for victim in victims:
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": f"{scheduler}: preempting to accommodate a higher priority pod"}
            try:
                await client.patch(PODS, victim.name, {"status": {"conditions": [condition]}}, victim.namespace,
                                   patch_type="strategic", subresource="status")
                await client.delete(PODS, victim.name, victim.namespace,
                                    preconditions={"uid": victim.uid} if victim.uid else None)
            except ApiError as e:
                if e.code != 404:
                    log.warning("preempting %s for %s failed: %s", victim.key, pod.key, e)
                continue
            record = getattr(self.handle, "record_event", None)
            if record is not None:
                record(victim.pod, "Normal", "Preempted", f"Preempted by pod {pod.uid} on node {node_name}")
        for other in cleared:
            try:
                await client.patch(PODS, other.name, {"status": {"nominatedNodeName": None}}, other.namespace,
                                   subresource="status")
            except ApiError as e:
                log.info("clearing the nomination of %s failed: %s", other.key, e)


def _start_time(pod: PodInfo) -> str:
    status = pod.pod.get("status") or {}
    return status.get("startTime") or (pod.pod.get("metadata") or {}).get("creationTimestamp") or ""


def _violates_pdb(pod: PodInfo, pdbs: list[dict]) -> bool:
    """Would evicting ``pod`` break a PodDisruptionBudget (no disruptions allowed left)?"""
    for pdb in pdbs:
        if (pdb.get("metadata") or {}).get("namespace") != pod.namespace:
            continue
        try:
            selector = label_selector_from_spec((pdb.get("spec") or {}).get("selector"))
        except ApiError:
            continue
        if selector.empty or not selector.matches(pod.labels):
            continue
        if int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) <= 0:
            return True
    return False


def _candidate_rank(candidate: tuple[str, list[PodInfo], int]) -> tuple:
    _, victims, violations = candidate
    if not victims:
        return (violations, -(2**63), 0, 0, ())
    top = max(v.priority for v in victims)
    top_started = min((_start_time(v) for v in victims if v.priority == top), default="")
    # The latest start among the top victims wins: invert the string order for min().
    inverted = tuple(-ord(ch) for ch in top_started)
    return (violations, top, sum(v.priority + 2**31 for v in victims), len(victims), inverted)
