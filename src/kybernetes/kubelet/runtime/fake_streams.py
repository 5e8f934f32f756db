"""Streams of the fake runtime: exec and attach sessions, the main process, port-forward targets.

    exec    ─► ExecSession: a FakeShell task; stdin from a queue, stdout/stderr into queues
    attach  ─► AttachSession: subscribes to the container's MainProcess (its output also goes to
               the container's CRI log file) and feeds its stdin
    port    ─► a socketpair whose far end is served by ``serve_fake_port``: an HTTP request gets
               a small 200 answer naming the pod and port, anything else is echoed back

With a tty the shell's output is on stdout only, with CRLF line ends and the input echoed, as a
terminal in cooked mode shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from kybernetes.kubelet.runtime.fake_shell import FakeShell, ShellIO

KILLED = 137
_END = b""


async def _drain(queue: asyncio.Queue[bytes]) -> AsyncIterator[bytes]:
    while True:
        chunk = await queue.get()
        if chunk is _END or chunk == b"":
            return
        yield chunk


def _tty_out(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class ExecSession:
    """A StreamSession running one FakeShell command."""

    def __init__(self, shell: FakeShell, argv: list[str], *, tty: bool, stdin: bool):
        self.tty = tty
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self._err: asyncio.Queue[bytes] = asyncio.Queue()
        self.stdout = _drain(self._out)
        self.stderr = _drain(self._err)
        if not stdin:
            self._stdin.put_nowait(_END)
        self._task = asyncio.get_running_loop().create_task(self._run(shell, argv), name=f"fake exec {argv[:1]}")

    async def _read(self) -> bytes:
        chunk = await self._stdin.get()
        if chunk == b"":
            self._stdin.put_nowait(_END)  # stays at end of input for every later read
        elif self.tty:
            self._out.put_nowait(_tty_out(chunk))  # the terminal echoes what is typed
        return chunk

    async def _write_out(self, data: bytes) -> None:
        if data:
            self._out.put_nowait(_tty_out(data) if self.tty else data)

    async def _write_err(self, data: bytes) -> None:
        if data:
            (self._out if self.tty else self._err).put_nowait(_tty_out(data) if self.tty else data)

    async def _run(self, shell: FakeShell, argv: list[str]) -> int:
        try:
            return await shell.run(argv, ShellIO(self._read, self._write_out, self._write_err))
        finally:
            self._out.put_nowait(_END)
            self._err.put_nowait(_END)

    async def write_stdin(self, data: bytes) -> None:
        if data:
            self._stdin.put_nowait(data)

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(_END)

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int | None:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():
                return KILLED
            raise

    async def close(self) -> None:
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class MainProcess:
    """The interpreted main process of a fake container: output to the log and to attachers."""

    def __init__(self, shell: FakeShell, argv: list[str], *, log_write: Callable[[str, bytes], None],
                 stdin: bool):
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._log_write = log_write
        self.attached: list[AttachSession] = []
        if not stdin:
            self._stdin.put_nowait(_END)
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(shell, argv), name="fake main process")

    async def _run(self, shell: FakeShell, argv: list[str]) -> None:
        code = KILLED
        try:
            code = await shell.run(argv, ShellIO(self._read, self._out, self._err))
        finally:
            if not self.exited.done():
                self.exited.set_result(code)

    async def _read(self) -> bytes:
        chunk = await self._stdin.get()
        if chunk == b"":
            self._stdin.put_nowait(_END)
        return chunk

    async def _out(self, data: bytes) -> None:
        self._log_write("stdout", data)
        for session in list(self.attached):
            session.deliver(data, stderr=False)

    async def _err(self, data: bytes) -> None:
        self._log_write("stderr", data)
        for session in list(self.attached):
            session.deliver(data, stderr=True)

    def feed(self, data: bytes) -> None:
        self._stdin.put_nowait(data)

    def stop(self) -> None:
        self._task.cancel()
        for session in list(self.attached):
            session.end()


class AttachSession:
    """A StreamSession on a container's main process; ``wait`` ends when the container exits."""

    def __init__(self, container_exit: asyncio.Event, exit_code: Callable[[], int],
                 process: MainProcess | None, *, tty: bool, stdin: bool):
        self.tty = tty
        self._stdin = stdin
        self._process = process
        self._exit = container_exit
        self._exit_code = exit_code
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self._err: asyncio.Queue[bytes] = asyncio.Queue()
        self.stdout = _drain(self._out)
        self.stderr = _drain(self._err)
        self._closed = asyncio.Event()
        if process is not None:
            process.attached.append(self)

    def deliver(self, data: bytes, *, stderr: bool) -> None:
        if not data:
            return
        data = _tty_out(data) if self.tty else data
        (self._err if stderr and not self.tty else self._out).put_nowait(data)

    def end(self) -> None:
        self._out.put_nowait(_END)
        self._err.put_nowait(_END)

    async def write_stdin(self, data: bytes) -> None:
        if self._process is not None and self._stdin and data:
            if self.tty:
                self._out.put_nowait(_tty_out(data))
            self._process.feed(data)

    async def close_stdin(self) -> None:
        return None  # the container's stdin stays open for the next attacher (stdinOnce aside)

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int | None:
        exited = asyncio.ensure_future(self._exit.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            closed.cancel()
        self.end()
        return self._exit_code() if self._exit.is_set() else None

    async def close(self) -> None:
        if self._process is not None and self in self._process.attached:
            self._process.attached.remove(self)
        self._closed.set()
        self.end()


# -- port-forward ----------------------------------------------------------------------------------

async def serve_fake_port(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, greeting: str) -> None:
    """The far end of a forwarded port: answer an HTTP GET, echo anything else until EOF."""
    try:
        first = await reader.read(65536)
        if first.split(b" ", 1)[0] in (b"GET", b"HEAD", b"POST", b"PUT"):
            while b"\r\n\r\n" not in first and len(first) < 65536:
                more = await reader.read(65536)
                if not more:
                    break
                first += more
            body = f"{greeting}\n".encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            data = first
            while data:
                writer.write(data)
                await writer.drain()
                data = await reader.read(65536)
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def open_fake_port(greeting: str, tasks: set[asyncio.Task[None]]) -> tuple[asyncio.StreamReader,
                                                                                 asyncio.StreamWriter]:
    near, far = socket.socketpair()
    far_reader, far_writer = await asyncio.open_connection(sock=far)
    task = asyncio.get_running_loop().create_task(serve_fake_port(far_reader, far_writer, greeting))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return await asyncio.open_connection(sock=near)


def cri_log_line(when: datetime, stream: str, data: bytes) -> bytes:
    """``data`` as CRI log lines (a trailing piece without newline is a partial line, tag P)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()
    out = []
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and not line:
            break
        tag = b"P" if last else b"F"
        out.append(stamp + b" " + stream.encode() + b" " + tag + b" " + line + b"\n")
    return b"".join(out)
