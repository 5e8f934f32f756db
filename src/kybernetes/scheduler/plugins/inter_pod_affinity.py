"""InterPodAffinity: place pods near (affinity) or away from (anti-affinity) other pods, per
topology domain (the node's value of the term's topologyKey).

Filter, from counts made once per pod in pre-filter over every cached pod:
  1. each required affinity term needs a matching pod in the node's domain; the first pod of a
     group that matches its own terms may go anywhere while no pod matches yet
     (UnschedulableAndUnresolvable: "didn't match pod affinity rules");
  2. no pod matching a required anti-affinity term in the node's domain ("pod anti-affinity");
  3. no existing pod whose required anti-affinity matches this pod in the node's domain
     ("existing pods anti-affinity").

Score: preferred terms of this pod (+weight / -weight for anti-affinity), and existing pods'
preferred terms and required affinity that match this pod, summed per domain; normalised to
0..100 between the lowest and highest node.
"""

from __future__ import annotations

from collections import defaultdict

from kybernetes.scheduler.framework import SKIP, Plugin, PreFilterResult, Status, unresolvable, unschedulable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

Pair = tuple[str, str]


class _Counts:
    __slots__ = ("existing_anti", "affinity", "anti")

    def __init__(self) -> None:
        self.existing_anti: dict[Pair, int] = defaultdict(int)
        self.affinity: dict[Pair, int] = defaultdict(int)
        self.anti: dict[Pair, int] = defaultdict(int)

    def clone(self) -> _Counts:
        other = _Counts()
        other.existing_anti.update(self.existing_anti)
        other.affinity.update(self.affinity)
        other.anti.update(self.anti)
        return other


class InterPodAffinity(Plugin):
    NAME = "InterPodAffinity"

    def _ns_labels(self, namespace: str) -> dict[str, str]:
        lookup = getattr(self.handle, "namespace_labels", None)
        return lookup(namespace) if lookup is not None else {}

    # -- filter ----------------------------------------------------------------------------------

    def pre_filter(self, state, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        cache = self.handle.cache
        if not pod.required_affinity and not pod.required_anti_affinity and not cache.pods_with_required_anti_affinity:
            return None, SKIP
        ns_labels = self._ns_labels
        counts = _Counts()
        for node in cache.node_list():
            labels = node.labels
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity:
                    if term.topology_key in labels and term.matches(pod.namespace, pod.labels, ns_labels):
                        counts.existing_anti[(term.topology_key, labels[term.topology_key])] += 1
            if not pod.required_affinity and not pod.required_anti_affinity:
                continue
            for existing in node.pods.values():
                for term in pod.required_affinity:
                    if term.topology_key in labels and term.matches(existing.namespace, existing.labels, ns_labels):
                        counts.affinity[(term.topology_key, labels[term.topology_key])] += 1
                for term in pod.required_anti_affinity:
                    if term.topology_key in labels and term.matches(existing.namespace, existing.labels, ns_labels):
                        counts.anti[(term.topology_key, labels[term.topology_key])] += 1
        state[self.NAME] = counts
        return None, None

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        counts: _Counts | None = state.get(self.NAME)
        if counts is None:
            return None
        labels = node.labels
        if pod.required_affinity and not self._satisfies_affinity(counts, pod, labels):
            return unresolvable(ERR_AFFINITY)
        for term in pod.required_anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and counts.anti.get((term.topology_key, value), 0) > 0:
                return unschedulable(ERR_ANTI_AFFINITY)
        if counts.existing_anti:
            for pair in labels.items():
                if counts.existing_anti.get(pair, 0) > 0:
                    return unschedulable(ERR_EXISTING_ANTI_AFFINITY)
        return None

    def _satisfies_affinity(self, counts: _Counts, pod: PodInfo, labels: dict[str, str]) -> bool:
        pods_exist = True
        for term in pod.required_affinity:
            value = labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if counts.affinity.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: allowed while no pod matches.
        if not any(counts.affinity.values()):
            return all(t.matches(pod.namespace, pod.labels, self._ns_labels) for t in pod.required_affinity)
        return False

    # -- score -----------------------------------------------------------------------------------

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cache = self.handle.cache
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if not has_preferred and not cache.pods_with_affinity:
            return SKIP
        ns_labels = self._ns_labels
        scores: dict[Pair, int] = defaultdict(int)

        def add(term, labels: dict[str, str], weight: int) -> None:
            value = labels.get(term.topology_key)
            if value is not None:
                scores[(term.topology_key, value)] += weight

        for node in cache.node_list():
            labels = node.labels
            existing_pods = node.pods.values() if has_preferred else node.pods_with_affinity.values()
            for existing in existing_pods:
                for term in pod.preferred_affinity:
                    if term.matches(existing.namespace, existing.labels, ns_labels):
                        add(term, labels, term.weight)
                for term in pod.preferred_anti_affinity:
                    if term.matches(existing.namespace, existing.labels, ns_labels):
                        add(term, labels, -term.weight)
                if not existing.has_affinity:
                    continue
                for term in existing.required_affinity:
                    if term.matches(pod.namespace, pod.labels, ns_labels):
                        add(term, labels, HARD_POD_AFFINITY_WEIGHT)
                for term in existing.preferred_affinity:
                    if term.matches(pod.namespace, pod.labels, ns_labels):
                        add(term, labels, term.weight)
                for term in existing.preferred_anti_affinity:
                    if term.matches(pod.namespace, pod.labels, ns_labels):
                        add(term, labels, -term.weight)
        if not scores:
            return SKIP
        state[self.NAME + "/score"] = scores
        return None

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        scores = state[self.NAME + "/score"]
        return sum(scores.get(pair, 0) for pair in node.labels.items())

    def normalize_score(self, state, pod: PodInfo, scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, s in enumerate(scores):
            scores[i] = int(100 * (s - low) / spread) if spread > 0 else 0
