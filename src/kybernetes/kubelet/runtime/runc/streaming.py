"""exec, exec_sync, attach, port-forward and stats for runc containers.

exec runs ``runc exec`` (the container's own process settings, its namespaces and cgroup): with
pipes, so stdout and stderr stay apart, or for a tty with runc's interactive mode on a pty of
ours (console.py). A timeout or a closed session kills the exec'd process by its host pid
(killing runc alone would leave it running). attach talks to the container's conmon through its
attach socket and control fifo (attach.py). port_forward connects from a short-lived thread that
entered the sandbox's network namespace: a socket keeps the namespace it was made in, so the
connection is the pod's while everything else stays on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import cgroups, linux
from kybernetes.kubelet.runtime.runc.attach import AttachSession, connect_attach_socket
from kybernetes.kubelet.runtime.runc.console import TtyExecSession, kill_exec, kill_pidfile, spawn_tty_exec

if TYPE_CHECKING:
    from kybernetes.kubelet.runtime.runc.service import RuncRuntime

CHUNK = 32768


async def _chunks(stream: asyncio.StreamReader | None) -> AsyncIterator[bytes]:
    if stream is None:
        return
    while chunk := await stream.read(CHUNK):
        yield chunk


class RuncExecSession:
    """A StreamSession over a ``runc exec`` subprocess."""

    def __init__(self, proc: asyncio.subprocess.Process, pidfile: Path):
        self.proc = proc
        self.pidfile = pidfile
        self.stdout = _chunks(proc.stdout)
        self.stderr = _chunks(proc.stderr)

    async def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin is None:
            raise cri.RuntimeServiceError("this exec session has no stdin")
        if self.proc.stdin.is_closing():
            return  # stdin was closed, or the process is gone: the data goes nowhere
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        return None  # no tty

    async def wait(self) -> int | None:
        code = await self.proc.wait()
        self.pidfile.unlink(missing_ok=True)
        return code

    async def close(self) -> None:
        if self.proc.returncode is None:
            await kill_exec(self.proc, self.pidfile)
        self.pidfile.unlink(missing_ok=True)


class StreamingOps:
    async def _running(self: RuncRuntime, container_id: str):  # -> ContainerRecord
        await self._ready()
        c = self._container(container_id)
        if c.state != cri.ContainerState.CONTAINER_RUNNING:
            raise cri.RuntimeServiceError(f"container {container_id} is not running")
        return c

    async def _spawn_exec(self: RuncRuntime, container_id: str, cmd, *, stdin: bool):
        c = await self._running(container_id)
        if not cmd:
            raise cri.RuntimeServiceError("exec needs a command")
        pidfile = Path(c.bundle) / f"exec-{secrets.token_hex(6)}.pid"
        proc = await asyncio.create_subprocess_exec(
            *self.runc.argv("exec", "--pid-file", str(pidfile), container_id, *cmd),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return proc, pidfile

    async def exec_sync(self: RuncRuntime, container_id: str, cmd, timeout: float = 0) -> cri.ExecSyncResponse:
        proc, pidfile = await self._spawn_exec(container_id, tuple(cmd), stdin=False)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout if timeout and timeout > 0 else None)
        except TimeoutError:
            kill_pidfile(pidfile)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise cri.RuntimeServiceError(f"command {list(cmd)} timed out after {timeout}s") from None
        finally:
            pidfile.unlink(missing_ok=True)
        return cri.ExecSyncResponse(out, err, proc.returncode or 0)

    async def exec(self: RuncRuntime, request: cri.ExecRequest) -> RuncExecSession | TtyExecSession:
        if not request.tty:
            proc, pidfile = await self._spawn_exec(request.container_id, request.cmd, stdin=request.stdin)
            return RuncExecSession(proc, pidfile)
        c = await self._running(request.container_id)
        if not request.cmd:
            raise cri.RuntimeServiceError("exec needs a command")
        pidfile = Path(c.bundle) / f"exec-{secrets.token_hex(6)}.pid"
        argv = self.runc.argv("exec", "--tty", "--pid-file", str(pidfile), c.id, *request.cmd)
        try:
            return await spawn_tty_exec(argv, pidfile, stdin=request.stdin)
        except OSError as e:
            raise cri.RuntimeServiceError(f"cannot start runc exec with a terminal: {e}") from None

    async def attach(self: RuncRuntime, request: cri.AttachRequest) -> AttachSession:
        c = await self._running(request.container_id)
        if request.stdin and not c.config.stdin:
            raise cri.RuntimeServiceError("container does not have stdin enabled (spec.containers[].stdin)")
        try:
            sock = connect_attach_socket(c.bundle)
        except OSError as e:
            raise cri.RuntimeServiceError(f"cannot attach to container {c.config.metadata.name}: "
                                          f"conmon's attach socket: {e.strerror or e}") from None
        exited = self._exited.setdefault(c.id, asyncio.Event())
        return AttachSession(sock, c.bundle, stdin=request.stdin, tty=request.tty and c.config.tty,
                             exited=exited, exit_code=lambda: c.exit_code)

    async def port_forward(self: RuncRuntime, pod_sandbox_id: str,
                           port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await self._ready()
        sandbox = self._sandbox(pod_sandbox_id)
        if not 0 < port < 65536:
            raise cri.RuntimeServiceError(f"invalid port {port}")
        try:
            sock = await linux.on_own_thread(lambda: _connect_in_netns(sandbox.netns, port))
            return await asyncio.open_connection(sock=sock)
        except OSError as e:
            raise cri.RuntimeServiceError(f"cannot connect to port {port} in pod sandbox: {e}") from None

    async def container_stats(self: RuncRuntime, container_id: str) -> cri.ContainerStats:
        await self._ready()
        c = self._container(container_id)
        now = time.time_ns()
        used = cgroups.usage(c.cgroups_path) if c.state == cri.ContainerState.CONTAINER_RUNNING else None
        attributes = cri.ContainerAttributes(c.id, c.config.metadata, dict(c.config.labels),
                                             dict(c.config.annotations))
        return cri.ContainerStats(attributes, cri.CpuUsage(now, used.cpu_usage_ns if used else 0),
                                  cri.MemoryUsage(now, used.memory_working_set_bytes if used else 0))

    async def list_container_stats(self: RuncRuntime,
                                   filter: cri.ContainerStatsFilter | None = None) -> list[cri.ContainerStats]:
        f = filter or cri.ContainerStatsFilter()
        listed = await self.list_containers(cri.ContainerFilter(id=f.id, pod_sandbox_id=f.pod_sandbox_id,
                                                                label_selector=f.label_selector,
                                                                state=cri.ContainerState.CONTAINER_RUNNING))
        return [await self.container_stats(c.id) for c in listed]


def _connect_in_netns(netns: str, port: int) -> socket.socket:
    """A non-blocking TCP connection to 127.0.0.1:port made inside ``netns`` ("": the host's).
    Runs on a thread of its own (linux.on_own_thread): setns moves only the calling thread."""
    if netns:
        with open(netns) as ns:
            linux.setns(ns.fileno(), linux.CLONE_NEWNET)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setblocking(False)
    return sock
