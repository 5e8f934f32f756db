"""The scheduler's cache: every node and the pods counted on it, including *assumed* pods.

A pod is assumed on its node the moment the scheduling cycle picks the node, before the binding
is written: the next pod's cycle already sees the space as taken, so binding can run
concurrently without two pods being placed into the same last slot. When the informer later
delivers the pod with spec.nodeName set, the assumption is confirmed; if the binding fails, the
pod is forgotten and the space freed.

    informer (nodes) ──► add/update/remove_node
    informer (pods with a node) ──► add/update/remove_pod      (confirms an assumed pod)
    scheduling cycle ──► assume_pod ──► binding ok: (wait for informer) / failed: forget_pod

Pods may arrive before their node (a pod bound to a node the node informer has not delivered
yet): they are counted on a placeholder NodeInfo that has no node object and is never offered
to the filters until the node appears.
"""

from __future__ import annotations

import copy
import logging

from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, PodInfo] = {}  # key -> the PodInfo counted (node_name set)
        self._assumed: set[str] = set()
        self._node_list: list[NodeInfo] | None = None
        self.pods_with_affinity = 0  # how many cached pods carry (anti-)affinity terms
        self.pods_with_required_anti_affinity = 0

    # -- nodes ---------------------------------------------------------------------------------

    def add_node(self, node: dict) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name") or ""
        info = self.nodes.get(name)
        if info is None:
            info = NodeInfo(node)
            self.nodes[name] = info
            self._node_list = None
        else:
            if info.node is None:
                self._node_list = None
            info.set_node(node)
        return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        if info.pods:
            info.node = None  # keep counting its pods until they go
        else:
            del self.nodes[name]
        self._node_list = None

    def node_list(self) -> list[NodeInfo]:
        """The nodes that exist, in a stable order (the order the scheduler samples them in)."""
        if self._node_list is None:
            self._node_list = [n for n in self.nodes.values() if n.node is not None]
        return self._node_list

    def get_node(self, name: str) -> NodeInfo | None:
        info = self.nodes.get(name)
        return info if info is not None and info.node is not None else None

    # -- pods ------------------------------------------------------------------------------------

    def get_pod(self, key: str) -> PodInfo | None:
        return self._pods.get(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def assume_pod(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Count ``pod`` on ``node_name`` before its binding is written."""
        if pod.key in self._pods:
            raise ValueError(f"pod {pod.key} is already in the scheduler cache")
        assumed = copy.copy(pod)
        assumed.node_name = node_name
        self._add(assumed)
        self._assumed.add(pod.key)
        return assumed

    def forget_pod(self, key: str) -> None:
        """Drop an assumed pod (its binding failed)."""
        if key in self._assumed:
            self._assumed.discard(key)
            self._remove(key)

    def add_pod(self, pod: PodInfo) -> None:
        """A pod with spec.nodeName from the informer (confirms an assumed one)."""
        if pod.key in self._pods:
            self._remove(pod.key)
        self._assumed.discard(pod.key)
        self._add(pod)

    update_pod = add_pod

    def remove_pod(self, key: str) -> None:
        self._assumed.discard(key)
        self._remove(key)

    def _add(self, pod: PodInfo) -> None:
        info = self.nodes.get(pod.node_name)
        if info is None:
            info = NodeInfo(name=pod.node_name)
            self.nodes[pod.node_name] = info
        info.add_pod(pod)
        self._pods[pod.key] = pod
        if pod.has_affinity:
            self.pods_with_affinity += 1
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity += 1

    def _remove(self, key: str) -> None:
        pod = self._pods.pop(key, None)
        if pod is None:
            return
        info = self.nodes.get(pod.node_name)
        if info is not None:
            info.remove_pod(key)
            if info.node is None and not info.pods:
                del self.nodes[pod.node_name]
        if pod.has_affinity:
            self.pods_with_affinity -= 1
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity -= 1

    # -- what-ifs (preemption): take pods out of the live cache and put them back ----------------

    def take_out(self, key: str) -> tuple[PodInfo, bool] | None:
        pod = self._pods.get(key)
        if pod is None:
            return None
        assumed = key in self._assumed
        self._assumed.discard(key)
        self._remove(key)
        return pod, assumed

    def put_back(self, taken: tuple[PodInfo, bool]) -> None:
        pod, assumed = taken
        self._add(pod)
        if assumed:
            self._assumed.add(pod.key)

    def pods(self) -> list[PodInfo]:
        return list(self._pods.values())

    def __len__(self) -> int:
        return len(self._pods)
