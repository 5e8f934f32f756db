"""NodeName: a pod that names its node (spec.nodeName) fits only there."""

from __future__ import annotations

from kybernetes.scheduler.framework import SKIP, Plugin, PreFilterResult, Status, unresolvable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName(Plugin):
    NAME = "NodeName"

    def pre_filter(self, state, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.node_name:
            return None, SKIP
        return PreFilterResult({pod.node_name}), None

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return unresolvable(ERR_REASON)
        return None
