"""The scheduling algorithm: filter the nodes, score the feasible ones, pick the best.

    pre-filter ─► nominated node first (a preemptor's promised node) ─► filter nodes, starting
    where the last pod stopped, until enough feasible nodes are found ─► score ─► best (ties at
    random)

Sampling, as kube-scheduler does at scale: with fewer than 100 nodes every node is filtered;
above that the search stops after finding ``percentageOfNodesToScore`` of them (adaptive by
default: 50% - nodes/125, at least 5%, and never fewer than 100 nodes). The next pod starts
where this one stopped, so every node gets its turn.

Nodes with pods nominated to them (preemptors waiting for their victims to leave) are filtered
as if those pods were already there, when they are at least as important as this pod.

Everything here is synchronous: the cache cannot change while a pod is being placed.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from kybernetes.scheduler.cache import SchedulerCache
from kybernetes.scheduler.framework import Code, CycleState, Diagnosis, FitError, NoNodesError, Status
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.profile import Profile
from kybernetes.scheduler.queue import SchedulingQueue

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5
DEFAULT_PERCENTAGE_BASE = 50
CHUNK = 128  # nodes filtered together (see _filter_in_chunks)


class SchedulingError(Exception):
    """A plugin failed (not "does not fit"): the pod is retried after a backoff."""


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(num_all: int, percentage: int | None = None) -> int:
    if num_all < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all
    pct = percentage or 0
    if pct >= 100:
        return num_all
    if pct <= 0:
        pct = max(DEFAULT_PERCENTAGE_BASE - num_all // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    return max(num_all * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    def __init__(self, cache: SchedulerCache, queue: SchedulingQueue | None = None,
                 percentage_of_nodes_to_score: int | None = None, rng: random.Random | None = None):
        self.cache = cache
        self.queue = queue
        self.percentage = percentage_of_nodes_to_score
        self.next_start_index = 0
        self.rng = rng or random.Random()

    def schedule(self, profile: Profile, state: CycleState, pod: PodInfo) -> ScheduleResult:
        nodes = self.cache.node_list()
        if not nodes:
            raise NoNodesError()
        feasible, diagnosis = self.find_nodes_that_fit(profile, state, pod, nodes)
        if not feasible:
            raise FitError(pod.key, len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = profile.run_score(state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, scores), evaluated, len(feasible))

    def select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        """The highest score; among equals, each has the same chance."""
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        return nodes[ties[0] if len(ties) == 1 else self.rng.choice(ties)].name

    def find_nodes_that_fit(self, profile: Profile, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        pre_result, status = profile.run_pre_filter(state, pod)
        if status is not None:
            if status.code == Code.ERROR:
                raise SchedulingError(f"running pre-filter plugin {status.plugin}: {status.message}")
            diagnosis.pre_filter_message = status.message
            diagnosis.unschedulable_plugins.add(status.plugin)
            diagnosis.node_statuses = {n.name: status for n in nodes}
            return [], diagnosis
        filters = profile.filters_for(state)

        nominated = pod.nominated_node_name or (self.queue.nominated_node(pod.key) if self.queue else "")
        if nominated and (pre_result.node_names is None or nominated in pre_result.node_names):
            node = self.cache.get_node(nominated)
            if node is not None and self.run_filters(filters, state, pod, node) is None:
                return [node], diagnosis

        if pre_result.node_names is not None:
            candidates = [n for n in (self.cache.get_node(name) for name in sorted(pre_result.node_names))
                          if n is not None]
        else:
            candidates = nodes
        count = len(candidates)
        to_find = num_feasible_nodes_to_find(count, self.percentage)
        if count == 0:
            return [], diagnosis
        start = self.next_start_index % count if pre_result.node_names is None else 0
        ordered = candidates[start:] + candidates[:start] if start else candidates
        if self.queue is not None and self.queue.has_nominated_pods:
            feasible, processed = self._filter_one_by_one(filters, state, pod, ordered, to_find, diagnosis)
        else:
            feasible, processed = self._filter_in_chunks(filters, state, pod, ordered, to_find, diagnosis)
        if pre_result.node_names is None:
            self.next_start_index = (start + processed) % count
        return feasible, diagnosis

    def _filter_in_chunks(self, filters, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], to_find: int,
                          diagnosis: Diagnosis) -> tuple[list[NodeInfo], int]:
        """Filter a chunk of nodes at a time, each plugin over the whole chunk (its batch form
        when it has one): the same outcome as node by node, with far fewer calls."""
        feasible: list[NodeInfo] = []
        for offset in range(0, len(nodes), CHUNK):
            survivors = nodes[offset:offset + CHUNK]
            for name, one, batch in filters:
                results = batch(state, pod, survivors) if batch is not None else [one(state, pod, n) for n in survivors]
                if results.count(None) == len(results):
                    continue
                survivors = self._record_failures(name, survivors, results, diagnosis)
                if not survivors:
                    break
            feasible.extend(survivors)
            if len(feasible) >= to_find:
                last = feasible[to_find - 1]
                return feasible[:to_find], nodes.index(last, offset) + 1
        return feasible, len(nodes)

    @staticmethod
    def _record_failures(name: str, nodes: list[NodeInfo], results: list[Status | None],
                         diagnosis: Diagnosis) -> list[NodeInfo]:
        keep = []
        for node, status in zip(nodes, results, strict=True):
            if status is None or status.code == Code.SUCCESS:
                keep.append(node)
            elif status.code == Code.ERROR:
                raise SchedulingError(f"running filter plugin {name}: {status.message}")
            else:
                diagnosis.node_statuses[node.name] = status.with_plugin(name)
                diagnosis.unschedulable_plugins.add(name)
        return keep

    def _filter_one_by_one(self, filters, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], to_find: int,
                           diagnosis: Diagnosis) -> tuple[list[NodeInfo], int]:
        feasible: list[NodeInfo] = []
        for processed, node in enumerate(nodes, 1):
            failed = self.run_filters(filters, state, pod, node)
            if failed is None:
                feasible.append(node)
                if len(feasible) >= to_find:
                    return feasible, processed
            else:
                self._record_failures(failed.plugin, [node], [failed], diagnosis)
        return feasible, len(nodes)

    def run_filters(self, filters, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Filters on ``node``, counting the pods nominated to it that outrank ``pod`` as placed."""
        nominated = self._nominated_pods(pod, node)
        if nominated:
            added = []
            try:
                for other in nominated:
                    placed = copy.copy(other)
                    placed.node_name = node.name
                    node.add_pod(placed)
                    added.append(placed.key)
                status = Profile.run_filters(filters, state, pod, node)
            finally:
                for key in added:
                    node.remove_pod(key)
            if status is not None:
                return status
        return Profile.run_filters(filters, state, pod, node)

    def _nominated_pods(self, pod: PodInfo, node: NodeInfo) -> list[PodInfo]:
        if self.queue is None or not self.queue.has_nominated_pods:
            return []
        return [p for p in self.queue.nominated_pods_for_node(node.name)
                if p.key != pod.key and p.priority >= pod.priority and p.key not in node.pods]
