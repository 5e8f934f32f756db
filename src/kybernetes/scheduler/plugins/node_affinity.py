"""NodeAffinity: spec.nodeSelector and required node affinity (filter), preferred node affinity
terms' weights (score). A required affinity that pins metadata.name narrows the nodes to filter
already in pre-filter."""

from __future__ import annotations

from kybernetes.scheduler.framework import SKIP, Plugin, PreFilterResult, Status, unresolvable
from kybernetes.scheduler.matching import NodeSelectorTerm, RequiredNodeAffinity
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.helpers import default_normalize_score
from kybernetes.scheduler.podinfo import PodInfo

ERR_REASON = "node(s) didn't match Pod's node affinity/selector"


def preferred_terms(pod: PodInfo) -> list[tuple[int, NodeSelectorTerm]]:
    node_affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for item in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(item, dict) and isinstance(item.get("preference"), dict) and item.get("weight"):
            out.append((int(item["weight"]), NodeSelectorTerm(item["preference"])))
    return out


class NodeAffinity(Plugin):
    NAME = "NodeAffinity"

    def pre_filter(self, state, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        required = RequiredNodeAffinity(pod.spec)
        if required.empty:
            return None, SKIP
        state[self.NAME] = required
        names = required.required.node_names() if required.required is not None else None
        return (PreFilterResult(names) if names is not None else None), None

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        required = state.get(self.NAME)
        if required is None:
            required = state[self.NAME] = RequiredNodeAffinity(pod.spec)
        if required.matches(node.name, node.labels):
            return None
        return unresolvable(ERR_REASON)

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        terms = preferred_terms(pod)
        if not terms:
            return SKIP
        state[self.NAME + "/preferred"] = terms
        return None

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        return sum(w for w, term in state[self.NAME + "/preferred"] if term.matches(node.name, node.labels))

    def normalize_score(self, state, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores)
