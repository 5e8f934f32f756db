"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate the
node.kubernetes.io/unschedulable:NoSchedule taint (DaemonSet pods do)."""

from __future__ import annotations

from kybernetes.scheduler.framework import Plugin, Status, unresolvable
from kybernetes.scheduler.matching import tolerates
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable(Plugin):
    NAME = "NodeUnschedulable"

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return None
        return unresolvable(ERR_REASON)

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status | None]:
        one = self.filter
        return [one(state, pod, n) if n.unschedulable else None for n in nodes]
