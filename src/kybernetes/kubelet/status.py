"""Pod status from what the runtime reports: pure functions, as the kubelet computes it.

    runtime (sandbox + container attempts)  ─┐
    pod worker (waiting reasons, probes)     ─┼─► container statuses ─► phase ─► conditions
    previous status (times, IPs, reasons)    ─┘                                   (kept times)

The rules are Kubernetes' (pkg/kubelet/kubelet_pods.go getPhase and
convertToAPIContainerStatuses, pkg/kubelet/status/generate.go): a container that never started
waits as ContainerCreating (PodInitializing behind init containers); the newest attempt gives
the state and the one before it ``lastState`` (a running container whose postStart hook is not
done yet still waits, as upstream's blocked sync shows it); ``restartCount`` is the attempt
number; the
conditions Initialized, Ready and ContainersReady carry the reasons and the messages kubectl
shows ("containers with unready status: [web]"); a condition's lastTransitionTime changes only
when its status does. Conditions other components own (DisruptionTarget, custom readiness
gates) are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kybernetes.kubelet.runtime.protocol import ContainerState, ContainerStatus

Obj = dict[str, Any]

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class ContainerView:
    """What the pod worker knows of one container of the spec."""

    attempts: list[ContainerStatus] = field(default_factory=list)  # newest first
    waiting_reason: str = ""  # overrides the state: CrashLoopBackOff, ErrImagePull, ...
    waiting_message: str = ""
    ready: bool = False
    started: bool = False
    post_start_pending: bool = False  # running, but its postStart hook is not done: still waiting


def rfc3339_from_ns(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _terminated(cs: ContainerStatus, runtime_name: str) -> Obj:
    out: Obj = {"exitCode": cs.exit_code, "reason": cs.reason or ("Completed" if cs.exit_code == 0 else "Error"),
                "startedAt": rfc3339_from_ns(cs.started_at) if cs.started_at else None,
                "finishedAt": rfc3339_from_ns(cs.finished_at) if cs.finished_at else None,
                "containerID": f"{runtime_name}://{cs.id}"}
    if cs.message:
        out["message"] = cs.message
    return {k: v for k, v in out.items() if v is not None}


def container_status(spec: Obj, view: ContainerView, runtime_name: str, *, behind_init: bool,
                     init: bool = False) -> Obj:
    """One entry of containerStatuses / initContainerStatuses. An init container that ran to
    completion counts as ready (the kubelet's prober manager does the same)."""
    name = spec.get("name", "")
    if not view.attempts:
        waiting = {"reason": view.waiting_reason or ("PodInitializing" if behind_init else "ContainerCreating")}
        if view.waiting_message:
            waiting["message"] = view.waiting_message
        return {"name": name, "state": {"waiting": waiting}, "lastState": {}, "ready": False,
                "restartCount": 0, "image": spec.get("image", ""), "imageID": "", "started": False}
    latest = view.attempts[0]
    previous = view.attempts[1] if len(view.attempts) > 1 else None
    last_state: Obj = {"terminated": _terminated(previous, runtime_name)} if previous else {}
    if latest.state == ContainerState.CONTAINER_RUNNING and view.post_start_pending:
        state: Obj = {"waiting": {"reason": "ContainerCreating"}}
    elif latest.state == ContainerState.CONTAINER_RUNNING:
        state = {"running": {"startedAt": rfc3339_from_ns(latest.started_at)}}
    elif latest.state == ContainerState.CONTAINER_EXITED:
        state = {"terminated": _terminated(latest, runtime_name)}
        if view.waiting_reason:  # it will start again: waiting, and the exit becomes lastState
            last_state, state = state, {"waiting": {"reason": view.waiting_reason}}
            if view.waiting_message:
                state["waiting"]["message"] = view.waiting_message
    else:
        state = {"waiting": {"reason": view.waiting_reason or "ContainerCreating"}}
    running = latest.state == ContainerState.CONTAINER_RUNNING and not view.post_start_pending
    ready = running and view.ready
    if init and not is_sidecar(spec):
        ready = "terminated" in state and state["terminated"]["exitCode"] == 0
    return {"name": name, "state": state, "lastState": last_state, "ready": ready,
            "restartCount": latest.metadata.attempt, "image": latest.image.image or spec.get("image", ""),
            "imageID": latest.image_ref, "containerID": f"{runtime_name}://{latest.id}",
            "started": running and view.started}


# -- phase --------------------------------------------------------------------------------------

def _state(status: Obj) -> str:
    return next(iter(status.get("state") or {"waiting": {}}))


def _exit_code(status: Obj, key: str = "state") -> int | None:
    terminated = (status.get(key) or {}).get("terminated")
    return None if terminated is None else int(terminated.get("exitCode", 0))


def pod_phase(spec: Obj, statuses: dict[str, Obj], *, pod_is_terminal: bool, has_initialized: bool) -> str:
    restart_policy = spec.get("restartPolicy") or "Always"
    pending_init = failed_init = pending_sidecars = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        status = statuses.get(c.get("name", ""))
        if is_sidecar(c):
            if status is None:
                pending_sidecars += 1
                unknown += 1
            elif _state(status) == "running":
                running += 1
                if not status.get("started"):
                    pending_sidecars += 1
            elif _state(status) == "waiting" and _exit_code(status, "lastState") is None:
                pending_sidecars += 1
                waiting += 1
            continue
        if status is None:
            pending_init += 1
        elif _state(status) == "terminated":
            failed_init += _exit_code(status) != 0
        elif _state(status) == "waiting" and (_exit_code(status, "lastState") or 0) != 0:
            failed_init += 1
        else:
            pending_init += 1
    for c in spec.get("containers") or []:
        status = statuses.get(c.get("name", ""))
        if status is None:
            unknown += 1
        elif _state(status) == "running":
            running += 1
        elif _state(status) == "terminated":
            stopped += 1
            succeeded += _exit_code(status) == 0
        elif _exit_code(status, "lastState") is not None:
            stopped += 1
        else:
            waiting += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or (pending_sidecars and not has_initialized) or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


# -- conditions ---------------------------------------------------------------------------------

def _go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _condition(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    out: Obj = {"type": type_, "status": "True" if ok else "False"}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def containers_ready_condition(spec: Obj, statuses: dict[str, Obj], phase: str) -> Obj:
    if phase in TERMINAL_PHASES:
        return _condition("ContainersReady", False, "PodCompleted" if phase == "Succeeded" else "PodFailed")
    unknown, unready = [], []
    wanted = [c for c in spec.get("initContainers") or [] if is_sidecar(c)] + list(spec.get("containers") or [])
    for c in wanted:
        status = statuses.get(c.get("name", ""))
        if status is None:
            unknown.append(c.get("name", ""))
        elif not status.get("ready"):
            unready.append(c.get("name", ""))
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        return _condition("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _condition("ContainersReady", True)


def ready_condition(spec: Obj, statuses: dict[str, Obj], phase: str, conditions: list[Obj]) -> Obj:
    containers = containers_ready_condition(spec, statuses, phase)
    if containers["status"] != "True":
        return {**containers, "type": "Ready"}
    messages = []
    for gate in spec.get("readinessGates") or []:
        kind = gate.get("conditionType", "")
        found = next((c for c in conditions if c.get("type") == kind), None)
        if found is None:
            messages.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif found.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{kind}" is not "True", but {found.get("status")}')
    if messages:
        return _condition("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _condition("Ready", True)


def initialized_condition(spec: Obj, statuses: dict[str, Obj], phase: str) -> Obj:
    init = spec.get("initContainers") or []
    unknown = [c.get("name", "") for c in init if c.get("name", "") not in statuses]
    if phase == "Succeeded" and not unknown:
        return _condition("Initialized", True, "PodCompleted")
    if any(_state(statuses[c["name"]]) != "waiting" or _exit_code(statuses[c["name"]], "lastState") is not None
           for c in spec.get("containers") or [] if c.get("name") in statuses):
        return _condition("Initialized", True)
    incomplete = []
    for c in init:
        status = statuses.get(c.get("name", ""))
        if status is None:
            continue
        done = status.get("started") if is_sidecar(c) else _exit_code(status) == 0
        if not done:
            incomplete.append(c.get("name", ""))
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        return _condition("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _condition("Initialized", True)


def merge_conditions(old: list[Obj], new: list[Obj], now: str, generation: int | None) -> list[Obj]:
    """``new`` with each lastTransitionTime kept from ``old`` while the status is unchanged."""
    previous = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        before = previous.get(cond["type"])
        kept = before.get("lastTransitionTime") if before and before.get("status") == cond["status"] else None
        merged = {**cond, "lastTransitionTime": kept or now}
        if generation is not None:
            merged["observedGeneration"] = generation
        out.append(merged)
    return out


# -- the whole status -----------------------------------------------------------------------------

def qos_class(spec: Obj) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_any, limits_all = False, True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if requests or limits:
            requests_any = True
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                limits_all = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if limits_all else "Burstable"


def pod_status(pod: Obj, *, init_views: dict[str, ContainerView], views: dict[str, ContainerView],
               runtime_name: str, sandbox_ready: bool, pod_ips: list[str], host_ip: str, now: str,
               pod_is_terminal: bool) -> Obj:
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    init_specs = spec.get("initContainers") or []
    has_init = bool(init_specs)
    init_statuses = {c["name"]: container_status(c, init_views.get(c["name"], ContainerView()), runtime_name,
                                                 behind_init=False, init=True) for c in init_specs}
    statuses = {c["name"]: container_status(c, views.get(c["name"], ContainerView()), runtime_name,
                                            behind_init=has_init) for c in spec.get("containers") or []}
    everything = {**init_statuses, **statuses}
    has_initialized = any(views.get(c["name"]) and views[c["name"]].attempts for c in spec.get("containers") or [])
    phase = pod_phase(spec, everything, pod_is_terminal=pod_is_terminal, has_initialized=has_initialized)
    if phase not in TERMINAL_PHASES and old.get("phase") in TERMINAL_PHASES:
        phase = old["phase"]  # pods never leave a terminal phase
    kept = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    generated = [_condition("PodReadyToStartContainers", sandbox_ready),
                 initialized_condition(spec, everything, phase)]
    generated.append(ready_condition(spec, everything, phase, kept))
    generated.append(containers_ready_condition(spec, everything, phase))
    generated.append(_condition("PodScheduled", True))
    generation = (pod.get("metadata") or {}).get("generation")
    status: Obj = {
        "phase": phase,
        "conditions": kept + merge_conditions(old.get("conditions") or [], generated, now, generation),
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": old.get("startTime") or now,
        "qosClass": old.get("qosClass") or qos_class(spec),
        "containerStatuses": list(statuses.values()),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    if spec.get("hostNetwork") and host_ip and not pod_ips:
        pod_ips = [host_ip]
    if pod_ips:
        status["podIP"], status["podIPs"] = pod_ips[0], [{"ip": ip} for ip in pod_ips]
    elif old.get("podIP"):  # the sandbox is gone (a finished pod): the address stays on record
        status["podIP"], status["podIPs"] = old["podIP"], old.get("podIPs") or [{"ip": old["podIP"]}]
    if has_init:
        status["initContainerStatuses"] = list(init_statuses.values())
    if phase == old.get("phase"):
        for key in ("reason", "message"):
            if old.get(key):
                status[key] = old[key]
    return status


def status_differs(old: Obj, new: Obj) -> bool:
    """Whether writing ``new`` over ``old`` changes anything the kubelet owns."""
    return any(old.get(k) != v for k, v in new.items())
