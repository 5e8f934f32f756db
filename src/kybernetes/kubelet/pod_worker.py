"""The pod worker: drive one pod on one node to its desired state through the runtime.

Shared by real and simulated nodes: it only speaks the CRI-shaped protocol. Each sync is
level-triggered, like a controller's reconcile: it reads the pod's sandboxes and container
attempts back from the runtime (labels carry the pod uid and container names, so nothing is
remembered that a kubelet restart would lose), compares them with the spec, acts, and computes
the status (status.py):

    no ready sandbox              ─► run_pod_sandbox (the pod's IP comes from here)
    init containers, in order     ─► start the first not yet succeeded; a failed one restarts
                                     unless restartPolicy is Never (then the pod fails)
    sidecars (init, Always)       ─► started in order with them (the next init container once
                                     the sidecar is started: postStart done, startup probe passed),
                                     kept running and restarted when they exit, also once the
                                     pod is initialized
    containers                    ─► start those never started, in order (one whose postStart
                                     hook still runs holds back the ones after it); restart
                                     exited ones as restartPolicy says, after the CrashLoopBackOff
                                     delay
    running containers            ─► startup and readiness from the Prober
    regular containers all done   ─► (restartPolicy OnFailure/Never) the sidecars are stopped

Lifecycle hooks (hooks.py runs them, lifecycle.py schedules them; only with a HookRunner, which
simulated nodes do not have): postStart runs in the background right after the container
starts; until it is done the container shows as waiting (ContainerCreating), neither started nor
ready; when it fails the container is killed (FailedPostStartHook) and restarted by its policy.
preStop runs before each stop, within the grace period. Termination messages
(termination_message.py) are read into the exited attempts.

What it cannot finish now (a backoff, a probe due later) comes back as ``requeue_after``; what
finishes in the background (a postStart hook) calls ``resync(pod key)``. ``terminate`` stops a
pod (preStop, SIGTERM with the grace period, then SIGKILL; sidecars after the other containers)
and ``remove`` deletes what the runtime still holds for a pod uid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.kubelet import status as pod_status_mod
from kybernetes.kubelet.events import KubeletEvents
from kybernetes.kubelet.hooks import HookRunner
from kybernetes.kubelet.lifecycle import ContainerKiller, PostStartHooks, pod_grace
from kybernetes.kubelet.probes import Prober, SimulatedProber
from kybernetes.kubelet.restart_backoff import RestartBackoff
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.status import ContainerView, is_sidecar
from kybernetes.kubelet.termination_message import TerminationMessages
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class PodRuntime:
    """What the runtime holds for one pod uid."""

    sandboxes: list[cri.PodSandbox] = field(default_factory=list)  # newest first
    containers: dict[str, list[cri.ContainerStatus]] = field(default_factory=dict)  # newest attempt first

    @property
    def ready_sandbox(self) -> cri.PodSandbox | None:
        return next((s for s in self.sandboxes if s.state == cri.PodSandboxState.SANDBOX_READY), None)

    def running(self) -> list[cri.ContainerStatus]:
        return [a for attempts in self.containers.values() for a in attempts
                if a.state == cri.ContainerState.CONTAINER_RUNNING]


@dataclass
class SyncResult:
    status: Obj
    requeue_after: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status.get("phase") in pod_status_mod.TERMINAL_PHASES


def _meta(pod: Obj) -> Obj:
    return pod.get("metadata") or {}


def pod_full_name(pod: Obj) -> str:
    m = _meta(pod)
    return f"{m.get('name')}_{m.get('namespace')}({m.get('uid')})"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def _pod_key(pod: Obj) -> str:
    return f"{_meta(pod).get('namespace', '')}/{_meta(pod).get('name', '')}"


def should_restart(container: Obj, restart_policy: str, exit_code: int, *, init: bool) -> bool:
    if is_sidecar(container):
        return True
    if init:  # a failed init container is retried unless the pod must never restart anything
        return exit_code != 0 and restart_policy != "Never"
    if restart_policy == "Always":
        return True
    return restart_policy == "OnFailure" and exit_code != 0


class PodWorker:
    def __init__(self, runtime: cri.RuntimeService, images: cri.ImageService, *, node_name: str,
                 host_ip: str, runtime_name: str = "fake", clock: Clock | None = None,
                 prober: Prober | None = None, events: KubeletEvents | None = None,
                 hooks: HookRunner | None = None, resync: Callable[[str], None] | None = None):
        self.runtime = runtime
        self.images = images
        self.node_name = node_name
        self.host_ip = host_ip
        self.runtime_name = runtime_name
        self.clock = clock or REAL_CLOCK
        self.prober = prober or SimulatedProber()
        self.events = events
        self.restarts = RestartBackoff()
        self.pulls = RestartBackoff()
        self.hooks = hooks
        self.resync = resync  # called with a pod's key when background work (a hook) finished
        self.killer = ContainerKiller(runtime, hooks, node_ip=host_ip, clock=self.clock, emit=self._event)
        self.post_start = PostStartHooks(runtime, hooks, self.killer, node_ip=host_ip, emit=self._event,
                                         on_done=self._hook_done)
        self.messages = TerminationMessages()

    # -- reading the runtime ----------------------------------------------------------------------

    async def runtime_state(self, uid: str) -> PodRuntime:
        selector = {cri.POD_UID_LABEL: uid}
        sandboxes = await self.runtime.list_pod_sandbox(cri.PodSandboxFilter(label_selector=selector))
        sandboxes.sort(key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
        state = PodRuntime(sandboxes)
        for c in await self.runtime.list_containers(cri.ContainerFilter(label_selector=selector)):
            try:
                status = await self.runtime.container_status(c.id)
            except cri.NotFoundError:
                continue
            name = c.labels.get(cri.CONTAINER_NAME_LABEL, c.metadata.name)
            state.containers.setdefault(name, []).append(status)
        for attempts in state.containers.values():
            attempts.sort(key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
        self.messages.fill(uid, state.containers)
        return state

    def _event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.events is not None:
            self.events.emit(self.node_name, pod, event_type, reason, message)

    def _hook_done(self, pod: Obj) -> None:
        if self.resync is not None:
            self.resync(_pod_key(pod))

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, pod: Obj, old_status: Obj) -> SyncResult:
        uid = _meta(pod).get("uid", "")
        spec = pod.get("spec") or {}
        state = await self.runtime_state(uid)
        views: dict[str, ContainerView] = {}
        requeue: list[float] = []
        terminal = old_status.get("phase") in pod_status_mod.TERMINAL_PHASES
        sandbox = state.ready_sandbox
        if sandbox is None and not terminal:
            sandbox = await self._run_sandbox(pod, len(state.sandboxes), requeue)
        if sandbox is not None and not terminal:
            sandbox_config = self.sandbox_config(pod, sandbox.metadata.attempt)
            if await self._sync_init_containers(pod, sandbox.id, sandbox_config, state, views, requeue):
                for c in spec.get("containers") or []:
                    await self._sync_container(pod, c, sandbox.id, sandbox_config, state, views, requeue, init=False)
                    if self.post_start.running(uid, c.get("name", "")):
                        break  # the containers after it start once its postStart hook is done
            state = await self.runtime_state(uid)
            if self.regular_containers_finished(pod, state):
                # Nothing will restart: stop the sidecars too (as a deletion would), and the pod is done.
                await self._stop_everything(pod, state, grace=pod_grace(pod))
                state, terminal = await self.runtime_state(uid), True
        self._probe(pod, state, views, requeue)
        result = await self._status(pod, old_status, state, views, pod_is_terminal=terminal)
        if result.terminal:
            await self._stop_everything(pod, state, grace=0, quiet=True)
        result.requeue_after = min(requeue) if requeue else None
        return result

    @staticmethod
    def regular_containers_finished(pod: Obj, state: PodRuntime) -> bool:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        if policy == "Always":
            return False
        for c in spec.get("containers") or []:
            attempts = state.containers.get(c.get("name", "")) or []
            if not attempts or attempts[0].state != cri.ContainerState.CONTAINER_EXITED:
                return False
            if should_restart(c, policy, attempts[0].exit_code, init=False):
                return False
        return True

    async def _run_sandbox(self, pod: Obj, attempt: int, requeue: list[float]) -> cri.PodSandbox | None:
        config = self.sandbox_config(pod, attempt)
        try:
            sandbox_id = await self.runtime.run_pod_sandbox(config)
        except cri.RuntimeServiceError as e:
            self._event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
            requeue.append(self.pulls.restarted(f"{_meta(pod).get('uid')}/sandbox", self.clock.wall().timestamp()))
            return None
        return next(iter(await self.runtime.list_pod_sandbox(cri.PodSandboxFilter(id=sandbox_id))), None)

    def sandbox_config(self, pod: Obj, attempt: int) -> cri.PodSandboxConfig:
        m, spec = _meta(pod), pod.get("spec") or {}
        ports = tuple(cri.PortMapping(int(p.get("containerPort") or 0), int(p.get("hostPort") or 0),
                                      p.get("protocol") or "TCP", p.get("hostIP") or "")
                      for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort"))
        labels = {**(m.get("labels") or {}), cri.POD_NAME_LABEL: m.get("name", ""),
                  cri.POD_NAMESPACE_LABEL: m.get("namespace", ""), cri.POD_UID_LABEL: m.get("uid", "")}
        return cri.PodSandboxConfig(
            cri.PodSandboxMetadata(m.get("name", ""), m.get("uid", ""), m.get("namespace", ""), attempt),
            hostname=spec.get("hostname") or m.get("name", ""), port_mappings=ports, labels=labels,
            annotations=dict(m.get("annotations") or {}), host_network=bool(spec.get("hostNetwork")))

    async def _sync_init_containers(self, pod: Obj, sandbox_id: str, sandbox_config: cri.PodSandboxConfig,
                                    state: PodRuntime, views: dict[str, ContainerView],
                                    requeue: list[float]) -> bool:
        """Advance the init containers; True once every one is done (sidecars: started). Once the
        pod is initialized (a regular container ran), only the sidecars are kept running."""
        spec = pod.get("spec") or {}
        initialized = any(state.containers.get(c.get("name", "")) for c in spec.get("containers") or [])
        for c in spec.get("initContainers") or []:
            if initialized and not is_sidecar(c):
                continue
            await self._sync_container(pod, c, sandbox_id, sandbox_config, state, views, requeue, init=True)
            if initialized:
                continue
            attempts = state.containers.get(c["name"]) or []
            latest = attempts[0] if attempts else None
            if is_sidecar(c):
                if latest is None or latest.state != cri.ContainerState.CONTAINER_RUNNING:
                    return False
                if latest.id in self.post_start:
                    return False
                running_for = self.clock.wall().timestamp() - latest.started_at / 1e9
                started = self.prober.started(pod, c, running_for)
                if not started.ok:
                    if started.recheck_in is not None:
                        requeue.append(started.recheck_in)
                    return False
                continue
            if latest is None or latest.state != cri.ContainerState.CONTAINER_EXITED or latest.exit_code != 0:
                return False
        return True

    async def _sync_container(self, pod: Obj, c: Obj, sandbox_id: str, sandbox_config: cri.PodSandboxConfig,
                              state: PodRuntime, views: dict[str, ContainerView], requeue: list[float], *,
                              init: bool) -> None:
        name = c.get("name", "")
        view = views.setdefault(name, ContainerView())
        attempts = state.containers.get(name) or []
        latest = attempts[0] if attempts else None
        if latest is None:
            await self._start(pod, c, sandbox_id, sandbox_config, 0, view, requeue, init=init)
        elif latest.state == cri.ContainerState.CONTAINER_CREATED:
            await self._start_created(pod, c, latest.id, view)
        elif latest.state == cri.ContainerState.CONTAINER_EXITED:
            policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
            if not should_restart(c, policy, latest.exit_code, init=init):
                return
            key = f"{_meta(pod).get('uid')}/{name}"
            exited_at, now = latest.finished_at / 1e9, self.clock.wall().timestamp()
            wait = self.restarts.remaining(key, exited_at, now)
            if wait > 0:
                view.waiting_reason = "CrashLoopBackOff"
                view.waiting_message = (f"back-off {_duration(self.restarts.current(key))} restarting failed "
                                        f"container={name} pod={pod_full_name(pod)}")
                self._event(pod, "Warning", "BackOff",
                            f"Back-off restarting failed container {name} in pod {pod_full_name(pod)}")
                requeue.append(wait)
                return
            self.restarts.restarted(key, exited_at, now)
            for old in attempts[1:]:  # keep only the last dead attempt (its exit is lastState)
                await self.runtime.remove_container(old.id)
            await self._start(pod, c, sandbox_id, sandbox_config, latest.metadata.attempt + 1, view, requeue,
                              init=init)

    async def _ensure_image(self, pod: Obj, c: Obj, sandbox_config: cri.PodSandboxConfig, view: ContainerView,
                            requeue: list[float]) -> bool:
        image = c.get("image", "")
        policy = c.get("imagePullPolicy") or ("Always" if image.endswith(":latest") or ":" not in
                                              image.rsplit("/", 1)[-1] else "IfNotPresent")
        present = await self.images.image_status(cri.ImageSpec(image))
        if present is not None and policy != "Always":
            self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            return True
        if policy == "Never":
            view.waiting_reason = "ErrImageNeverPull"
            view.waiting_message = f'Container image "{image}" is not present with pull policy of Never'
            self._event(pod, "Warning", "ErrImageNeverPull", view.waiting_message)
            return False
        key = f"{_meta(pod).get('uid')}/pull/{c.get('name')}"
        now = self.clock.wall().timestamp()
        wait = self.pulls.remaining_since_last(key, now)
        if wait > 0:
            view.waiting_reason, view.waiting_message = "ImagePullBackOff", f'Back-off pulling image "{image}"'
            self._event(pod, "Normal", "BackOff", view.waiting_message)
            requeue.append(wait)
            return False
        self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = self.clock.now()
        try:
            await self.images.pull_image(cri.ImageSpec(image), None, sandbox_config)
        except cri.RuntimeServiceError as e:
            delay = self.pulls.restarted(key, now)
            view.waiting_reason, view.waiting_message = "ErrImagePull", str(e)
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {e}')
            requeue.append(delay)
            return False
        took = _duration(self.clock.now() - started)
        pulled = await self.images.image_status(cri.ImageSpec(image))
        self._event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                                             f'waiting). Image size: {pulled.size if pulled else 0} bytes.')
        return True

    def container_config(self, pod: Obj, c: Obj, attempt: int, *, init: bool) -> cri.ContainerConfig:
        m = _meta(pod)
        kind = (cri.CONTAINER_TYPE_SIDECAR if is_sidecar(c) else cri.CONTAINER_TYPE_INIT) if init else \
            cri.CONTAINER_TYPE_REGULAR
        labels = {cri.POD_NAME_LABEL: m.get("name", ""), cri.POD_NAMESPACE_LABEL: m.get("namespace", ""),
                  cri.POD_UID_LABEL: m.get("uid", ""), cri.CONTAINER_NAME_LABEL: c.get("name", "")}
        annotations = {cri.CONTAINER_TYPE_ANNOTATION: kind, cri.RESTART_COUNT_ANNOTATION: str(attempt)}
        envs = tuple(cri.KeyValue(e["name"], str(e.get("value", ""))) for e in c.get("env") or []
                     if isinstance(e, dict) and e.get("name") and "valueFrom" not in e)
        return cri.ContainerConfig(cri.ContainerMetadata(c.get("name", ""), attempt), cri.ImageSpec(c.get("image", "")),
                                   command=tuple(c.get("command") or ()), args=tuple(c.get("args") or ()),
                                   working_dir=c.get("workingDir") or "", envs=envs, labels=labels,
                                   annotations=annotations, stdin=bool(c.get("stdin")), tty=bool(c.get("tty")))

    async def _start(self, pod: Obj, c: Obj, sandbox_id: str, sandbox_config: cri.PodSandboxConfig, attempt: int,
                     view: ContainerView, requeue: list[float], *, init: bool) -> None:
        if not await self._ensure_image(pod, c, sandbox_config, view, requeue):
            return
        name = c.get("name", "")
        try:
            container_id = await self.runtime.create_container(
                sandbox_id, self.container_config(pod, c, attempt, init=init), sandbox_config)
        except cri.RuntimeServiceError as e:
            view.waiting_reason, view.waiting_message = "CreateContainerError", str(e)
            self._event(pod, "Warning", "Failed", f"Error: {e}")
            requeue.append(self.restarts.restarted(f"{_meta(pod).get('uid')}/create/{name}",
                                                   self.clock.wall().timestamp()))
            return
        self._event(pod, "Normal", "Created", f"Created container: {name}")
        await self._start_created(pod, c, container_id, view)

    async def _start_created(self, pod: Obj, c: Obj, container_id: str, view: ContainerView) -> None:
        try:
            await self.runtime.start_container(container_id)
        except cri.RuntimeServiceError as e:
            view.waiting_reason, view.waiting_message = "RunContainerError", str(e)
            self._event(pod, "Warning", "Failed", f"Error: {e}")
            return
        self._event(pod, "Normal", "Started", f"Started container {c.get('name', '')}")
        self.post_start.begin(pod, c, container_id)  # when it has one: the container waits for it

    async def kill_container(self, pod: Obj, c: Obj, container_id: str, grace: int, message: str = "") -> None:
        """Stop one container as Kubernetes does (preStop, then SIGTERM and SIGKILL within ``grace``);
        what a failed liveness or startup probe uses."""
        await self.killer.kill(pod, c, container_id, grace, message=message)

    # -- probes and status --------------------------------------------------------------------------

    def _probe(self, pod: Obj, state: PodRuntime, views: dict[str, ContainerView], requeue: list[float]) -> None:
        spec = pod.get("spec") or {}
        now = self.clock.wall().timestamp()
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            attempts = state.containers.get(c.get("name", "")) or []
            view = views.setdefault(c.get("name", ""), ContainerView())
            view.attempts = attempts
            if not attempts or attempts[0].state != cri.ContainerState.CONTAINER_RUNNING:
                continue
            if attempts[0].id in self.post_start:
                view.post_start_pending, view.started, view.ready = True, False, False
                continue
            running_for = now - attempts[0].started_at / 1e9
            for kind in ("started", "ready"):
                result = getattr(self.prober, kind)(pod, c, running_for)
                setattr(view, kind, result.ok)
                if result.recheck_in is not None:
                    requeue.append(max(result.recheck_in, 0.001))

    async def _status(self, pod: Obj, old_status: Obj, state: PodRuntime, views: dict[str, ContainerView], *,
                      pod_is_terminal: bool) -> SyncResult:
        sandbox = state.ready_sandbox
        ips: list[str] = []
        if sandbox is not None:
            try:
                network = (await self.runtime.pod_sandbox_status(sandbox.id)).network
                ips = [ip for ip in (network.ip, *network.additional_ips) if ip]
            except cri.NotFoundError:
                sandbox = None
        spec = pod.get("spec") or {}
        init_names = {c.get("name") for c in spec.get("initContainers") or []}
        pod_for_status = {**pod, "status": old_status}
        status = pod_status_mod.pod_status(
            pod_for_status, init_views={k: v for k, v in views.items() if k in init_names},
            views={k: v for k, v in views.items() if k not in init_names}, runtime_name=self.runtime_name,
            sandbox_ready=sandbox is not None, pod_ips=ips, host_ip=self.host_ip,
            now=self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ"), pod_is_terminal=pod_is_terminal)
        return SyncResult(status)

    # -- stopping -----------------------------------------------------------------------------------

    async def _stop_everything(self, pod: Obj, state: PodRuntime, *, grace: int, quiet: bool = False) -> None:
        self.post_start.cancel(_meta(pod).get("uid", ""))
        await self.killer.kill_pod(pod, state.running(), grace, quiet=quiet)
        for sandbox in state.sandboxes:
            if sandbox.state == cri.PodSandboxState.SANDBOX_READY:
                await self.runtime.stop_pod_sandbox(sandbox.id)

    async def terminate(self, pod: Obj, old_status: Obj, grace: int) -> SyncResult:
        """Stop every container (SIGTERM, SIGKILL after ``grace`` s) and the sandbox; the final status."""
        uid = _meta(pod).get("uid", "")
        state = await self.runtime_state(uid)
        ips_before = await self._status(pod, old_status, state, {}, pod_is_terminal=False)
        await self._stop_everything(pod, state, grace=max(int(grace), 0))
        state = await self.runtime_state(uid)
        views: dict[str, ContainerView] = {}
        self._probe(pod, state, views, [])
        if ips_before.status.get("podIP") and not old_status.get("podIP"):
            old_status = {**old_status, "podIP": ips_before.status["podIP"], "podIPs": ips_before.status["podIPs"]}
        return await self._status(pod, old_status, state, views, pod_is_terminal=True)

    async def remove(self, uid: str) -> None:
        """Delete every sandbox and container of pod ``uid`` (after it was stopped or force deleted)."""
        state = await self.runtime_state(uid)
        for sandbox in state.sandboxes:
            await self.runtime.remove_pod_sandbox(sandbox.id)
        for attempts in state.containers.values():  # containers whose sandbox is already gone
            for cs in attempts:
                await self.runtime.remove_container(cs.id)
        self.post_start.cancel(uid)
        self.messages.forget_pod(uid)
        self.restarts.forget_pod(uid)
        self.pulls.forget_pod(uid)
