"""PodTopologySpread: keep matching pods evenly spread over topology domains (zones, nodes, ...).

For each constraint (maxSkew, topologyKey, whenUnsatisfiable, labelSelector, matchLabelKeys,
minDomains, nodeAffinityPolicy, nodeTaintsPolicy) the pods matching the selector in the pod's
namespace are counted per domain, over the nodes the constraint considers: nodes with every
constraint's topology key that, by default, match the pod's nodeSelector / required node
affinity (nodeAffinityPolicy Honor) whatever their taints (nodeTaintsPolicy Ignore).

Filter (DoNotSchedule): placing the pod in the node's domain must keep
``count(domain) + self - min(count over domains) <= maxSkew``, where ``self`` is 1 if the pod
matches its own selector and the minimum is 0 while fewer than minDomains domains exist. A node
without the topology key cannot take the pod at all.

Score (ScheduleAnyway): fewer matching pods in the node's domains scores higher; each
constraint's count is weighted by log(number of domains + 2), then scores are normalised so the
emptiest domain gets 100.
"""

from __future__ import annotations

import math
from typing import Any

from kybernetes.scheduler.framework import SKIP, Plugin, PreFilterResult, Status, unresolvable, unschedulable
from kybernetes.scheduler.matching import RequiredNodeAffinity, untolerated_taint
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import AffinityTerm, PodInfo

ERR_REASON = "node(s) didn't match pod topology spread constraints"
ERR_REASON_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
INVALID = -1


class Constraint:
    __slots__ = ("max_skew", "key", "hard", "selector", "min_domains", "honor_affinity", "honor_taints")

    def __init__(self, spec: dict[str, Any], pod: PodInfo):
        self.max_skew = int(spec.get("maxSkew") or 1)
        self.key = spec.get("topologyKey") or ""
        self.hard = (spec.get("whenUnsatisfiable") or "DoNotSchedule") == "DoNotSchedule"
        term = {"labelSelector": spec.get("labelSelector"), "matchLabelKeys": spec.get("matchLabelKeys"),
                "namespaces": [pod.namespace]}
        self.selector = AffinityTerm(term, pod.namespace, pod.labels).selector
        self.min_domains = int(spec.get("minDomains") or 1)
        self.honor_affinity = (spec.get("nodeAffinityPolicy") or "Honor") == "Honor"
        self.honor_taints = (spec.get("nodeTaintsPolicy") or "Ignore") == "Honor"


# Applied (as scoring only) to a pod with no constraints of its own, over the pods of the same
# Services / ReplicaSets / StatefulSets / ReplicationControllers: kube-scheduler's system defaults.
SYSTEM_DEFAULTS = ((HOSTNAME, 3), ("topology.kubernetes.io/zone", 5))


def constraints_of(pod: PodInfo, hard: bool) -> list[Constraint]:
    specs = [c for c in pod.spec.get("topologySpreadConstraints") or [] if isinstance(c, dict)]
    return [c for c in (Constraint(s, pod) for s in specs) if c.hard == hard]


def system_default_constraints(pod: PodInfo, handle: Any) -> list[Constraint]:
    lookup = getattr(handle, "default_spread_selector", None)
    selector = lookup(pod) if lookup is not None else None
    if selector is None:
        return []
    out = []
    for key, skew in SYSTEM_DEFAULTS:
        c = Constraint({"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway"}, pod)
        c.selector = selector
        out.append(c)
    return out


def node_counts(c: Constraint, pod: PodInfo, node: NodeInfo, affinity: RequiredNodeAffinity) -> bool:
    """Does ``node`` take part in constraint ``c`` (node inclusion policies)?"""
    if c.honor_affinity and not affinity.matches(node.name, node.labels):
        return False
    if c.honor_taints and untolerated_taint(node.taints, pod.tolerations, ("NoSchedule", "NoExecute")):
        return False
    return True


def count_matching(c: Constraint, pod: PodInfo, node: NodeInfo) -> int:
    return sum(1 for p in node.pods.values()
               if p.namespace == pod.namespace and not p.deleting and c.selector.matches(p.labels))


class _FilterState:
    __slots__ = ("constraints", "counts", "min_counts")

    def __init__(self, constraints: list[Constraint], counts: list[dict[str, int]], min_counts: list[int]):
        self.constraints = constraints
        self.counts = counts  # per constraint: domain value -> matching pods
        self.min_counts = min_counts

    def clone(self) -> _FilterState:
        return _FilterState(self.constraints, [dict(c) for c in self.counts], list(self.min_counts))


