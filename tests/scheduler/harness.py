"""A cluster in a SchedulerCache, for plugin and algorithm tests without an apiserver."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.algorithm import Algorithm
from kybernetes.scheduler.cache import SchedulerCache
from kybernetes.scheduler.framework import CycleState, Status
from kybernetes.scheduler.plugins import default_plugins
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.profile import Profile
from kybernetes.scheduler.queue import SchedulingQueue


class FakeHandle:
    def __init__(self) -> None:
        self.cache = SchedulerCache()
        self.namespaces: dict[str, dict[str, str]] = {}
        self.pdb_list: list[dict] = []
        self.queue: SchedulingQueue | None = None
        self.spawned: list[Any] = []

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return self.namespaces.get(namespace, {})

    def pdbs(self) -> list[dict]:
        return self.pdb_list

    def spawn(self, coro) -> None:
        self.spawned.append(coro)
        coro.close()


class Cluster:
    """Nodes and bound pods in a cache, and the default profile over them."""

    def __init__(self, nodes: list[dict], pods: list[dict] | None = None, seed: int = 1):
        import random

        self.handle = FakeHandle()
        for node in nodes:
            self.handle.cache.add_node(node)
        for pod in pods or []:
            self.handle.cache.add_pod(PodInfo(pod))
        self.profile = Profile("default-scheduler", default_plugins(), self.handle)
        self.handle.queue = SchedulingQueue(self.profile.sort_key)
        self.algorithm = Algorithm(self.handle.cache, self.handle.queue, rng=random.Random(seed))

    def plugin(self, name: str):
        return self.profile.plugin(name)

    def filter(self, plugin_name: str, pod: dict, node: str) -> Status | None:
        """Pre-filter then filter one plugin on one node (None: fits)."""
        plugin = self.plugin(plugin_name)
        info = PodInfo(pod)
        state = CycleState()
        if hasattr(plugin, "pre_filter"):
            _, status = plugin.pre_filter(state, info)
            if status is not None and status.is_skip():
                return None
            if status is not None:
                return status
        return plugin.filter(state, info, self.handle.cache.get_node(node))

    def feasible(self, pod: dict) -> list[str]:
        state = CycleState()
        nodes, _ = self.algorithm.find_nodes_that_fit(self.profile, state, PodInfo(pod), self.handle.cache.node_list())
        return sorted(n.name for n in nodes)

    def scores(self, plugin_name: str, pod: dict) -> dict[str, int]:
        """One plugin's normalised scores over every node."""
        plugin = self.plugin(plugin_name)
        info = PodInfo(pod)
        state = CycleState()
        nodes = self.handle.cache.node_list()
        if hasattr(plugin, "pre_score"):
            status = plugin.pre_score(state, info, nodes)
            if status is not None and status.is_skip():
                return {}
        scores = [plugin.score(state, info, n) for n in nodes]
        if hasattr(plugin, "normalize_score"):
            plugin.normalize_score(state, info, scores)
        return {n.name: s for n, s in zip(nodes, scores, strict=True)}

    def schedule(self, pod: dict) -> str:
        info = PodInfo(pod)
        result = self.algorithm.schedule(self.profile, CycleState(), info)
        return result.node

    def place(self, pod: dict) -> str:
        """Schedule and assume (so the next pod sees it)."""
        info = PodInfo(pod)
        node = self.algorithm.schedule(self.profile, CycleState(), info).node
        self.handle.cache.assume_pod(info, node)
        return node
