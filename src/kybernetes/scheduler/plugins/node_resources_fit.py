"""NodeResourcesFit: the pod's requests must fit in what the node has left (filter), and nodes
with more left score higher (LeastAllocated, the default scoring strategy).

Filter: pod count against allocatable ``pods``, then cpu, memory, ephemeral-storage and every
extended resource the pod requests (``Insufficient cpu``, ``Too many pods``, ...; every shortage
is reported). When a request exceeds the node's whole allocatable, evicting pods cannot help,
so the status is UnschedulableAndUnresolvable and preemption skips the node.

Score (LeastAllocated over cpu and memory, weight 1 each): ``(allocatable - requested) * 100 /
allocatable`` per resource, averaged; requested counts containers without requests as 0.1 cpu
and 200 MB (the "non-zero" requests) so empty pods still spread. ``MostAllocated`` (bin packing)
is available through the plugin args ``{"scoringStrategy": {"type": "MostAllocated"}}``.
"""

from __future__ import annotations

from kybernetes.scheduler.framework import Code, Plugin, Status
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

TOO_MANY_PODS = "Too many pods"


def insufficient(pod: PodInfo, node: NodeInfo) -> list[tuple[str, bool]]:
    """(reason, unresolvable) for every resource the node lacks."""
    out: list[tuple[str, bool]] = []
    if len(node.pods) + 1 > node.allowed_pods:
        out.append((TOO_MANY_PODS, node.allowed_pods < 1))
    req = pod.requests
    if not (req.milli_cpu or req.memory or req.ephemeral or req.scalars):
        return out
    alloc, used = node.allocatable, node.requested
    if req.milli_cpu and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(("Insufficient cpu", req.milli_cpu > alloc.milli_cpu))
    if req.memory and req.memory > alloc.memory - used.memory:
        out.append(("Insufficient memory", req.memory > alloc.memory))
    if req.ephemeral and req.ephemeral > alloc.ephemeral - used.ephemeral:
        out.append(("Insufficient ephemeral-storage", req.ephemeral > alloc.ephemeral))
    for name, value in req.scalars.items():
        if value and value > alloc.scalars.get(name, 0) - used.scalars.get(name, 0):
            out.append((f"Insufficient {name}", value > alloc.scalars.get(name, 0)))
    return out


def least_requested(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * 100 // capacity


def most_requested(requested: int, capacity: int) -> int:
    if capacity <= 0:
        return 0
    return min(requested, capacity) * 100 // capacity


class NodeResourcesFit(Plugin):
    NAME = "NodeResourcesFit"

    def __init__(self, handle=None, args=None):
        super().__init__(handle, args)
        strategy = (self.args.get("scoringStrategy") or {}).get("type") or "LeastAllocated"
        if strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(f"NodeResourcesFit: scoring strategy {strategy!r} is not supported")
        self._scorer = least_requested if strategy == "LeastAllocated" else most_requested

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        # The common case inline: room for one more pod and for every request.
        req = pod.requests
        alloc, used = node.allocatable, node.requested
        if (len(node.pods) < node.allowed_pods and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu
                and req.memory <= alloc.memory - used.memory and not req.ephemeral and not req.scalars):
            return None
        shortages = insufficient(pod, node)
        if not shortages:
            return None
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if any(u for _, u in shortages) else Code.UNSCHEDULABLE
        return Status(code, *(reason for reason, _ in shortages))

    def filter_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status | None]:
        req = pod.requests
        if req.ephemeral or req.scalars:
            return [self.filter(state, pod, n) for n in nodes]
        cpu, memory, one = req.milli_cpu, req.memory, self.filter
        return [None if (cpu <= n.free_cpu and memory <= n.free_memory and len(n.pods) < n.allowed_pods)
                else one(state, pod, n) for n in nodes]

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, memory = pod.non_zero_cpu, pod.non_zero_memory
        if self._scorer is not least_requested:
            scorer = self._scorer
            return [(scorer(n.non_zero_cpu + cpu, n.alloc_cpu) + scorer(n.non_zero_memory + memory, n.alloc_memory))
                    // 2 for n in nodes]
        # least_requested inlined: this runs for every feasible node of every pod.
        return [(((n.alloc_cpu - n.non_zero_cpu - cpu) * 100 // n.alloc_cpu
                  if n.alloc_cpu > 0 and n.non_zero_cpu + cpu <= n.alloc_cpu else 0)
                 + ((n.alloc_memory - n.non_zero_memory - memory) * 100 // n.alloc_memory
                    if n.alloc_memory > 0 and n.non_zero_memory + memory <= n.alloc_memory else 0)) // 2
                for n in nodes]

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        scorer = self._scorer
        cpu = scorer(node.non_zero_cpu + pod.non_zero_cpu, node.allocatable.milli_cpu)
        memory = scorer(node.non_zero_memory + pod.non_zero_memory, node.allocatable.memory)
        return (cpu + memory) // 2
