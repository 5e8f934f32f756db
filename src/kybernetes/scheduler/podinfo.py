"""PodInfo: what the scheduler needs from a pod, computed once per pod version.

Filtering 1000 nodes for one pod must not re-parse the pod 1000 times, so everything a plugin
asks about a pod (its request, host ports, tolerations, affinity terms as parsed selectors, its
priority) is worked out here when the pod enters the queue or the cache, and read many times.
Objects are the informer cache's own: never changed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import (
    IN,
    NOT_IN,
    NOTHING,
    LabelSelector,
    Requirement,
    label_selector_from_spec,
)
from kybernetes.scheduler.resources import Resource, non_zero_requests, pod_requests

Obj = dict[str, Any]
DEFAULT_SCHEDULER = "default-scheduler"


class AffinityTerm:
    """One pod (anti-)affinity term: which pods (selector, namespaces) in which domain (key)."""

    __slots__ = ("selector", "namespaces", "namespace_selector", "topology_key", "weight")

    def __init__(self, term: Obj, pod_namespace: str, pod_labels: dict[str, str], weight: int = 0):
        self.selector = _selector(term.get("labelSelector"))
        keys = [(k, IN) for k in term.get("matchLabelKeys") or []]
        keys += [(k, NOT_IN) for k in term.get("mismatchLabelKeys") or []]
        extra = tuple(Requirement(k, op, (pod_labels[k],)) for k, op in keys if k in pod_labels)
        if extra and not self.selector.nothing:
            self.selector = LabelSelector(self.selector.requirements + extra)
        self.namespaces = frozenset(term.get("namespaces") or [])
        ns_sel = term.get("namespaceSelector")
        self.namespace_selector = _selector(ns_sel) if ns_sel is not None else None
        if not self.namespaces and self.namespace_selector is None:
            self.namespaces = frozenset((pod_namespace,))
        self.topology_key = term.get("topologyKey") or ""
        self.weight = weight

    def matches(self, namespace: str, labels: dict[str, str], ns_labels: Callable[[str], dict[str, str]]) -> bool:
        """Does a pod in ``namespace`` with ``labels`` fall under this term?"""
        if namespace not in self.namespaces:
            if self.namespace_selector is None or not self.namespace_selector.matches(ns_labels(namespace)):
                return False
        return self.selector.matches(labels)


def _selector(spec: Any) -> LabelSelector:
    try:
        return label_selector_from_spec(spec)
    except ApiError:
        return NOTHING  # validation refuses these; a bad one selects nothing rather than crash


def _terms(items: Any, namespace: str, labels: dict[str, str], weighted: bool) -> list[AffinityTerm]:
    out: list[AffinityTerm] = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if weighted:
            term = item.get("podAffinityTerm")
            if isinstance(term, dict):
                out.append(AffinityTerm(term, namespace, labels, int(item.get("weight") or 0)))
        else:
            out.append(AffinityTerm(item, namespace, labels))
    return out


class PodInfo:
    __slots__ = ("pod", "key", "namespace", "name", "uid", "labels", "node_name", "scheduler_name",
                 "priority", "preemption_policy", "requests", "non_zero_cpu", "non_zero_memory",
                 "host_ports", "tolerations", "required_affinity", "required_anti_affinity",
                 "preferred_affinity", "preferred_anti_affinity", "resource_version", "deleting")

    def __init__(self, pod: Obj, priority: int | None = None, preemption_policy: str | None = None):
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace = meta.get("namespace") or ""
        self.name = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid = meta.get("uid") or ""
        self.resource_version = meta.get("resourceVersion") or ""
        self.deleting = bool(meta.get("deletionTimestamp"))
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or DEFAULT_SCHEDULER
        self.priority = priority if priority is not None else int(spec.get("priority") or 0)
        self.preemption_policy = preemption_policy or spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.requests: Resource = pod_requests(spec)
        self.non_zero_cpu, self.non_zero_memory = non_zero_requests(spec)
        self.host_ports: list[tuple[str, str, int]] = [
            (p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"]))
            for c in spec.get("containers") or [] if isinstance(c, dict)
            for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        self.tolerations: list[Obj] = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
        affinity = spec.get("affinity") or {}
        pa = affinity.get("podAffinity") or {}
        paa = affinity.get("podAntiAffinity") or {}
        ns, labels = self.namespace, self.labels
        self.required_affinity = _terms(pa.get("requiredDuringSchedulingIgnoredDuringExecution"), ns, labels, False)
        self.required_anti_affinity = _terms(paa.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                             ns, labels, False)
        self.preferred_affinity = _terms(pa.get("preferredDuringSchedulingIgnoredDuringExecution"), ns, labels, True)
        self.preferred_anti_affinity = _terms(paa.get("preferredDuringSchedulingIgnoredDuringExecution"),
                                              ns, labels, True)

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    @property
    def has_affinity(self) -> bool:
        return bool(self.required_affinity or self.required_anti_affinity or self.preferred_affinity
                    or self.preferred_anti_affinity)

    @property
    def nominated_node_name(self) -> str:
        return (self.pod.get("status") or {}).get("nominatedNodeName") or ""

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name!r}, priority={self.priority})"
