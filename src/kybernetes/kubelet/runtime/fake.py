"""The fake runtime of simulated nodes: CRI's calls, in memory, driven by the clock.

Nothing runs. A started container is "running" until something makes it exit: a stop or a
sandbox stop, or the simulation knobs the kubelet passes along as sandbox annotations (the pod's
own annotations, exactly as the real kubelet hands them to containerd):

    sim.kybernetes.io/run-seconds: "S"        regular containers exit after S seconds
    sim.kybernetes.io/run-seconds.<name>: "S" ... only container <name> (wins over the above)
    sim.kybernetes.io/exit-code: "N"          ... with exit code N (default 0)
    sim.kybernetes.io/init-seconds: "S"       init containers take S seconds (default 0)
    sim.kybernetes.io/init-exit-code: "N"     ... and exit with N (default 0)
    sim.kybernetes.io/stop-seconds: "S"       after SIGTERM a container takes S seconds to exit
                                              (default: the runtime's stop_seconds)

A container that exits on its own within the grace period reports exit code 0 ("Completed");
one still running when the timeout runs out is killed: 137 ("Error"), as after SIGKILL.
Sidecars (init containers with restartPolicy Always) run like regular containers without a
run time.

Streaming (fake_streams.py, fake_shell.py): exec runs a tiny shell over the container's in-memory
files; port-forward reaches a built-in HTTP/echo responder. With a ``log_root`` the runtime also
interprets each container's command as its main process: its output lands in a CRI log file
(``<log_root>/<ns>_<pod>_<uid>/<name>/<attempt>.log``, or the sandbox's log_directory joined with
the container's log_path when the kubelet sets them) and reaches ``kubectl attach``; the
container's lifetime still follows the annotations above. Stats: each running container uses
``sim.kybernetes.io/cpu-usage`` (default 1m) and ``sim.kybernetes.io/memory-usage`` (default 4Mi),
or the ``.<name>`` variants. Pod IPs come from the pod CIDR set with ``update_runtime_config`` (the node's
spec.podCIDR) or, until then, from a fallback range, with a warning that says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.runtime.fake_images import FakeImageService
from kybernetes.kubelet.runtime.fake_shell import FileSystem
from kybernetes.kubelet.runtime.fake_streaming import FakeStreamingMixin
from kybernetes.kubelet.runtime.fake_streams import MainProcess
from kybernetes.kubelet.runtime.pod_ips import PodIPAllocator
from kybernetes.kubelet.runtime.protocol import (
    CONTAINER_NAME_LABEL,
    CONTAINER_TYPE_ANNOTATION,
    CONTAINER_TYPE_INIT,
    CONTAINER_TYPE_SIDECAR,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerEventType,
    ContainerFilter,
    ContainerState,
    ContainerStatus,
    ImageSpec,
    NotFoundError,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxNetworkStatus,
    PodSandboxState,
    PodSandboxStatus,
    RuntimeCondition,
    RuntimeServiceError,
    RuntimeStatus,
    VersionResponse,
    matches_labels,
)
from kybernetes.kubelet.timers import TimerHandle, Timers
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

SIM_PREFIX = "sim.kybernetes.io/"
RUN_SECONDS = SIM_PREFIX + "run-seconds"
EXIT_CODE = SIM_PREFIX + "exit-code"
INIT_SECONDS = SIM_PREFIX + "init-seconds"
INIT_EXIT_CODE = SIM_PREFIX + "init-exit-code"
STOP_SECONDS = SIM_PREFIX + "stop-seconds"

RUNTIME_NAME = "fake"
RUNTIME_VERSION = "0.1.0"
CRI_VERSION = "v1"
KILLED_EXIT_CODE = 137

_warned_fallback = False


@dataclass
class _Sandbox:
    id: str
    config: PodSandboxConfig
    state: PodSandboxState
    created_at: int
    ip: str = ""


@dataclass
class _Container:
    id: str
    sandbox_id: str
    config: ContainerConfig
    image_ref: str
    image_name: str
    state: ContainerState
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    exit_timer: TimerHandle | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    log_path: str = ""
    fs: FileSystem = field(default_factory=FileSystem)
    process: MainProcess | None = None


def _seconds(annotations: dict[str, str], key: str, default: float | None) -> float | None:
    raw = annotations.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeServiceError(f'annotation {key}: "{raw}" is not a number of seconds') from None
    if value < 0 or value != value:
        raise RuntimeServiceError(f'annotation {key}: "{raw}" must be zero or more seconds')
    return value


def _code(annotations: dict[str, str], key: str) -> int:
    raw = annotations.get(key, "0")
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeServiceError(f'annotation {key}: "{raw}" is not an integer exit code') from None
    if not 0 <= value <= 255:
        raise RuntimeServiceError(f'annotation {key}: "{raw}" must be an exit code from 0 to 255')
    return value


class FakeRuntime(FakeStreamingMixin):
    """The RuntimeService of one simulated node; its ImageService is ``self.images``."""

    def __init__(self, *, clock: Clock | None = None, timers: Timers | None = None, stop_seconds: float = 1.0,
                 fallback_pod_cidr: str = "172.16.0.0/24", node_name: str = "", log_root: str = ""):
        self.clock = clock or REAL_CLOCK
        self.log_root = log_root
        self._stream_tasks: set[asyncio.Task[None]] = set()
        self.timers = timers or Timers(self.clock)
        self.stop_seconds = stop_seconds
        self.node_name = node_name
        self.fallback_pod_cidr = fallback_pod_cidr
        self.pod_cidr = ""
        self._ips: PodIPAllocator | None = None
        self._fallback_ips: PodIPAllocator | None = None
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self.images = FakeImageService()
        self._subscribers: list[asyncio.Queue[ContainerEvent]] = []
        self._ids = itertools.count(1)
        self.calls: list[str] = []  # the name of every call, for tests

    # -- helpers ------------------------------------------------------------------------------------

    def _now_ns(self) -> int:
        return int(self.clock.wall().timestamp() * 1_000_000_000)

    def _new_id(self) -> str:
        return hashlib.sha256(f"{next(self._ids)}-{secrets.token_hex(8)}".encode()).hexdigest()

    def _emit(self, container: _Container, event_type: ContainerEventType) -> None:
        event = ContainerEvent(container.id, event_type, self._now_ns(), container.sandbox_id,
                               dict(container.config.labels))
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found") from None

    def _container(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id!r} not found") from None

    def _allocate_ip(self) -> str:
        global _warned_fallback
        if self._ips is not None:
            return self._ips.allocate()
        if self._fallback_ips is None:
            self._fallback_ips = PodIPAllocator(self.fallback_pod_cidr)
            message = ("node %s has no spec.podCIDR (is the node IPAM controller running?): "
                       "pod IPs come from the fallback range %s")
            if not _warned_fallback:
                log.warning(message + " (further nodes: debug log)", self.node_name or "?", self.fallback_pod_cidr)
                _warned_fallback = True
            else:
                log.debug(message, self.node_name or "?", self.fallback_pod_cidr)
        return self._fallback_ips.allocate()

    def _release_ip(self, ip: str) -> None:
        for allocator in (self._ips, self._fallback_ips):
            if allocator is not None and ip in allocator:
                allocator.release(ip)

    # -- RuntimeService: version and status ---------------------------------------------------------

    async def version(self) -> VersionResponse:
        return VersionResponse(CRI_VERSION, RUNTIME_NAME, RUNTIME_VERSION, CRI_VERSION)

    async def status(self) -> RuntimeStatus:
        return RuntimeStatus((RuntimeCondition("RuntimeReady", True), RuntimeCondition("NetworkReady", True)))

    async def update_runtime_config(self, pod_cidr: str) -> None:
        if not pod_cidr or pod_cidr == self.pod_cidr:
            return
        self._ips = PodIPAllocator(pod_cidr)
        self.pod_cidr = self._ips.cidr
        for sandbox in self._sandboxes.values():  # addresses already handed out stay taken
            if sandbox.ip and sandbox.state == PodSandboxState.SANDBOX_READY:
                self._ips.reserve(sandbox.ip)

    # -- sandboxes ----------------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str:
        self.calls.append("run_pod_sandbox")
        sandbox = _Sandbox(self._new_id(), config, PodSandboxState.SANDBOX_READY, self._now_ns())
        if not config.host_network:
            try:
                sandbox.ip = self._allocate_ip()
            except Exception as e:
                raise RuntimeServiceError(f"failed to set up the pod network: {e}") from None
        self._sandboxes[sandbox.id] = sandbox
        return sandbox.id

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        self.calls.append("stop_pod_sandbox")
        sandbox = self._sandboxes.get(pod_sandbox_id)
        if sandbox is None:
            return  # CRI: stopping what is gone is not an error
        for container in list(self._containers.values()):
            if container.sandbox_id == pod_sandbox_id and container.state == ContainerState.CONTAINER_RUNNING:
                self._exit(container, KILLED_EXIT_CODE, "Error")
        if sandbox.ip:
            self._release_ip(sandbox.ip)
        sandbox.state = PodSandboxState.SANDBOX_NOTREADY

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        self.calls.append("remove_pod_sandbox")
        await self.stop_pod_sandbox(pod_sandbox_id)
        for container in list(self._containers.values()):
            if container.sandbox_id == pod_sandbox_id:
                await self.remove_container(container.id)
        self._sandboxes.pop(pod_sandbox_id, None)

    async def pod_sandbox_status(self, pod_sandbox_id: str) -> PodSandboxStatus:
        s = self._sandbox(pod_sandbox_id)
        network = PodSandboxNetworkStatus(s.ip if s.state == PodSandboxState.SANDBOX_READY else "")
        return PodSandboxStatus(s.id, s.config.metadata, s.state, s.created_at, network,
                                dict(s.config.labels), dict(s.config.annotations))

    async def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]:
        f = filter or PodSandboxFilter()
        return [PodSandbox(s.id, s.config.metadata, s.state, s.created_at, dict(s.config.labels),
                           dict(s.config.annotations))
                for s in self._sandboxes.values()
                if (not f.id or s.id == f.id) and (f.state is None or s.state == f.state)
                and matches_labels(s.config.labels, f.label_selector)]

    # -- containers ---------------------------------------------------------------------------------

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig,
                               sandbox_config: PodSandboxConfig) -> str:
        self.calls.append("create_container")
        sandbox = self._sandbox(pod_sandbox_id)
        if sandbox.state != PodSandboxState.SANDBOX_READY:
            raise RuntimeServiceError(f"pod sandbox {pod_sandbox_id} is not ready")
        try:
            name = str(parse_image_reference(config.image.image))
        except InvalidImageNameError as e:
            raise RuntimeServiceError(str(e)) from None
        image = self.images.get(name)
        if image is None:
            raise RuntimeServiceError(f"image {config.image.image!r} is not present on the node")
        self._run_plan(sandbox, config)  # refuse bad simulation annotations at create, as CRI would
        container = _Container(self._new_id(), pod_sandbox_id, config, image.repo_digests[0], name,
                               ContainerState.CONTAINER_CREATED, self._now_ns())
        container.log_path = self._log_path(sandbox, config)
        self._containers[container.id] = container
        self._emit(container, ContainerEventType.CONTAINER_CREATED_EVENT)
        return container.id

    def _run_plan(self, sandbox: _Sandbox, config: ContainerConfig) -> tuple[float | None, int]:
        """How long a container runs before it exits by itself (None: forever), and its code."""
        annotations = sandbox.config.annotations
        if config.annotations.get(CONTAINER_TYPE_ANNOTATION) == CONTAINER_TYPE_INIT:
            return _seconds(annotations, INIT_SECONDS, 0.0), _code(annotations, INIT_EXIT_CODE)
        own = _seconds(annotations, f"{RUN_SECONDS}.{config.metadata.name}", None)
        run = own if own is not None else _seconds(annotations, RUN_SECONDS, None)
        if config.annotations.get(CONTAINER_TYPE_ANNOTATION) == CONTAINER_TYPE_SIDECAR and own is None:
            run = None
        return run, _code(annotations, EXIT_CODE)

    async def start_container(self, container_id: str) -> None:
        self.calls.append("start_container")
        container = self._container(container_id)
        if container.state != ContainerState.CONTAINER_CREATED:
            raise RuntimeServiceError(f"container {container_id} is {container.state}, not created")
        sandbox = self._sandbox(container.sandbox_id)
        run, code = self._run_plan(sandbox, container.config)
        container.state = ContainerState.CONTAINER_RUNNING
        container.started_at = self._now_ns()
        self._emit(container, ContainerEventType.CONTAINER_STARTED_EVENT)
        self._start_main_process(sandbox, container)
        if run is not None:
            reason = "Completed" if code == 0 else "Error"
            container.exit_timer = self.timers.call_later(run, lambda: self._exit(container, code, reason))

    def _exit(self, container: _Container, code: int, reason: str) -> None:
        if container.state != ContainerState.CONTAINER_RUNNING:
            return
        if container.exit_timer is not None:
            container.exit_timer.cancel()
            container.exit_timer = None
        container.state = ContainerState.CONTAINER_EXITED
        container.finished_at = self._now_ns()
        container.exit_code = code
        container.reason = reason
        container.stopped.set()
        if container.process is not None:
            container.process.stop()
        self._emit(container, ContainerEventType.CONTAINER_STOPPED_EVENT)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        self.calls.append("stop_container")
        container = self._containers.get(container_id)
        if container is None or container.state != ContainerState.CONTAINER_RUNNING:
            return
        sandbox = self._sandboxes.get(container.sandbox_id)
        annotations = sandbox.config.annotations if sandbox else {}
        try:
            takes = _seconds(annotations, STOP_SECONDS, self.stop_seconds) or 0.0
        except RuntimeServiceError:
            takes = self.stop_seconds
        grace = max(float(timeout), 0.0)
        try:
            await self.clock.wait_for(container.stopped.wait(), min(takes, grace))
        except TimeoutError:
            pass
        if takes <= grace:
            self._exit(container, 0, "Completed")  # it handled SIGTERM and exited
        else:
            self._exit(container, KILLED_EXIT_CODE, "Error")  # SIGKILL at the end of the grace period

    async def remove_container(self, container_id: str) -> None:
        self.calls.append("remove_container")
        container = self._containers.pop(container_id, None)
        if container is None:
            return
        if container.exit_timer is not None:
            container.exit_timer.cancel()
        if container.state == ContainerState.CONTAINER_RUNNING:
            container.state = ContainerState.CONTAINER_EXITED
            container.exit_code, container.reason = KILLED_EXIT_CODE, "Error"
            container.stopped.set()
            if container.process is not None:
                container.process.stop()
        self._emit(container, ContainerEventType.CONTAINER_DELETED_EVENT)

    async def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]:
        f = filter or ContainerFilter()
        return [Container(c.id, c.sandbox_id, c.config.metadata, ImageSpec(c.image_name), c.image_ref, c.state,
                          c.created_at, dict(c.config.labels), dict(c.config.annotations))
                for c in self._containers.values()
                if (not f.id or c.id == f.id) and (f.state is None or c.state == f.state)
                and (not f.pod_sandbox_id or c.sandbox_id == f.pod_sandbox_id)
                and matches_labels(c.config.labels, f.label_selector)]

    async def container_status(self, container_id: str) -> ContainerStatus:
        c = self._container(container_id)
        return ContainerStatus(c.id, c.config.metadata, c.state, c.created_at, c.started_at, c.finished_at,
                               c.exit_code, ImageSpec(c.image_name), c.image_ref, c.reason, "",
                               dict(c.config.labels), dict(c.config.annotations), c.log_path)

    async def get_container_events(self) -> AsyncIterator[ContainerEvent]:
        queue: asyncio.Queue[ContainerEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)

    def subscribe(self) -> asyncio.Queue[ContainerEvent]:
        """A queue receiving every event from now on (the cheap form of get_container_events for a
        process holding a thousand runtimes: no generator task per node)."""
        queue: asyncio.Queue[ContainerEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    # -- introspection for tests --------------------------------------------------------------------

    def running_containers(self) -> list[str]:
        return [c.config.labels.get(CONTAINER_NAME_LABEL, c.config.metadata.name)
                for c in self._containers.values() if c.state == ContainerState.CONTAINER_RUNNING]

    @property
    def sandbox_count(self) -> int:
        return len(self._sandboxes)
