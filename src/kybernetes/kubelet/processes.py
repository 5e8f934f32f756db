"""Running the short-lived helpers of a pod start (runc, conmon, CNI plugins, iptables, unshare).

A pod start runs several such processes. asyncio's ``create_subprocess_exec`` on uvloop, the loop
every component runs on, spawns with libuv's fork(): the kernel copies the page tables of the
whole kubelet for each one, 10-25 ms of system time per process in a process of a few hundred
MB, and it grows with the process. Python's ``subprocess`` spawns with vfork(), whose cost does
not depend on the parent's size. So helpers run here: ``subprocess.Popen`` plus ``communicate``
in a thread of a pool of their own (a thread blocked on a child costs nothing, and the default
pool's few threads stay free for file work), whatever the event loop.

Timeouts kill the child (or its process group, for helpers started in a session of their own)
and raise ``ProcessTimeout`` (a TimeoutError); a caller cancelled while its helper runs kills it
too, as asyncio's subprocesses were killed by their callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
_POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="kubelet-helper")


class ProcessTimeout(TimeoutError):
    """The helper did not finish in time; it was killed."""


class _Abandoned(Exception):
    """Its caller was cancelled before the helper started: it never runs."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


class _Run:
    """One helper process, shared between the thread that runs it and the task that awaits it."""

    def __init__(self, kill_group: bool):
        self.kill_group = kill_group
        self.proc: subprocess.Popen[bytes] | None = None
        self.abandoned = False
        self.lock = threading.Lock()

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.kill_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True
            self.kill()

    def __call__(self, argv: list[str], data: bytes | None, timeout: float | None, kwargs: dict[str, Any]) -> Finished:
        with self.lock:
            if self.abandoned:
                raise _Abandoned()
            self.proc = subprocess.Popen(argv, **kwargs)
        proc = self.proc
        try:
            out, err = proc.communicate(data, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            proc.communicate()
            raise ProcessTimeout(f"{os.path.basename(argv[0])} did not finish within {timeout:g}s") from None
        finally:
            if proc.returncode is None:  # an error while talking to it: never leave it running
                self.kill()
                proc.wait()
        return Finished(proc.returncode or 0, out or b"", err or b"")


async def run(argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None,
              stdin: Any = DEVNULL, stdout: Any = PIPE, stderr: Any = PIPE, kill_group: bool | None = None,
              **popen_kwargs: Any) -> Finished:
    """Run ``argv`` to its end; its exit status and output. ``input``: bytes for its stdin. Other
    keywords go to ``subprocess.Popen`` (env, cwd, pass_fds, start_new_session). A timeout or
    cancellation kills the child, or its whole process group if ``kill_group`` (by default: when
    it starts a session of its own). OSError when it cannot be started."""
    kwargs = dict(popen_kwargs, stdin=PIPE if input is not None else stdin, stdout=stdout, stderr=stderr)
    if kill_group is None:
        kill_group = bool(popen_kwargs.get("start_new_session"))
    job = _Run(kill_group=kill_group)
    future = asyncio.get_running_loop().run_in_executor(_POOL, job, list(argv), input, timeout, kwargs)
    future.add_done_callback(_retrieve)  # an abandoned run's outcome is nobody's business
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        job.abandon()
        raise


def _retrieve(future: asyncio.Future[Finished]) -> None:
    if not future.cancelled():
        future.exception()
