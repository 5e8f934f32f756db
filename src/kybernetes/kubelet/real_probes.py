"""The prober of real nodes: a worker per running container and probe, as Kubernetes' prober
manager runs them.

    pod worker sync ─► observe(pod, container, its running attempt)   start / replace workers
                   ─► started(...) / ready(...)                        read the cached results
    worker (one task per container attempt and probe kind)
        sleep initialDelaySeconds from the container's start, then every periodSeconds:
        run the probe (real_probe_checks.py) ─► count successes / failures against the thresholds
        result changed ─► on_change(pod key): the pod is synced again and its status rewritten
        liveness or startup reached failureThreshold ─► the container is stopped (grace period:
        the probe's terminationGracePeriodSeconds, else the pod's) and restarted by its policy;
        with ``kill`` set (the pod worker's kill_container) its preStop hook runs first

Readiness starts as failed, liveness as passed, startup as not yet passed; liveness and readiness
run only once the container has started (its startup probe passed, or it has none). A container
without a readiness probe is ready once started. Failed attempts emit Unhealthy events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.kubelet.events import KubeletEvents
from kybernetes.kubelet.probes import ProbeResult
from kybernetes.kubelet.real_probe_checks import run_probe
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
STARTUP, READINESS, LIVENESS = "startup", "readiness", "liveness"
_FIELDS = {STARTUP: "startupProbe", READINESS: "readinessProbe", LIVENESS: "livenessProbe"}
_TITLES = {STARTUP: "Startup", READINESS: "Readiness", LIVENESS: "Liveness"}
DEFAULT_GRACE = 30


def _number(probe: Obj, key: str, default: float, minimum: float) -> float:
    try:
        value = probe.get(key)
        return max(float(value), minimum) if value is not None else default
    except (TypeError, ValueError):
        return default


@dataclass
class _Worker:
    kind: str
    pod: Obj
    container: Obj
    container_id: str
    started_at: float  # wall seconds
    result: bool | None
    successes: int = 0
    failures: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _meta(pod: Obj) -> Obj:
    return pod.get("metadata") or {}


class ProbeManager:
    def __init__(self, runtime: cri.RuntimeService, *, host_ip: str, on_change: Callable[[str], None],
                 events: KubeletEvents | None = None, node_name: str = "", clock: Clock | None = None):
        self.runtime = runtime
        self.host_ip = host_ip
        self.on_change = on_change
        self.events = events
        self.node_name = node_name
        self.clock = clock or REAL_CLOCK
        self._workers: dict[tuple[str, str, str], _Worker] = {}  # (pod uid, container, kind)
        # kill(pod, container, container id, grace, message): stop it as a deletion would (preStop)
        self.kill: Callable[[Obj, Obj, str, int, str], Awaitable[None]] | None = None
        self.attempts = 0

    # -- what the pod worker calls ----------------------------------------------------------------

    def observe(self, pod: Obj, container: Obj, status: cri.ContainerStatus) -> None:
        """The container runs as ``status``: make sure its probes run against this attempt."""
        uid, name = _meta(pod).get("uid", ""), container.get("name", "")
        for kind in (STARTUP, READINESS, LIVENESS):
            probe = container.get(_FIELDS[kind])
            key = (uid, name, kind)
            worker = self._workers.get(key)
            if worker is not None and worker.container_id == status.id:
                continue
            if worker is not None:
                self._stop(key)
            if not probe or (kind != STARTUP and not self._started(uid, container)):
                continue
            initial = {STARTUP: False, READINESS: False, LIVENESS: True}[kind]
            worker = _Worker(kind, pod, container, status.id, status.started_at / 1e9, initial)
            worker.task = asyncio.get_running_loop().create_task(self._run(key, worker),
                                                                 name=f"{kind} probe {uid}/{name}")
            self._workers[key] = worker

    def retain(self, uid: str, running_container_ids: set[str]) -> None:
        """Stop the pod's workers whose container no longer runs."""
        for key, worker in list(self._workers.items()):
            if key[0] == uid and worker.container_id not in running_container_ids:
                self._stop(key)

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            self._stop(key)

    async def aclose(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        self._workers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _stop(self, key: tuple[str, str, str]) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None and worker.task is not None and worker.task is not asyncio.current_task():
            worker.task.cancel()

    # -- the Prober protocol (pod_worker.py) --------------------------------------------------------

    def _started(self, uid: str, container: Obj) -> bool:
        if not container.get("startupProbe"):
            return True
        worker = self._workers.get((uid, container.get("name", ""), STARTUP))
        return worker is not None and worker.result is True

    def started(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult:
        return ProbeResult(self._started(_meta(pod).get("uid", ""), container))

    def ready(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult:
        uid = _meta(pod).get("uid", "")
        if not self._started(uid, container):
            return ProbeResult(False)
        if not container.get("readinessProbe"):
            return ProbeResult(True)
        worker = self._workers.get((uid, container.get("name", ""), READINESS))
        return ProbeResult(worker is not None and worker.result is True)

    # -- a worker -----------------------------------------------------------------------------------

    async def _pod_host(self, pod: Obj) -> str:
        uid = _meta(pod).get("uid", "")
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.host_ip
        sandboxes = await self.runtime.list_pod_sandbox(cri.PodSandboxFilter(
            state=cri.PodSandboxState.SANDBOX_READY, label_selector={cri.POD_UID_LABEL: uid}))
        for sandbox in sandboxes:
            with contextlib.suppress(cri.NotFoundError):
                ip = (await self.runtime.pod_sandbox_status(sandbox.id)).network.ip
                if ip:
                    return ip
        return self.host_ip

    async def _run(self, key: tuple[str, str, str], w: _Worker) -> None:
        probe = w.container.get(_FIELDS[w.kind]) or {}
        initial = _number(probe, "initialDelaySeconds", 0.0, 0.0)
        period = _number(probe, "periodSeconds", 10.0, 1.0)
        success_threshold = int(_number(probe, "successThreshold", 1, 1))
        failure_threshold = int(_number(probe, "failureThreshold", 3, 1))
        wait = w.started_at + initial - self.clock.wall().timestamp()
        if wait > 0:
            await self.clock.sleep(wait)
        while self._workers.get(key) is w:
            host = await self._pod_host(w.pod)
            outcome = await run_probe(self.runtime, w.container_id, host, w.container, probe)
            self.attempts += 1
            if self._workers.get(key) is not w:
                return
            if outcome.ok:
                w.successes, w.failures = w.successes + 1, 0
            else:
                w.failures, w.successes = w.failures + 1, 0
                self._event(w, "Warning", "Unhealthy", f"{_TITLES[w.kind]} probe failed: {outcome.message}")
            result = w.result
            if outcome.ok and w.successes >= success_threshold:
                result = True
            elif not outcome.ok and w.failures >= failure_threshold:
                result = False
            if result != w.result:
                w.result = result
                self.on_change(f"{_meta(w.pod).get('namespace', '')}/{_meta(w.pod).get('name', '')}")
            if w.kind == STARTUP and result is True:
                return  # started: readiness and liveness take over
            if w.kind in (LIVENESS, STARTUP) and result is False:
                await self._kill(w, probe)
                return
            await self.clock.sleep(period)

    async def _kill(self, w: _Worker, probe: Obj) -> None:
        name = w.container.get("name", "")
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (w.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        grace = DEFAULT_GRACE if grace is None else int(grace)
        message = f"Container {name} failed {w.kind} probe, will be restarted"
        try:
            if self.kill is not None:
                await self.kill(w.pod, w.container, w.container_id, grace, message)
                return
            self._event(w, "Normal", "Killing", message)
            await self.runtime.stop_container(w.container_id, grace)
        except cri.RuntimeServiceError as e:
            log.warning("stopping container %s after its failed %s probe: %s", w.container_id, w.kind, e)

    def _event(self, w: _Worker, event_type: str, reason: str, message: str) -> None:
        if self.events is not None:
            self.events.emit(self.node_name, w.pod, event_type, reason, message)
