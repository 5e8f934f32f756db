"""Run component processes, keep them running, stop them together.

    Supervisor.run([ChildSpec("apiserver", argv, ready=probe), ...], stop)

Children start in order; each must become ready (its probe returns True) before the next starts,
so the scheduler never races an apiserver that is still opening its store. A child that exits
before it is ready aborts the whole start (a bad flag would otherwise restart forever); one that
dies later is restarted with backoff. When ``stop`` is set (SIGTERM/SIGINT in the CLI) children
get SIGTERM in reverse order, then SIGKILL after ``stop_timeout``.

Each child runs in its own process group, so a Ctrl-C at the terminal reaches only the supervisor,
which then stops the children in order; and each child asks the kernel for SIGTERM should the
supervisor die without cleaning up (PR_SET_PDEATHSIG), so no component is ever orphaned.

Start gates (``ChildSpec(gated=True)``): a Python component spends most of its first second
importing. A gated child is spawned at once, beside the first one, with the read end of a pipe in
``$KYB_START_GATE_FD``; it imports what it needs, then blocks on the pipe (kybernetes.cli.start_gate)
until its turn comes: the supervisor writes one byte when the children before it are ready, or
closes the pipe without writing when it stops first (the child then exits 0). So the order of
the start is kept while the imports overlap the first child's start-up. Restarts spawn without a
gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[bool]]

_PR_SET_PDEATHSIG = 1
START_GATE_ENV = "KYB_START_GATE_FD"
YIELDING_NICENESS = 10


class ChildFailedError(RuntimeError):
    """A child exited before it became ready."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    ready: Probe | None = None  # None: ready as soon as it is started
    env: dict[str, str] | None = None
    ready_timeout: float = 60.0
    gated: bool = False  # spawn early, behind a start gate (see the module docstring)
    # Import behind the gate at a lower CPU priority (root only: the priority is given back when
    # the gate opens), leaving the CPU to the children a start waits for.
    yields_at_start: bool = False


@dataclass
class _Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    backoff: float = 1.0
    gate: int = -1  # the write end of a spawned child's closed start gate


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _die_with_parent_yielding() -> None:  # the same, then a lower priority until the gate opens
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(YIELDING_NICENESS)


class Supervisor:
    def __init__(self, *, stop_timeout: float = 10.0, initial_backoff: float = 1.0, max_backoff: float = 30.0,
                 on_ready: Callable[[str, int], None] | None = None,
                 on_restart: Callable[[str, int], None] | None = None):
        self.stop_timeout = stop_timeout
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.on_ready = on_ready or (lambda name, pid: None)
        self.on_restart = on_restart or (lambda name, code: None)
        self.children: list[_Child] = []
        self.started = asyncio.Event()  # set once every child has become ready the first time

    async def _spawn(self, child: _Child, *, gated: bool = False) -> None:
        env = None if child.spec.env is None else {**os.environ, **child.spec.env}
        if not gated:
            child.process = await asyncio.create_subprocess_exec(
                *child.spec.argv, env=env, process_group=0, preexec_fn=_die_with_parent)
            return
        read_end, child.gate = os.pipe()
        try:
            child.process = await asyncio.create_subprocess_exec(
                *child.spec.argv, env={**(env or os.environ), START_GATE_ENV: str(read_end)}, process_group=0,
                preexec_fn=_die_with_parent_yielding if self._yields(child) else _die_with_parent,
                pass_fds=(read_end,))
        except BaseException:
            self._close_gate(child)
            raise
        finally:
            os.close(read_end)

    @staticmethod
    def _yields(child: _Child) -> bool:
        return child.spec.yields_at_start and os.geteuid() == 0

    @staticmethod
    def _open_gate(child: _Child) -> None:
        if child.process is not None and Supervisor._yields(child):
            with contextlib.suppress(OSError):  # back to the supervisor's own priority
                os.setpriority(os.PRIO_PROCESS, child.process.pid, os.getpriority(os.PRIO_PROCESS, 0))
        try:
            os.write(child.gate, b"1")
        except OSError:  # it exited already: the wait below sees that
            pass
        Supervisor._close_gate(child)

    @staticmethod
    def _close_gate(child: _Child) -> None:
        if child.gate >= 0:
            os.close(child.gate)
            child.gate = -1

    async def _spawn_gated(self) -> None:
        for child in self.children[1:]:
            if child.spec.gated and child.process is None:
                await self._spawn(child, gated=True)

    async def _start_and_wait_ready(self, child: _Child, spawned: Callable[[], Awaitable[None]] | None = None) -> None:
        if child.gate >= 0 and child.process is not None:
            self._open_gate(child)
        else:
            await self._spawn(child)
        if spawned is not None:
            await spawned()
        proc = child.process
        assert proc is not None
        probe = child.spec.ready
        deadline = asyncio.get_running_loop().time() + child.spec.ready_timeout
        while probe is not None and not await probe():
            if proc.returncode is not None:
                raise ChildFailedError(f"{child.spec.name} exited with code {proc.returncode} before it was ready")
            if asyncio.get_running_loop().time() > deadline:
                raise ChildFailedError(f"{child.spec.name} was not ready within {child.spec.ready_timeout:g}s")
            try:
                await asyncio.wait_for(proc.wait(), 0.1)
            except TimeoutError:
                pass
        self.on_ready(child.spec.name, proc.pid)

    async def run(self, specs: list[ChildSpec], stop: asyncio.Event) -> None:
        """Start every child, supervise until ``stop`` is set, then stop them all. Raises
        ChildFailedError (after stopping the others) when a child fails to start."""
        self.children = [_Child(s, backoff=self.initial_backoff) for s in specs]
        try:
            for index, child in enumerate(self.children):
                spawned = self._spawn_gated if index == 0 else None
                starting = asyncio.ensure_future(self._start_and_wait_ready(child, spawned))
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not starting.done():
                    starting.cancel()
                    await asyncio.gather(starting, return_exceptions=True)
                    return
                starting.result()
            self.started.set()
            await self._watch(stop)
        finally:
            await self.stop_all()

    async def _watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waits = {asyncio.ensure_future(c.process.wait()): c for c in self.children if c.process}
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({stopping, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for fut in waits:
                fut.cancel()
            stopping.cancel()
            if stop.is_set():
                return
            for fut in done:
                child = waits.get(fut)
                if child is None:
                    continue
                code = child.process.returncode if child.process else None
                log.warning("%s exited with code %s; restarting in %.0fs", child.spec.name, code, child.backoff)
                self.on_restart(child.spec.name, code if code is not None else -1)
                try:
                    await asyncio.wait_for(stop.wait(), child.backoff)
                    return
                except TimeoutError:
                    pass
                child.backoff = min(child.backoff * 2, self.max_backoff)
                child.restarts += 1
                await self._start_and_wait_ready(child)

    async def stop_all(self) -> None:
        for child in self.children:
            self._close_gate(child)  # a child still behind its gate exits at once
        for child in reversed(self.children):
            proc = child.process
            if proc is None or proc.returncode is not None:
                continue
            try:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), self.stop_timeout)
            except ProcessLookupError:
                pass
            except TimeoutError:
                log.warning("%s did not stop within %.0fs; killing it", child.spec.name, self.stop_timeout)
                proc.kill()
                await proc.wait()
