"""Finding a pod's sandbox and containers in the runtimes a streaming server fronts.

A real node's server fronts one runtime; the server of a group of simulated nodes fronts every
simulated node's runtime (as kwok's one server answers for all its fake nodes). Either way a pod
is found by the labels the kubelet put on what it created: namespace, name and container name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kybernetes.kubelet.runtime import protocol as cri


class TargetError(Exception):
    """The pod, container or sandbox is not on this node (HTTP 404), or not usable now (400)."""

    def __init__(self, message: str, code: int = 404):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Node:
    name: str
    runtime: Any  # a RuntimeService, also StreamingRuntime / StatsRuntime when it offers those


@dataclass(frozen=True)
class FoundContainer:
    node: Node
    status: cri.ContainerStatus

    @property
    def running(self) -> bool:
        return self.status.state == cri.ContainerState.CONTAINER_RUNNING


class PodResolver:
    def __init__(self, nodes: Callable[[], Iterable[Node]]):
        self.nodes = nodes

    async def sandbox(self, namespace: str, pod: str) -> tuple[Node, cri.PodSandbox]:
        """The pod's newest ready sandbox."""
        selector = {cri.POD_NAMESPACE_LABEL: namespace, cri.POD_NAME_LABEL: pod}
        for node in self.nodes():
            found = await node.runtime.list_pod_sandbox(cri.PodSandboxFilter(
                state=cri.PodSandboxState.SANDBOX_READY, label_selector=selector))
            if found:
                return node, max(found, key=lambda s: (s.metadata.attempt, s.created_at))
        raise TargetError(f'pod "{pod}" in namespace "{namespace}" has no running sandbox on this node')

    async def attempts(self, namespace: str, pod: str, container: str) -> list[FoundContainer]:
        """Every attempt of the container the runtime still holds, newest first."""
        selector = {cri.POD_NAMESPACE_LABEL: namespace, cri.POD_NAME_LABEL: pod,
                    cri.CONTAINER_NAME_LABEL: container}
        for node in self.nodes():
            listed = await node.runtime.list_containers(cri.ContainerFilter(label_selector=selector))
            out = []
            for c in listed:
                try:
                    out.append(FoundContainer(node, await node.runtime.container_status(c.id)))
                except cri.NotFoundError:
                    continue
            if out:
                out.sort(key=lambda f: (f.status.metadata.attempt, f.status.created_at), reverse=True)
                return out
        raise TargetError(f'container "{container}" in pod "{pod}" is not available')

    async def container(self, namespace: str, pod: str, container: str, *, previous: bool = False) -> FoundContainer:
        attempts = await self.attempts(namespace, pod, container)
        if not previous:
            return attempts[0]
        if len(attempts) < 2:
            raise TargetError(f'previous terminated container "{container}" in pod "{pod}" not found', 400)
        return attempts[1]

    async def running(self, namespace: str, pod: str, container: str) -> FoundContainer:
        found = await self.container(namespace, pod, container)
        if not found.running:
            raise TargetError(f'container "{container}" in pod "{pod}" is not running', 400)
        return found
