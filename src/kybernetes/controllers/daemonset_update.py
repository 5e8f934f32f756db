"""What a DaemonSet sync should do, decided without I/O (daemon_controller manage + update.go).

    plan_node        one node: create a pod (wanted, none there), delete failed/finished pods,
                     trim duplicates (keep the oldest; with surge, keep one old + one new only
                     while the new one is not yet available), or delete every pod on a node
                     that no longer wants one
    plan_rolling     RollingUpdate over all nodes, once creations and deletions are settled:
      maxSurge = 0   delete old pods while at most maxUnavailable pods are unavailable; an old
                     pod that is not available anyway is replaced at once; the manage step then
                     creates the new pod on the emptied node
      maxSurge > 0   create the new pod beside the old one (at most maxSurge at a time, or at
                     once where the old pod is unavailable); delete the old pod once the new
                     one is available

A pod is "updated" when its controller-revision-hash label is the current revision's hash (or
its pod-template-generation label matches the DaemonSet's template generation annotation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kybernetes.controllers import podutil
from kybernetes.controllers.controllerrevision import REVISION_HASH_LABEL

Obj = dict[str, Any]

TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"


def _labels(pod: Obj) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def template_generation(ds: Obj) -> str | None:
    value = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return str(int(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def is_pod_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    labels = _labels(pod)
    if generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == generation:
        return True
    return bool(hash_) and labels.get(REVISION_HASH_LABEL) == hash_


def sort_daemon_pods(pods: list[Obj]) -> list[Obj]:
    """Scheduled before unscheduled, then oldest first, then by name (podByCreationTimestampAndPhase)."""
    return sorted(pods, key=lambda p: (0 if (p.get("spec") or {}).get("nodeName") else 1,
                                       (p.get("metadata") or {}).get("creationTimestamp") or "", _name(p)))


def scaled(value: Any, total: int, default: int) -> int:
    """An int-or-percent of ``total``, percentages rounded up (as DaemonSets round both)."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                return math.ceil(float(text[:-1]) * total / 100)
            except ValueError:
                return default
        try:
            return int(text)
        except ValueError:
            return default
    return int(value)


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge"), desired, 0)
    unavailable = scaled(rolling.get("maxUnavailable"), desired, 1)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1  # an impossible setting falls back to one at a time
    return surge, unavailable


def allows_surge(ds: Obj) -> bool:
    return surge_and_unavailable(ds, 1)[0] > 0


def plan_node(ds: Obj, should_run: bool, should_keep: bool, pods: list[Obj], hash_: str, now: datetime,
              may_delete_failed: Callable[[Obj], bool]) -> tuple[bool, list[Obj]]:
    """(create a pod here?, pods to delete here) for one node (podsShouldBeOnNode).
    ``may_delete_failed(pod)`` says whether a failed pod may go now (failed-pod backoff)."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    if should_run and not pods:
        return True, []
    to_delete: list[Obj] = []
    if should_keep:
        running: list[Obj] = []
        for pod in pods:
            if podutil.is_terminating(pod):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Failed":
                if may_delete_failed(pod):
                    to_delete.append(pod)
            elif phase == "Succeeded":
                to_delete.append(pod)
            else:
                running.append(pod)
        if len(running) <= 1:
            return False, to_delete
        running = sort_daemon_pods(running)
        if not allows_surge(ds):
            return False, to_delete + running[1:]
        oldest_new = oldest_old = None
        for pod in running:
            if _labels(pod).get(REVISION_HASH_LABEL) == hash_:
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            to_delete.append(pod)
        if oldest_new is not None and oldest_old is not None:
            if not podutil.is_pod_ready(oldest_old) or podutil.is_pod_available(oldest_new, min_ready, now):
                to_delete.append(oldest_old)
        return False, to_delete
    if pods:
        return False, [p for p in pods if not podutil.is_terminating(p)]
    return False, []


def find_updated_pods(pods: list[Obj], hash_: str, generation: str | None) -> tuple[Obj | None, Obj | None, bool]:
    """(new pod, old pod, ok): ok is False when a node has more than one of either."""
    new = old = None
    for pod in pods:
        if podutil.is_terminating(pod):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def plan_rolling(ds: Obj, node_to_pods: dict[str, list[Obj]], nodes: dict[str, Obj], hash_: str, now: datetime,
                 should_run: Callable[[Obj], bool]) -> tuple[list[Obj], list[str]]:
    """(old pods to delete, nodes to create new pods on) for a RollingUpdate step."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    node_to_pods = dict(node_to_pods)
    desired = 0
    for name, node in sorted(nodes.items()):
        if should_run(node):
            desired += 1
            node_to_pods.setdefault(name, [])
    max_surge, max_unavailable = surge_and_unavailable(ds, desired)

    def available(pod: Obj) -> bool:
        return podutil.is_pod_available(pod, min_ready, now)

    if max_surge == 0:
        unavailable = 0
        replacements: list[Obj] = []
        candidates: list[Obj] = []
        for name in sorted(node_to_pods):
            new, old, ok = find_updated_pods(node_to_pods[name], hash_, generation)
            if not ok or (new is None) == (old is None):
                unavailable += 1  # nothing here, or both: the manage step sorts it out
            elif new is not None:
                if not available(new):
                    unavailable += 1
            elif not available(old):
                replacements.append(old)
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replacements + candidates[:room], []

    to_delete: list[Obj] = []
    leaving: list[Obj] = []  # old pods on nodes that no longer want one
    allowed_nodes: list[str] = []
    candidate_nodes: list[str] = []
    surging = 0
    available_count = 0
    for name in sorted(node_to_pods):
        new, old, ok = find_updated_pods(node_to_pods[name], hash_, generation)
        if not ok:
            surging += 1
            continue
        current = old if old is not None else new
        if current is not None and available(current):
            available_count += 1
        if old is None:
            continue
        if new is None:
            node = nodes.get(name)
            wanted = node is not None and should_run(node)
            if not available(old):
                if wanted:
                    allowed_nodes.append(name)
                else:
                    to_delete.append(old)
            elif not wanted:
                leaving.append(old)
            elif surging < max_surge:
                candidate_nodes.append(name)
            continue
        if not available(new):
            surging += 1
            continue
        to_delete.append(old)
    spare = available_count - desired
    if spare > 0:
        to_delete.extend(leaving[:spare])
    room = min(max(max_surge - surging, 0), len(candidate_nodes))
    return to_delete, allowed_nodes + candidate_nodes[:room]
