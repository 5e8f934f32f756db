"""attach (``kubectl attach``): the streams of a container's main process, through its conmon.

conmon holds the main process's stdio (or, for a ``tty: true`` container, the master of the
container's terminal) and offers two doors in the container's bundle directory:

    attach   a SOCK_SEQPACKET unix socket. Every packet conmon sends is one byte naming the
             stream (2 stdout, 3 stderr; a terminal is all stdout) followed by the data; every
             packet we send is written to the container's stdin. When we shut our side down,
             conmon closes the container's stdin, unless it was started with --leave-stdin-open
             (containers without stdinOnce: the next attacher may type too).
    ctl      a fifo of control lines: "1 <height> <width>\\n" resizes the terminal. conmon
             parses only the first line of what one read returns (it applies it once per line),
             so resizes are sent one at a time, RESIZE_GAP apart, the latest size winning:
             kubectl attach sends its size plus one, then its size, back to back.

Packets are read as soon as they arrive, whatever the client's pace: conmon writes them with
blocking writes, so a slow attacher would otherwise stall the container's logging. The socket is
reached through /proc/self/fd/N of the bundle directory, as conmon binds it, because the bundle's
path can be longer than a socket address allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from kybernetes.kubelet.runtime import protocol as cri

RESIZE_GAP = 0.05  # seconds between two ctl messages, so each reaches conmon in a read of its own
STDOUT_PACKET = 2
STDERR_PACKET = 3
PACKET_SIZE = 65536 + 1
STDIN_PACKET_SIZE = 8192  # conmon reads stdin packets into a buffer of this order
RESIZE_EVENT = 1
EXIT_WAIT_SECONDS = 3.0  # conmon closes the socket a moment before its exit is noticed


def connect_attach_socket(bundle: str) -> socket.socket:
    """A connection to conmon's attach socket in ``bundle`` (non-blocking)."""
    dir_fd = os.open(bundle, os.O_PATH | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/attach")
        sock.setblocking(False)
        return sock
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dir_fd)


def resize_terminal(bundle: str, width: int, height: int) -> None:
    """Ask conmon to resize the container's terminal (ENXIO: conmon is gone)."""
    fd = os.open(Path(bundle) / "ctl", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, f"{RESIZE_EVENT} {height} {width}\n".encode())
    finally:
        os.close(fd)


async def _drain(queue: asyncio.Queue[bytes]) -> AsyncIterator[bytes]:
    while chunk := await queue.get():
        yield chunk


class AttachSession:
    """A StreamSession on conmon's attach socket. ``wait`` returns the container's exit code when
    the stream ended because it exited, None when the session was detached first."""

    def __init__(self, sock: socket.socket, bundle: str, *, stdin: bool, tty: bool,
                 exited: asyncio.Event, exit_code: Callable[[], int | None]):
        self.sock = sock
        self.bundle = bundle
        self._stdin = stdin
        self._tty = tty
        self._exited = exited
        self._exit_code = exit_code
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self._err: asyncio.Queue[bytes] = asyncio.Queue()
        self.stdout = _drain(self._out)
        self.stderr = _drain(self._err)
        self._detached = False
        self._stdin_closed = False
        self._size: tuple[int, int] | None = None  # the latest resize not yet sent
        self._resizer: asyncio.Task[None] | None = None
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while packet := await loop.sock_recv(self.sock, PACKET_SIZE):
                kind, data = packet[0], packet[1:]
                if data:
                    (self._err if kind == STDERR_PACKET and not self._tty else self._out).put_nowait(data)
        except OSError:
            pass  # the socket was closed under us: the session is over either way
        finally:
            self._out.put_nowait(b"")
            self._err.put_nowait(b"")

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin:
            raise cri.RuntimeServiceError("this attach session has no stdin")
        if self._detached or self._stdin_closed:
            return
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):  # the container is gone: its stdin with it
            for start in range(0, len(data), STDIN_PACKET_SIZE):
                await loop.sock_sendall(self.sock, data[start:start + STDIN_PACKET_SIZE])

    async def close_stdin(self) -> None:
        if self._stdin and not self._stdin_closed and not self._detached:
            self._stdin_closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    async def resize(self, width: int, height: int) -> None:
        if self._tty and not self._detached and width > 0 and height > 0:
            self._size = (width, height)
            if self._resizer is None or self._resizer.done():
                self._resizer = asyncio.ensure_future(self._send_resizes())

    async def _send_resizes(self) -> None:
        while self._size is not None and not self._detached:
            width, height = self._size
            self._size = None
            with contextlib.suppress(OSError):
                resize_terminal(self.bundle, width, height)
            await asyncio.sleep(RESIZE_GAP)

    async def wait(self) -> int | None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._reader)
        if self._detached:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._exited.wait(), EXIT_WAIT_SECONDS)
        return self._exit_code() if self._exited.is_set() else None

    async def close(self) -> None:
        """Detach: the container carries on."""
        if self._detached:
            return
        self._detached = True
        if self._resizer is not None:
            self._resizer.cancel()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self.sock.close()
