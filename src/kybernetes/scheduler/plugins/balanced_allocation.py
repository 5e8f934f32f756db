"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal
proportion after placing the pod: score = (1 - std of the used fractions) * 100, where for two
resources the std is |cpu fraction - memory fraction| / 2. Uses the real requests (not the
non-zero defaults); a pod that requests nothing is not scored."""

from __future__ import annotations

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, Plugin, Status
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo


class BalancedAllocation(Plugin):
    NAME = "NodeResourcesBalancedAllocation"

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.requests.milli_cpu and not pod.requests.memory:
            return SKIP
        return None

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        alloc = node.allocatable
        fractions = []
        if alloc.milli_cpu > 0:
            fractions.append(min(1.0, (node.requested.milli_cpu + pod.requests.milli_cpu) / alloc.milli_cpu))
        if alloc.memory > 0:
            fractions.append(min(1.0, (node.requested.memory + pod.requests.memory) / alloc.memory))
        std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
        return int((1 - std) * MAX_NODE_SCORE)

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, memory = pod.requests.milli_cpu, pod.requests.memory
        try:
            return [int((1.0 - abs(((fc if fc < 1.0 else 1.0) - (fm if fm < 1.0 else 1.0))) / 2) * MAX_NODE_SCORE)
                    for n in nodes
                    for fc, fm in (((n.alloc_cpu - n.free_cpu + cpu) / n.alloc_cpu,
                                    (n.alloc_memory - n.free_memory + memory) / n.alloc_memory),)]
        except ZeroDivisionError:  # a node without cpu or memory: the careful way
            return [self.score(state, pod, n) for n in nodes]
