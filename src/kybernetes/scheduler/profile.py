"""Profile: one schedulerName's plugins, wired into the extension points, and the code that runs
them in order (kube-scheduler's frameworkImpl).

A profile is built from ``(plugin class, weight, args)`` entries; each plugin appears at every
extension point whose hook it defines, in the order of the entries. The hot paths (filter and
score over many nodes) are plain loops over pre-bound methods, with per-pod skips decided once
in pre-filter / pre-score.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    Code,
    CycleState,
    PreFilterResult,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)

HOOKS = ("sort_key", "pre_filter", "filter", "post_filter", "pre_score", "score", "normalize_score",
         "reserve", "unreserve", "permit", "pre_bind", "bind", "post_bind")


@dataclass
class PluginConfig:
    plugin: type
    weight: int = 1
    args: dict[str, Any] = field(default_factory=dict)


class Profile:
    def __init__(self, scheduler_name: str, plugins: Iterable[PluginConfig], handle: Any = None):
        self.scheduler_name = scheduler_name
        self.handle = handle
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        self.points: dict[str, list[Any]] = {hook: [] for hook in HOOKS}
        for config in plugins:
            plugin = config.plugin(handle, config.args)
            plugin.profile = self  # preemption re-runs its own profile's filters
            name = plugin.NAME
            if name in self.plugins:
                raise ValueError(f"profile {scheduler_name}: plugin {name} listed twice")
            self.plugins[name] = plugin
            self.weights[name] = config.weight
            for hook in HOOKS:
                if callable(getattr(plugin, hook, None)):
                    self.points[hook].append(plugin)
        if not self.points["sort_key"]:
            raise ValueError(f"profile {scheduler_name}: needs a queue sort plugin")
        if not self.points["bind"]:
            raise ValueError(f"profile {scheduler_name}: needs a bind plugin")
        # (name, filter one node, filter many nodes or None): plugins may offer a batch form
        # (``filter_nodes(state, pod, nodes) -> [Status | None]``) that loops in one place.
        self._filters = [(p.NAME, p.filter, getattr(p, "filter_nodes", None)) for p in self.points["filter"]]

    def plugin(self, name: str) -> Any:
        return self.plugins.get(name)

    # -- queue sort ------------------------------------------------------------------------------

    def sort_key(self, pod: PodInfo, timestamp: float) -> Any:
        return self.points["sort_key"][0].sort_key(pod, timestamp)

    # -- filtering -------------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult, Status | None]:
        """The merged node restriction, and the first rejection (with its plugin) if any."""
        result = PreFilterResult()
        for plugin in self.points["pre_filter"]:
            narrowed, status = plugin.pre_filter(state, pod)
            if status is not None and status.code != Code.SUCCESS:
                if status.code == Code.SKIP:
                    state.skip_filter.add(plugin.NAME)
                    continue
                return result, status.with_plugin(plugin.NAME)
            result = result.merge(narrowed)
            if result.node_names is not None and not result.node_names:
                return result, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                      f"node(s) didn't satisfy plugin {plugin.NAME}",
                                      plugin=plugin.NAME)
        return result, None

    def filters_for(self, state: CycleState) -> list[tuple[str, Any, Any]]:
        """The (name, filter, batch filter) triples that apply to this cycle's pod."""
        if not state.skip_filter:
            return self._filters
        return [f for f in self._filters if f[0] not in state.skip_filter]

    @staticmethod
    def run_filters(filters: list[tuple[str, Any, Any]], state: CycleState, pod: PodInfo,
                    node: NodeInfo) -> Status | None:
        for name, run, _ in filters:
            status = run(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(name)
        return None

    def run_post_filter(self, state: CycleState, pod: PodInfo,
                        statuses: dict[str, Status]) -> tuple[str | None, Status | None]:
        last: Status | None = None
        for plugin in self.points["post_filter"]:
            nominated, status = plugin.post_filter(state, pod, statuses)
            if status is not None and status.code == Code.SUCCESS:
                return nominated, status
            last = status
        return None, last

    # -- scoring ---------------------------------------------------------------------------------

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Total weighted score per node (same order as ``nodes``)."""
        totals = [0] * len(nodes)
        for plugin in self.points["pre_score"]:
            status = plugin.pre_score(state, pod, nodes)
            if status is not None and status.code == Code.SKIP:
                state.skip_score.add(plugin.NAME)
        for plugin in self.points["score"]:
            name = plugin.NAME
            if name in state.skip_score:
                continue
            batch = getattr(plugin, "score_nodes", None)
            if batch is not None:
                scores = batch(state, pod, nodes)
            else:
                score = plugin.score
                scores = [score(state, pod, n) for n in nodes]
            normalize = getattr(plugin, "normalize_score", None)
            if normalize is not None:
                normalize(state, pod, scores)
            if scores and (min(scores) < 0 or max(scores) > MAX_NODE_SCORE):
                raise ValueError(f"plugin {name} scored outside [0, {MAX_NODE_SCORE}]: {scores}")
            weight = self.weights.get(name, 1)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    # -- reserve, permit, bind -------------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.points["reserve"]:
            status = plugin.reserve(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                self.run_unreserve(state, pod, node)
                return status.with_plugin(plugin.NAME)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in reversed(self.points["unreserve"]):
            try:
                plugin.unreserve(state, pod, node)
            except Exception:
                log.exception("unreserve of %s by %s failed", pod.key, plugin.NAME)

    def run_permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.points["permit"]:
            status = plugin.permit(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.NAME)
        return None

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.points["pre_bind"]:
            status = await plugin.pre_bind(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.NAME)
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.points["bind"]:
            status = await plugin.bind(state, pod, node)
            if status is not None and status.code == Code.SKIP:
                continue
            return status.with_plugin(plugin.NAME) if status is not None else None
        return Status(Code.ERROR, "no bind plugin bound the pod")

    async def run_post_bind(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in self.points["post_bind"]:
            try:
                await plugin.post_bind(state, pod, node)
            except Exception:
                log.exception("post-bind of %s by %s failed", pod.key, plugin.NAME)
