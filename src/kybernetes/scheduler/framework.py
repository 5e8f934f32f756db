"""The scheduling framework's vocabulary: status codes, cycle state, plugin hooks, fit errors.

A pod goes through two cycles, as in kube-scheduler:

    scheduling cycle (one pod at a time, never awaits):
        queue sort ─► pre-filter ─► filter (each node) ─► post-filter (preemption, on failure)
                  ─► pre-score ─► score ─► normalize score ─► pick the best ─► reserve ─► permit
    binding cycle (concurrent, awaits the apiserver):
        pre-bind ─► bind ─► post-bind          (a failure anywhere: unreserve, forget, retry)

A plugin is a class with ``NAME`` and only the hooks it implements (methods named as below);
``Profile`` (profile.py) finds them and runs them in order. Hooks return a ``Status`` for the
expected outcomes ("does not fit") and raise only for bugs. In the hot path (filter, score)
``None`` means Success, so the common answer costs nothing.

    pre_filter(state, pod) -> (PreFilterResult | None, Status | None)   Status(SKIP): skip my filter
    filter(state, pod, node_info) -> Status | None
    post_filter(state, pod, statuses) -> (nominated node name | None, Status)
    pre_score(state, pod, nodes) -> Status | None                        Status(SKIP): skip my score
    score(state, pod, node_info) -> int
    filter_nodes / score_nodes(state, pod, nodes) -> list             optional batch forms (speed)
    normalize_score(state, pod, scores: list[int]) -> None               in place
    reserve / unreserve(state, pod, node_name)
    permit(state, pod, node_name) -> Status | None
    async pre_bind / bind / post_bind(state, pod, node_name)             bind: Status(SKIP) = not mine
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


class Status:
    """An outcome with reasons (the words users read in events) and the plugin that said it."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, plugin: str = ""):
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        if not self.plugin:
            self.plugin = plugin
        return self

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {self.reasons!r}, plugin={self.plugin!r})"


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


SKIP = Status(Code.SKIP)


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


class CycleState(dict):
    """Per-cycle scratch space, keyed by plugin name. ``skip_filter`` / ``skip_score`` hold the
    plugins whose pre-filter / pre-score said SKIP for this pod."""

    def __init__(self) -> None:
        super().__init__()
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def clone(self) -> CycleState:
        other = CycleState()
        other.update({k: (v.clone() if hasattr(v, "clone") else v) for k, v in self.items()})
        other.skip_filter = set(self.skip_filter)
        other.skip_score = set(self.skip_score)
        return other


@dataclass
class PreFilterResult:
    """A pre-filter may narrow the nodes worth filtering (``None``: all of them)."""

    node_names: set[str] | None = None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return PreFilterResult(set(other.node_names))
        return PreFilterResult(self.node_names & other.node_names)


class Plugin:
    """Base class of plugins (optional: a plugin only needs NAME and its hooks)."""

    NAME = ""

    def __init__(self, handle: Any = None, args: dict[str, Any] | None = None):
        self.handle = handle
        self.args = args or {}


# -- why a pod did not fit ---------------------------------------------------------------------

NO_NODE_AVAILABLE = "0/{} nodes are available"
NO_NODES_MESSAGE = "no nodes available to schedule pods"


@dataclass
class Diagnosis:
    node_statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_message: str = ""
    post_filter_message: str = ""
    unschedulable_plugins: set[str] = field(default_factory=set)


class FitError(Exception):
    """No node fits the pod; str() is the message kube-scheduler writes in FailedScheduling."""

    def __init__(self, pod_key: str, num_all_nodes: int, diagnosis: Diagnosis):
        super().__init__(pod_key)
        self.pod_key = pod_key
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def histogram(statuses: dict[str, Status] | list[Status]) -> str:
    """"1 Insufficient cpu, 2 node(s) had untolerated taint {...}": counts of each reason, sorted."""
    counts: Counter[str] = Counter()
    for status in (statuses.values() if isinstance(statuses, dict) else statuses):
        counts.update(status.reasons)
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    message = NO_NODE_AVAILABLE.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_message:
        message += f" {diagnosis.pre_filter_message}."
    else:
        reasons = histogram(diagnosis.node_statuses)
        if reasons:
            message += f" {reasons}."
    post = diagnosis.post_filter_message
    if post:
        # Preemption's message is itself a fit error ending in "."; kube-scheduler then adds a
        # second one (".."); we write the single period the familiar message shows.
        message += f" {post}" if post.endswith(".") else f" {post}."
    return message


class NoNodesError(Exception):
    def __str__(self) -> str:
        return NO_NODES_MESSAGE
