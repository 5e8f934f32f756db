"""TaintToleration: NoSchedule and NoExecute taints keep out pods that do not tolerate them
(filter); PreferNoSchedule taints make a node less attractive, one point per untolerated taint
(score, reversed: fewer such taints scores higher)."""

from __future__ import annotations

from kybernetes.scheduler.framework import SKIP, Plugin, Status, unresolvable
from kybernetes.scheduler.matching import tolerates, untolerated_taint
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.helpers import default_normalize_score
from kybernetes.scheduler.podinfo import PodInfo

HARD_EFFECTS = ("NoSchedule", "NoExecute")
PREFER = "PreferNoSchedule"


class TaintToleration(Plugin):
    NAME = "TaintToleration"

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        taint = untolerated_taint(node.taints, pod.tolerations, HARD_EFFECTS)
        if taint is None:
            return None
        return unresolvable(f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}")

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status | None]:
        one = self.filter
        return [one(state, pod, n) if n.taints else None for n in nodes]

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not any(t.get("effect") == PREFER for n in nodes for t in n.taints):
            return SKIP  # every node scores the same: nothing to rank
        state[self.NAME] = [t for t in pod.tolerations if (t.get("effect") or PREFER) == PREFER]
        return None

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state[self.NAME]
        return sum(1 for taint in node.taints if taint.get("effect") == PREFER
                   and not any(tolerates(t, taint) for t in tolerations))

    def normalize_score(self, state, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
