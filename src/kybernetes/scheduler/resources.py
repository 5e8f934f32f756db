"""Resource amounts as the scheduler counts them: integers, parsed once, summed the Kubernetes way.

CPU is counted in millicores and everything else (memory, ephemeral-storage, extended resources
such as nvidia.com/gpu, hugepages-*) in whole units, as kube-scheduler's framework.Resource does.
Quantity strings repeat a lot ("100m", "128Mi"), so their parse is cached.

A pod's request (``pod_requests``) is what kubelet admission and the scheduler agree on:

    max( sum(containers) + sum(sidecars),  the largest init step )  + overhead

where a restartable init container (``restartPolicy: Always``, a sidecar) keeps running after it
starts, so it adds to everything after it, and an ordinary init container only needs its own
request plus the sidecars started before it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity

CPU, MEMORY, EPHEMERAL, PODS = "cpu", "memory", "ephemeral-storage", "pods"
# What a container without requests is counted as when spreading load (LeastAllocated, and the
# "non-zero" totals), as in kube-scheduler: 0.1 core and 200 MB.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@lru_cache(maxsize=4096)
def milli_value(text: Any) -> int:
    try:
        return parse_quantity(text).milli
    except QuantityError:
        return 0


@lru_cache(maxsize=4096)
def int_value(text: Any) -> int:
    try:
        return int(parse_quantity(text))
    except QuantityError:
        return 0


class Resource:
    """An amount of cpu (millicores), memory, ephemeral storage and scalar (extended) resources."""

    __slots__ = ("milli_cpu", "memory", "ephemeral", "scalars")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral: int = 0,
                 scalars: dict[str, int] | None = None):
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral = ephemeral
        self.scalars = scalars or {}

    @classmethod
    def from_list(cls, values: dict[str, Any] | None) -> Resource:
        """From a ResourceList (``{"cpu": "2", "memory": "4Gi", ...}``); ``pods`` is left out."""
        out = cls()
        for name, value in (values or {}).items():
            if name == CPU:
                out.milli_cpu = milli_value(value)
            elif name == MEMORY:
                out.memory = int_value(value)
            elif name == EPHEMERAL:
                out.ephemeral = int_value(value)
            elif name != PODS:
                out.scalars[name] = int_value(value)
        return out

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral, dict(self.scalars))

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral += sign * other.ephemeral
        for name, value in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + sign * value

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral = max(self.ephemeral, other.ephemeral)
        for name, value in other.scalars.items():
            self.scalars[name] = max(self.scalars.get(name, 0), value)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral or any(self.scalars.values()))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Resource) and self.milli_cpu == other.milli_cpu
                and self.memory == other.memory and self.ephemeral == other.ephemeral
                and {k: v for k, v in self.scalars.items() if v} == {k: v for k, v in other.scalars.items() if v})

    def __repr__(self) -> str:
        return f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, ephemeral={self.ephemeral}, {self.scalars})"


def _requests(container: dict[str, Any]) -> Resource:
    return Resource.from_list((container.get("resources") or {}).get("requests"))


def pod_requests(spec: dict[str, Any]) -> Resource:
    """The pod's effective request (see the module docstring)."""
    total = Resource()
    for c in spec.get("containers") or []:
        if isinstance(c, dict):
            total.add(_requests(c))
    sidecars = Resource()
    init_peak = Resource()
    for c in spec.get("initContainers") or []:
        if not isinstance(c, dict):
            continue
        req = _requests(c)
        if c.get("restartPolicy") == "Always":
            total.add(req)
            sidecars.add(req)
            step = sidecars.copy()
        else:
            step = req.copy()
            step.add(sidecars)
        init_peak.set_max(step)
    total.set_max(init_peak)
    total.add(Resource.from_list(spec.get("overhead")))
    return total


def non_zero_requests(spec: dict[str, Any]) -> tuple[int, int]:
    """(milli_cpu, memory) with the defaults for containers that request none, for scoring."""
    cpu = mem = 0
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += milli_value(req[CPU]) if CPU in req else DEFAULT_MILLI_CPU_REQUEST
        mem += int_value(req[MEMORY]) if MEMORY in req else DEFAULT_MEMORY_REQUEST
    init_cpu = init_mem = side_cpu = side_mem = 0
    for c in spec.get("initContainers") or []:
        if not isinstance(c, dict):
            continue
        req = (c.get("resources") or {}).get("requests") or {}
        c_cpu = milli_value(req[CPU]) if CPU in req else DEFAULT_MILLI_CPU_REQUEST
        c_mem = int_value(req[MEMORY]) if MEMORY in req else DEFAULT_MEMORY_REQUEST
        if c.get("restartPolicy") == "Always":
            cpu, mem = cpu + c_cpu, mem + c_mem
            side_cpu, side_mem = side_cpu + c_cpu, side_mem + c_mem
            init_cpu, init_mem = max(init_cpu, side_cpu), max(init_mem, side_mem)
        else:
            init_cpu, init_mem = max(init_cpu, c_cpu + side_cpu), max(init_mem, c_mem + side_mem)
    overhead = Resource.from_list(spec.get("overhead"))
    return max(cpu, init_cpu) + overhead.milli_cpu, max(mem, init_mem) + overhead.memory
