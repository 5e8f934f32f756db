"""NodeInfo: one node and the pods the scheduler counts on it (bound and assumed).

The totals a filter needs are kept up to date as pods come and go (requested resources, the
"non-zero" requests used for scoring, host ports in use, the pods that carry affinity terms), so
checking a node is a handful of integer comparisons. ``clone`` is for preemption's what-ifs only;
the scheduling cycle itself reads the live NodeInfos (it never awaits in the middle, so nothing
changes under it).
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.resources import PODS, Resource, int_value

Obj = dict[str, Any]
DEFAULT_MAX_PODS = 110


class NodeInfo:
    __slots__ = ("node", "name", "labels", "taints", "unschedulable", "allocatable", "allowed_pods",
                 "requested", "non_zero_cpu", "non_zero_memory", "pods", "pods_with_affinity",
                 "pods_with_required_anti_affinity", "used_ports", "generation",
                 "alloc_cpu", "alloc_memory", "free_cpu", "free_memory")

    def __init__(self, node: Obj | None = None, name: str = ""):
        self.node: Obj | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.allocatable = Resource()
        self.allowed_pods = 0
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.generation = 0
        # Plain ints mirrored from allocatable / requested, for the hot loops (one lookup each).
        self.alloc_cpu = self.alloc_memory = self.free_cpu = self.free_memory = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name") or self.name
        self.labels = meta.get("labels") or {}
        self.taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
        self.unschedulable = bool(spec.get("unschedulable"))
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        self.allocatable = Resource.from_list(allocatable)
        self.allowed_pods = int_value(allocatable[PODS]) if PODS in allocatable else DEFAULT_MAX_PODS
        self._mirror()

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        self._account(pod, 1)
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        self._account(pod, -1)
        self.pods_with_affinity.pop(key, None)
        self.pods_with_required_anti_affinity.pop(key, None)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        self.requested.add(pod.requests, sign)
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        self._mirror()
        for port in pod.host_ports:
            count = self.used_ports.get(port, 0) + sign
            if count > 0:
                self.used_ports[port] = count
            else:
                self.used_ports.pop(port, None)

    def _mirror(self) -> None:
        self.alloc_cpu = self.allocatable.milli_cpu
        self.alloc_memory = self.allocatable.memory
        self.free_cpu = self.alloc_cpu - self.requested.milli_cpu
        self.free_memory = self.alloc_memory - self.requested.memory
        self.generation += 1

    def port_in_use(self, ip: str, protocol: str, port: int) -> bool:
        """A host port conflicts with the same one on the same IP, and 0.0.0.0 with every IP."""
        if not self.used_ports:
            return False
        if ip == "0.0.0.0":
            return any(p == port and proto == protocol for (_, proto, p) in self.used_ports)
        return (ip, protocol, port) in self.used_ports or ("0.0.0.0", protocol, port) in self.used_ports

    def clone(self) -> NodeInfo:
        other = NodeInfo(name=self.name)
        other.node, other.labels, other.taints = self.node, self.labels, self.taints
        other.unschedulable, other.allocatable, other.allowed_pods = self.unschedulable, self.allocatable, \
            self.allowed_pods
        other.requested = self.requested.copy()
        other.non_zero_cpu, other.non_zero_memory = self.non_zero_cpu, self.non_zero_memory
        other.pods = dict(self.pods)
        other.pods_with_affinity = dict(self.pods_with_affinity)
        other.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        other.used_ports = dict(self.used_ports)
        other._mirror()
        other.generation = self.generation
        return other

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested={self.requested!r})"
