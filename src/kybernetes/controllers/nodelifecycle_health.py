"""Pure node-health rules of the node lifecycle controller: conditions, taints, zones.

Nothing here does I/O; the controller (nodelifecycle.py) reads the caches, calls these, and writes.

    mark_conditions_unknown   a node silent for longer than the grace period: Ready,
                              MemoryPressure, DiskPressure, PIDPressure become Unknown
                              ("Kubelet stopped posting node status."); NetworkUnavailable is
                              left alone, as Kubernetes leaves it (it is a control-plane matter)
    desired_no_schedule_taints  the NoSchedule taints a node's conditions call for
                              (not-ready, unreachable, memory/disk/pid-pressure,
                              network-unavailable, unschedulable)
    zone_key / zone_state     the unit of eviction rate limiting: a zone is Normal,
                              PartialDisruption (>2 nodes and >= 55 % not ready) or
                              FullDisruption (no node ready)
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"

# Which condition status calls for which NoSchedule taint (nodeConditionToTaintKeyStatusMap).
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY_TAINT, "Unknown": UNREACHABLE_TAINT},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
CONDITION_TAINT_KEYS = frozenset(k for m in CONDITION_TAINTS.values() for k in m.values())
UNKNOWN_ON_SILENCE = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region"
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"

NORMAL = "Normal"
PARTIAL_DISRUPTION = "PartialDisruption"
FULL_DISRUPTION = "FullDisruption"
UNHEALTHY_ZONE_THRESHOLD = 0.55


def get_condition(node: Obj, condition_type: str) -> Obj | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == condition_type:
            return cond
    return None


def ready_status(node: Obj) -> str | None:
    """"True" / "False" / "Unknown", or None when the kubelet never posted a Ready condition."""
    cond = get_condition(node, "Ready")
    return None if cond is None else str(cond.get("status") or "Unknown")


def mark_conditions_unknown(node: Obj, now: str) -> bool:
    """Set the kubelet-owned conditions of ``node`` (a copy: changed in place) to Unknown; True if
    anything changed. Missing conditions are added as "never updated"."""
    status = node.setdefault("status", {})
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        conditions = status["conditions"] = []
    created = (node.get("metadata") or {}).get("creationTimestamp")
    changed = False
    for condition_type in UNKNOWN_ON_SILENCE:
        cond = get_condition(node, condition_type)
        if cond is None:
            conditions.append({"type": condition_type, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.", "lastHeartbeatTime": created,
                               "lastTransitionTime": now})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.", lastTransitionTime=now)
            changed = True
    return changed


# -- taints ------------------------------------------------------------------------------------------

def _taints(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def has_taint(node: Obj, key: str, effect: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == effect for t in _taints(node))


def desired_no_schedule_taints(node: Obj) -> set[str]:
    """Keys of the NoSchedule taints this node's conditions (and spec.unschedulable) call for."""
    keys = set()
    for cond in (node.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict):
            key = CONDITION_TAINTS.get(cond.get("type") or "", {}).get(cond.get("status") or "")
            if key:
                keys.add(key)
    if (node.get("spec") or {}).get("unschedulable"):
        keys.add(UNSCHEDULABLE_TAINT)
    return keys


def no_schedule_taint_diff(node: Obj) -> tuple[set[str], set[str]]:
    """(keys to add, keys to remove) among the controller's NoSchedule taints."""
    want = desired_no_schedule_taints(node)
    have = {t.get("key") for t in _taints(node) if t.get("effect") == NO_SCHEDULE
            and (t.get("key") in CONDITION_TAINT_KEYS or t.get("key") == UNSCHEDULABLE_TAINT)}
    return want - have, have - want  # type: ignore[return-value]


def swap_taints(node: Obj, add: list[tuple[str, str]], remove: list[tuple[str, str]], now: str) -> list[Obj]:
    """The node's taints with the (key, effect) pairs in ``remove`` dropped and those in ``add``
    put in (with timeAdded), as SwapNodeControllerTaint leaves them."""
    drop = set(remove) | set(add)
    out = [dict(t) for t in _taints(node) if (t.get("key"), t.get("effect")) not in drop]
    out += [{"key": key, "effect": effect, "timeAdded": now} for key, effect in add]
    return out


# -- zones -------------------------------------------------------------------------------------------

def zone_key(node: Obj) -> str:
    """region + zone of a node ("" for neither), the unit of eviction rate limiting."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(REGION_LABEL) or labels.get(LEGACY_REGION_LABEL) or ""
    zone = labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL) or ""
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def excluded_from_disruption(node: Obj) -> bool:
    return EXCLUDE_DISRUPTION_LABEL in ((node.get("metadata") or {}).get("labels") or {})


def zone_state(ready_statuses: list[str | None]) -> str:
    """Normal, PartialDisruption or FullDisruption, from the zone's nodes' Ready statuses."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL_DISRUPTION
    return NORMAL


def zone_states(nodes: list[Obj]) -> dict[str, tuple[str, int]]:
    """zone key -> (state, node count) over the nodes not excluded from disruption checks."""
    by_zone: dict[str, list[str | None]] = {}
    for node in nodes:
        if not excluded_from_disruption(node):
            by_zone.setdefault(zone_key(node), []).append(ready_status(node))
    return {zone: (zone_state(statuses), len(statuses)) for zone, statuses in by_zone.items()}


def eviction_qps(state: str, zone_size: int, *, healthy_qps: float, secondary_qps: float,
                 large_cluster_threshold: int) -> float:
    """The tainting rate for a zone in ``state`` (setLimiterInZone): a partly broken zone slows
    down (and a small one stops), so a network split does not evict everything at once."""
    if state == PARTIAL_DISRUPTION:
        return secondary_qps if zone_size > large_cluster_threshold else 0.0
    return healthy_qps
