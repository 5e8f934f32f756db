"""exec with a terminal (``kubectl exec -it``): runc's own interactive mode, on a pty of ours.

    kubelet ── host pty master ◄──► host pty slave = runc's stdin/stdout/stderr
                                      runc exec --tty (not detached) ◄──► container pty ◄──► the process

``runc exec --tty`` makes the pty inside the container (the process gets /dev/pts/N of the
container's own devpts as its controlling terminal, as with ``runc run -t``), puts its own stdin
in raw mode and copies bytes between its stdio and that pty. Giving runc a pty of ours as stdio
therefore turns it into a plain byte pipe with terminal semantics at the container end, while
runc stays in the foreground: its exit status is the process's exit code. (The console-socket
alternative, receiving the container pty's master over SCM_RIGHTS, needs ``--detach``, and a
detached process's exit code cannot be collected.)

Resizing: the new size is set on our pty, then runc gets SIGWINCH and copies the size of its
stdin onto the container pty. runc installs its signal handler before it starts the process and
sizes the container pty once after the start, so a SIGWINCH lost before that is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
import time
import tty
from collections.abc import AsyncIterator
from pathlib import Path

from kybernetes.kubelet.runtime import protocol as cri

CHUNK = 32768
DRAIN_AFTER_EXIT_SECONDS = 1.0  # output still arriving after runc exited (a child holding the tty)
PIDFILE_WAIT_SECONDS = 2.0
EOT = b"\x04"  # what stdin EOF becomes on a terminal: ^D ends a read in canonical mode


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(0, height), max(0, width), 0, 0))


async def _no_output() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


class PtyReader:
    """Reads a pty master without blocking the loop; the chunks come out of ``chunks()``. The
    stream ends at EIO (the slave side closed) or when ``end()`` is called."""

    def __init__(self, fd: int):
        self.fd = fd
        self.ended = asyncio.Event()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: nobody has the slave open any more
            data = b""
        if data:
            self._queue.put_nowait(data)
        else:
            self.end()

    def end(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            self._queue.put_nowait(b"")

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._queue.get():
            yield chunk


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def write_all(fd: int, data: bytes) -> None:
    """Write everything to a non-blocking fd, waiting for room when it is full."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _set_done, ready)
            try:
                await ready
            finally:
                loop.remove_writer(fd)


class TtyExecSession:
    """A StreamSession over ``runc exec --tty`` whose stdio is the slave of our pty ``master``:
    everything comes out on stdout, stderr is empty; ``wait`` is runc's exit status."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int, pidfile: Path, *, stdin: bool):
        self.proc = proc
        self.master = master
        self.pidfile = pidfile
        self._stdin = stdin
        self._reader = PtyReader(master)
        self.stdout = self._reader.chunks()
        self.stderr = _no_output()
        self._closed = False
        self._drainer = asyncio.ensure_future(self._end_after_exit())

    async def _end_after_exit(self) -> None:
        await self.proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader.ended.wait(), DRAIN_AFTER_EXIT_SECONDS)
        self._reader.end()

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin:
            raise cri.RuntimeServiceError("this exec session has no stdin")
        if self._closed or self.proc.returncode is not None:
            return  # the process is gone: typing into a closed terminal goes nowhere
        with contextlib.suppress(OSError):
            await write_all(self.master, data)

    async def close_stdin(self) -> None:
        if self._stdin:
            await self.write_stdin(EOT)

    async def resize(self, width: int, height: int) -> None:
        if self._closed or self.proc.returncode is not None or width <= 0 or height <= 0:
            return
        with contextlib.suppress(OSError):
            set_window_size(self.master, width, height)
            os.kill(self.proc.pid, signal.SIGWINCH)  # runc copies its stdin's size to the container pty

    async def wait(self) -> int | None:
        code = await self.proc.wait()
        self.pidfile.unlink(missing_ok=True)
        return code

    async def close(self) -> None:
        if self.proc.returncode is None:
            await kill_exec(self.proc, self.pidfile)
        self.pidfile.unlink(missing_ok=True)
        self._drainer.cancel()
        self._reader.end()
        if not self._closed:
            self._closed = True
            os.close(self.master)


def kill_pidfile(path: Path) -> None:
    """SIGKILL the process whose pid runc wrote to ``path`` (killing runc alone leaves it running)."""
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(path.read_text().strip()), signal.SIGKILL)


async def kill_exec(proc: asyncio.subprocess.Process, pidfile: Path) -> None:
    """Kill a ``runc exec`` and the process it started. runc writes the pid file only after the
    process runs (it may have printed already), so a close that comes early waits for the file."""
    deadline = time.monotonic() + PIDFILE_WAIT_SECONDS
    while proc.returncode is None and not pidfile.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    kill_pidfile(pidfile)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


async def spawn_tty_exec(argv: list[str], pidfile: Path, *, stdin: bool) -> TtyExecSession:
    """Start ``argv`` (a ``runc exec --tty ...``) with a new pty's slave as its stdio."""
    master, slave = os.openpty()
    try:
        set_window_size(slave, 80, 24)  # until the client says otherwise
        # raw from the start (runc makes it raw too, but only once the process may already have
        # written): the container's terminal does the line discipline, ours must pass bytes as they are
        tty.setraw(slave)
        os.set_blocking(master, False)
        proc = await asyncio.create_subprocess_exec(*argv, stdin=slave, stdout=slave, stderr=slave,
                                                    start_new_session=True)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)  # runc holds it now; its exit makes our master read EIO
    return TtyExecSession(proc, master, pidfile, stdin=stdin)