class PodTopologySpread(Plugin):
    NAME = "PodTopologySpread"
    MEMO_SELECTORS = 256

    def __init__(self, handle: Any = None, args: dict[str, Any] | None = None):
        super().__init__(handle, args)
        # (namespace, selector) -> node name -> (node generation, matching pods). Pods of one
        # Deployment ask the same question over and over; only nodes that changed since (their
        # generation moved: a pod came or went) are counted again.
        self._memo: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}

    def _domain_counts(self, c: Constraint, pod: PodInfo, affinity: RequiredNodeAffinity, nodes: list[NodeInfo],
                       keys: list[str] | None = None, domain: set[str] | None = None) -> dict[str, int]:
        """Matching pods per domain of ``c`` (every counted domain present, zeros included)."""
        memo_key = (pod.namespace, "<nothing>" if c.selector.nothing else str(c.selector))
        per_node = self._memo.get(memo_key)
        if per_node is None:
            if len(self._memo) >= self.MEMO_SELECTORS:
                self._memo.clear()
            per_node = self._memo[memo_key] = {}
        counts: dict[str, int] = {}
        label = c.key
        check_affinity = c.honor_affinity and not affinity.empty
        for node in nodes:
            labels = node.labels
            value = labels.get(label)
            if value is None or (domain is not None and value not in domain):
                continue
            if keys is not None and not all(k in labels for k in keys):
                continue
            if (check_affinity or c.honor_taints) and not node_counts(c, pod, node, affinity):
                continue
            seen = per_node.get(node.name)
            if seen is not None and seen[0] == node.generation:
                n = seen[1]
            else:
                n = count_matching(c, pod, node)
                per_node[node.name] = (node.generation, n)
            counts[value] = counts.get(value, 0) + n
        return counts

    # -- filter ----------------------------------------------------------------------------------

    def pre_filter(self, state, pod: PodInfo) -> tuple[PreFilterResult | None, Status | None]:
        constraints = constraints_of(pod, hard=True)
        if not constraints:
            return None, SKIP
        affinity = RequiredNodeAffinity(pod.spec)
        nodes = self.handle.cache.node_list()
        keys = [c.key for c in constraints]
        counts = [self._domain_counts(c, pod, affinity, nodes, keys=keys) for c in constraints]
        min_counts = [0 if len(cnt) < c.min_domains else min(cnt.values(), default=0)
                      for c, cnt in zip(constraints, counts, strict=True)]
        state[self.NAME] = _FilterState(constraints, counts, min_counts)
        return None, None

    def filter(self, state, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _FilterState | None = state.get(self.NAME)
        if st is None:
            return None
        for c, counts, min_count in zip(st.constraints, st.counts, st.min_counts, strict=True):
            value = node.labels.get(c.key)
            if value is None:
                return unresolvable(ERR_REASON_MISSING_LABEL)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            if counts.get(value, 0) + self_match - min_count > c.max_skew:
                return unschedulable(ERR_REASON)
        return None

    # -- score -----------------------------------------------------------------------------------

    def pre_score(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        constraints = constraints_of(pod, hard=False)
        require_all = True
        if not constraints and not pod.spec.get("topologySpreadConstraints"):
            constraints, require_all = system_default_constraints(pod, self.handle), False
        if not constraints:
            return SKIP
        affinity = RequiredNodeAffinity(pod.spec)
        candidates = [n for n in nodes if all(c.key in n.labels for c in constraints)] if require_all else nodes
        domains: list[set[str]] = [{n.labels[c.key] for n in candidates if c.key in n.labels} for c in constraints]
        all_nodes = self.handle.cache.node_list()
        # Per-node domains (hostname) are exactly the candidate nodes: count only those.
        counts = [{} if not d else self._domain_counts(c, pod, affinity, candidates if c.key == HOSTNAME else all_nodes,
                                                      domain=d)
                  for c, d in zip(constraints, domains, strict=True)]
        weights = [math.log(len(d) + 2) for d in domains]
        state[self.NAME + "/score"] = (constraints, counts, weights, require_all)
        return None

    def score(self, state, pod: PodInfo, node: NodeInfo) -> int:
        constraints, counts, weights, require_all = state[self.NAME + "/score"]
        total = 0.0
        for c, cnt, w in zip(constraints, counts, weights, strict=True):
            value = node.labels.get(c.key)
            if value is None:
                if not require_all:
                    continue  # system defaults: a node without the key is ranked by the others
                return INVALID  # a node missing a key is not ranked (normalised to 0)
            total += cnt.get(value, 0) * w + (c.max_skew - 1)
        return int(total + 0.5)  # Go's math.Round: halves away from zero

    def score_nodes(self, state, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        constraints, counts, weights, require_all = state[self.NAME + "/score"]
        totals = [0.0] * len(nodes)
        invalid = [False] * len(nodes)
        for c, cnt, w in zip(constraints, counts, weights, strict=True):
            key, base = c.key, c.max_skew - 1
            for i, node in enumerate(nodes):
                value = node.labels.get(key)
                if value is None:
                    invalid[i] = invalid[i] or require_all
                else:
                    totals[i] += cnt.get(value, 0) * w + base
        return [INVALID if bad else int(t + 0.5) for t, bad in zip(totals, invalid, strict=True)]

    def normalize_score(self, state, pod: PodInfo, scores: list[int]) -> None:
        valid = [s for s in scores if s != INVALID]
        if not valid:
            scores[:] = [0] * len(scores)
            return
        low, high = min(valid), max(valid)
        for i, s in enumerate(scores):
            if s == INVALID:
                scores[i] = 0
            elif high == 0:
                scores[i] = 100
            else:
                scores[i] = 100 * (high + low - s) // high
