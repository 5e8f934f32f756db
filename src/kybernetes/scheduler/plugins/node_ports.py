"""NodePorts: a pod asking for host ports fits only where those ports are free (same IP and
protocol; 0.0.0.0 conflicts with every IP)."""

from __future__ import annotations

from kybernetes.scheduler.framework import SKIP, Plugin, PreFilterResult, Status, unschedulable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts(Plugin):
    NAME = "NodePorts"

    def pre_filter(self, state, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if pod.host_ports else SKIP)

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        for ip, protocol, port in pod.host_ports:
            if node.port_in_use(ip, protocol, port):
                return unschedulable(ERR_REASON)
        return None
