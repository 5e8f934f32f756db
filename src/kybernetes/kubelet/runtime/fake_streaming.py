"""The fake runtime's streaming and stats calls (exec, attach, port_forward, container stats).

A mixin of FakeRuntime (fake.py), kept apart so each file stays one concern: fake.py is the
lifecycle of sandboxes and containers, this is what a running container offers to the
kubelet's streaming server and to ``kubectl top``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kybernetes.api.quantity import QuantityError, parse_quantity
from kybernetes.kubelet.runtime.fake_shell import FakeShell
from kybernetes.kubelet.runtime.fake_streams import (
    AttachSession,
    ExecSession,
    MainProcess,
    cri_log_line,
    open_fake_port,
)
from kybernetes.kubelet.runtime.protocol import (
    AttachRequest,
    ContainerAttributes,
    ContainerState,
    ContainerStats,
    ContainerStatsFilter,
    CpuUsage,
    ExecRequest,
    MemoryUsage,
    PodSandboxState,
    RuntimeServiceError,
    matches_labels,
)

if TYPE_CHECKING:
    from kybernetes.kubelet.runtime.fake import _Container, _Sandbox


CPU_USAGE = "sim.kybernetes.io/cpu-usage"
MEMORY_USAGE = "sim.kybernetes.io/memory-usage"
DEFAULT_CPU_USAGE = "1m"
DEFAULT_MEMORY_USAGE = "4Mi"


def _usage(annotations: dict[str, str], key: str, name: str, default: str) -> float:
    raw = annotations.get(f"{key}.{name}", annotations.get(key, default))
    try:
        return float(parse_quantity(raw).value)
    except (QuantityError, ValueError, AttributeError):
        return float(parse_quantity(default).value)


class FakeStreamingMixin:
    clock: Any
    log_root: str
    _containers: dict[str, _Container]
    _stream_tasks: set[asyncio.Task[None]]

    _container: Any  # FakeRuntime's lookups
    _sandbox: Any
    _now_ns: Any

    # -- logs and the main process ----------------------------------------------------------------

    def _log_path(self, sandbox: _Sandbox, config: Any) -> str:
        if config.log_path:  # CRI: relative to the sandbox's log directory
            return os.path.join(sandbox.config.log_directory, config.log_path)
        if not self.log_root:
            return ""
        m = sandbox.config.metadata
        return os.path.join(self.log_root, f"{m.namespace}_{m.name}_{m.uid}", config.metadata.name,
                            f"{config.metadata.attempt}.log")

    def _shell(self, sandbox: _Sandbox, container: _Container) -> FakeShell:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOSTNAME": sandbox.config.hostname}
        env.update({kv.key: kv.value for kv in container.config.envs})
        return FakeShell(hostname=sandbox.config.hostname, env=env, fs=container.fs, sleep=self.clock.sleep,
                         cwd=container.config.working_dir or "/")

    def _start_main_process(self, sandbox: _Sandbox, container: _Container) -> None:
        argv = [*container.config.command, *container.config.args]
        if not self.log_root or not argv:
            return
        path = Path(container.log_path) if container.log_path else None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()

        def write(stream: str, data: bytes) -> None:
            if path is not None and data:
                with path.open("ab") as f:
                    f.write(cri_log_line(self.clock.wall(), stream, data))

        container.process = MainProcess(self._shell(sandbox, container), argv, log_write=write,
                                        stdin=container.config.stdin)

    # -- streaming ----------------------------------------------------------------------------------

    def _running(self, container_id: str) -> tuple[_Sandbox, _Container]:
        container = self._container(container_id)
        if container.state != ContainerState.CONTAINER_RUNNING:
            raise RuntimeServiceError(f"container {container_id} is not running")
        return self._sandbox(container.sandbox_id), container

    async def exec(self, request: ExecRequest) -> ExecSession:
        sandbox, container = self._running(request.container_id)
        if not request.cmd:
            raise RuntimeServiceError("exec needs a command")
        return ExecSession(self._shell(sandbox, container), list(request.cmd), tty=request.tty,
                           stdin=request.stdin)

    async def attach(self, request: AttachRequest) -> AttachSession:
        _, container = self._running(request.container_id)
        if request.stdin and not container.config.stdin:
            raise RuntimeServiceError("container does not have stdin enabled (spec.containers[].stdin)")
        return AttachSession(container.stopped, lambda: container.exit_code, container.process,
                             tty=request.tty and container.config.tty, stdin=request.stdin)

    async def port_forward(self, pod_sandbox_id: str, port: int) -> tuple[asyncio.StreamReader,
                                                                           asyncio.StreamWriter]:
        sandbox = self._sandbox(pod_sandbox_id)
        if sandbox.state != PodSandboxState.SANDBOX_READY:
            raise RuntimeServiceError(f"pod sandbox {pod_sandbox_id} is not ready")
        if not 0 < port < 65536:
            raise RuntimeServiceError(f"invalid port {port}")
        m = sandbox.config.metadata
        return await open_fake_port(f"pod {m.namespace}/{m.name} port {port}", self._stream_tasks)

    # -- stats ----------------------------------------------------------------------------------------

    def _stats(self, c: _Container) -> ContainerStats:
        now = self._now_ns()
        sandbox = self._sandbox(c.sandbox_id)
        annotations = sandbox.config.annotations
        name = c.config.metadata.name
        cores = _usage(annotations, CPU_USAGE, name, DEFAULT_CPU_USAGE)
        memory = _usage(annotations, MEMORY_USAGE, name, DEFAULT_MEMORY_USAGE)
        end = c.finished_at if c.state == ContainerState.CONTAINER_EXITED else now
        ran = max(end - c.started_at, 0) if c.started_at else 0
        running = c.state == ContainerState.CONTAINER_RUNNING
        return ContainerStats(ContainerAttributes(c.id, c.config.metadata, dict(c.config.labels),
                                                  dict(c.config.annotations)),
                              CpuUsage(now, int(cores * ran)), MemoryUsage(now, int(memory) if running else 0))

    async def container_stats(self, container_id: str) -> ContainerStats:
        return self._stats(self._container(container_id))

    async def list_container_stats(self, filter: ContainerStatsFilter | None = None) -> list[ContainerStats]:
        f = filter or ContainerStatsFilter()
        return [self._stats(c) for c in list(self._containers.values())
                if c.state == ContainerState.CONTAINER_RUNNING and (not f.id or c.id == f.id)
                and (not f.pod_sandbox_id or c.sandbox_id == f.pod_sandbox_id)
                and matches_labels(c.config.labels, f.label_selector)]
