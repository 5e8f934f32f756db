"""Pods: NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES.

Follows printPod in kubernetes pkg/printers/internalversion/printers.go. The STATUS cell is the
printer's "reason" walk: the phase (or status.reason), overridden by SchedulingGated, by the
first unfinished init container ("Init:0/2", "Init:CrashLoopBackOff", "Init:ExitCode:1"), then by
the last app container with a waiting or terminated reason, back to Running/NotReady when a
Completed pod still has a running container, and finally Terminating (or Unknown for pods on a
lost node) while deletion is pending. Sidecars (init containers with restartPolicy Always)
count toward READY and RESTARTS like app containers.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    dig,
    name_column,
)
from kybernetes.api.tables.duration import parse_time, since

COLUMNS = (
    name_column(),
    column("Ready", "Ready containers out of all containers (sidecars included)."),
    column("Status", "The aggregate status of the containers in this pod."),
    column("Restarts", "Container restarts, with how long ago the last one happened."),
    age_column(),
    column("IP", "The pod's first IP address.", priority=1),
    column("Node", "The node the pod is bound to.", priority=1),
    column("Nominated Node", "The node the scheduler nominated through preemption.", priority=1),
    column("Readiness Gates", "Readiness gates whose condition is True, out of all gates.", priority=1),
)

_TERMINAL_PHASES = ("Succeeded", "Failed")


def _is_sidecar(container: dict | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


def _last_finished(status: dict) -> dt.datetime | None:
    return parse_time(dig(status, "lastState", "terminated", "finishedAt"))


def _later(current: dt.datetime | None, candidate: dt.datetime | None) -> dt.datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _condition_true(conditions: list, type_: str) -> bool:
    for entry in conditions:
        if as_dict(entry).get("type") == type_:
            return entry.get("status") == "True"
    return False


def _terminated_reason(terminated: dict, prefix: str) -> str:
    if as_str(terminated.get("reason")):
        return prefix + terminated["reason"]
    signal = as_int(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{as_int(terminated.get('exitCode'))}"


def pod_status(pod: dict) -> tuple[str, int, int, int, dt.datetime | None]:
    """(STATUS, ready containers, total containers, restarts, last restart time)."""
    spec, status = as_dict(pod.get("spec")), as_dict(pod.get("status"))
    conditions = as_list(status.get("conditions"))
    init_specs = [as_dict(c) for c in as_list(spec.get("initContainers"))]
    by_name = {as_str(c.get("name")): c for c in init_specs}
    total = len(as_list(spec.get("containers"))) + sum(1 for c in init_specs if _is_sidecar(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: dt.datetime | None = None
    last_sidecar_restart: dt.datetime | None = None

    phase = as_str(status.get("phase"))
    reason = as_str(status.get("reason")) or phase
    for entry in conditions:
        entry = as_dict(entry)
        if entry.get("type") == "PodScheduled" and entry.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for index, container in enumerate(as_list(status.get("initContainerStatuses"))):
        container = as_dict(container)
        count = as_int(container.get("restartCount"))
        restarts += count
        last_restart = _later(last_restart, _last_finished(container))
        sidecar = _is_sidecar(by_name.get(as_str(container.get("name"))))
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, _last_finished(container))
        state = as_dict(container.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and as_int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            reason = _terminated_reason(terminated, "Init:")
        elif (
            isinstance(waiting, dict)
            and as_str(waiting.get("reason"))
            and waiting["reason"] != "PodInitializing"
        ):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(as_list(status.get("containerStatuses"))):
            container = as_dict(container)
            restarts += as_int(container.get("restartCount"))
            last_restart = _later(last_restart, _last_finished(container))
            state = as_dict(container.get("state"))
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if isinstance(waiting, dict) and as_str(waiting.get("reason")):
                reason = waiting["reason"]
            elif isinstance(terminated, dict):
                reason = _terminated_reason(terminated, "")
            elif container.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = dig(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in _TERMINAL_PHASES:
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _readiness_gates(spec: dict, status: dict) -> str:
    gates = as_list(spec.get("readinessGates"))
    if not gates:
        return "<none>"
    conditions = [as_dict(c) for c in as_list(status.get("conditions"))]
    passing = 0
    for gate in gates:
        wanted = as_dict(gate).get("conditionType")
        for entry in conditions:
            if entry.get("type") == wanted:
                passing += entry.get("status") == "True"
                break
    return f"{passing}/{len(gates)}"


def _pod_ip(status: dict) -> str:
    ips = as_list(status.get("podIPs"))
    if ips:
        return as_str(as_dict(ips[0]).get("ip")) or "<none>"
    # Objects stored by an older writer may carry only podIP; the real conversion fills podIPs from it.
    return as_str(status.get("podIP")) or "<none>"


def pod_cells(pod: dict, now: dt.datetime) -> list:
    spec, status = as_dict(pod.get("spec")), as_dict(pod.get("status"))
    reason, ready, total, restarts, last_restart = pod_status(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({since(last_restart.isoformat(), now)} ago)"
    return [
        as_str(dig(pod, "metadata", "name")),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(pod, now),
        _pod_ip(status),
        as_str(spec.get("nodeName")) or "<none>",
        as_str(status.get("nominatedNodeName")) or "<none>",
        _readiness_gates(spec, status),
    ]


def pod_row_conditions(pod: dict) -> list[dict]:
    """The TableRow conditions printPod attaches: Completed once the pod reached a final phase."""
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


TABLES = {("", "pods"): TableSpec(COLUMNS, pod_cells)}
