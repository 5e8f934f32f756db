"""conmon and runc, as processes: launch a container's monitor, talk to runc, learn of exits.

Each container gets its own conmon (as in CRI-O). conmon runs ``runc create``, holds the
container's stdio, writes its output to the CRI-format log, and when the container exits
writes the exit code to ``<exit dir>/<id>`` and exits itself. It is started in a session of its
own, so the kubelet can die and come back: the container and its monitor carry on, and the new
runtime object finds conmon again by the pid it wrote (``ConmonWatch``):

    launch()    conmon ... (daemonizes) ──sync pipe──► {"data": <container pid>} once created
    Runc.start  the container's process runs (runc's exec fifo read, as ``runc start`` does)
    ConmonWatch pidfd of conmon becomes readable ──► read <exit dir>/<id> ──► callback
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from kybernetes.kubelet import processes
from kybernetes.kubelet.runtime.runc import linux

log = logging.getLogger(__name__)

CONMON = "/usr/bin/conmon"
RUNC = "/usr/sbin/runc"
CREATE_TIMEOUT_SECONDS = 60.0


class ConmonError(Exception):
    """conmon or runc refused or failed; the message is theirs."""


@dataclass(frozen=True)
class Runc:
    """runc with its own state root, so our containers never mix with anybody else's."""

    root: str
    binary: str = RUNC

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]

    async def run(self, *args: str, timeout: float = 30.0, check: bool = True) -> tuple[int, bytes, bytes]:
        try:
            done = await processes.run(self.argv(*args), timeout=timeout)
        except processes.ProcessTimeout:
            raise ConmonError(f"runc {args[0]} timed out after {timeout}s") from None
        if check and done.returncode != 0:
            raise ConmonError(f"runc {' '.join(args[:1])}: {_runc_message(done.stderr)}")
        return done.returncode, done.stdout, done.stderr

    async def state(self, container_id: str) -> dict | None:
        code, out, _ = await self.run("state", container_id, check=False)
        if code != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    async def kill(self, container_id: str, sig: str, *, all_processes: bool = False) -> bool:
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, sig]
        code, _, _ = await self.run(*args, check=False)
        return code == 0

    async def delete(self, container_id: str) -> None:
        await self.run("delete", "--force", container_id, check=False)

    async def start(self, container_id: str, init_pid: int, timeout: float = 30.0) -> None:
        """What ``runc start`` does, without a runc process (a Go binary: ~10 ms of CPU per pod).

        A created container's init process (``runc init``, pid ``init_pid``) waits to open the
        container's ``exec.fifo`` in runc's state directory for writing; ``runc start`` opens it
        for reading, reads the byte init writes and the end of file that comes when init execs
        the container's process (the write end is close-on-exec), then deletes the fifo (runc
        reports a container whose fifo is gone as running). Done here the same way; with no
        fifo (another runc's layout, or not a created container) ``runc start`` runs instead and
        says why."""
        fifo = os.path.join(self.root, container_id, EXEC_FIFO)
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            await self.run("start", container_id, timeout=timeout)
            return
        except OSError as e:
            raise ConmonError(f"runc start: {fifo}: {e.strerror}") from None
        try:
            data = await asyncio.wait_for(_read_to_end(fd, lambda: linux.process_alive(init_pid)), timeout)
        except TimeoutError:
            raise ConmonError(f"runc start timed out after {timeout}s") from None
        except OSError as e:
            raise ConmonError(f"runc start: {fifo}: {e.strerror}") from None
        finally:
            os.close(fd)
        if not data:
            raise ConmonError("runc start: cannot start a container whose process is already dead")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(fifo)


EXEC_FIFO = "exec.fifo"
FIFO_CHECK_SECONDS = 0.1


def _reader(fd: int, *, first_line: bool) -> tuple[asyncio.Future[bytes], Callable[[], None], list[bytes]]:
    """Read the non-blocking ``fd`` whenever the event loop sees it readable (no thread sits
    blocked on it): a future of its bytes up to end of file (``first_line``: up to the read that
    brought the first newline), the read callback itself, and the chunks so far. The caller
    removes the reader."""
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    done: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        while not done.done():
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return  # more later
            except OSError as e:
                done.set_exception(e)
                return
            if chunk:
                chunks.append(chunk)
            if not chunk or (first_line and b"\n" in chunk):
                done.set_result(b"".join(chunks))

    loop.add_reader(fd, readable)
    return done, readable, chunks


async def _read_to_end(fd: int, alive: Callable[[], bool]) -> bytes:
    """Everything on the non-blocking fifo ``fd`` up to its end of file (no writer yet: it waits;
    the writer gone without writing: b""). ``alive`` is asked every 100 ms while nothing came:
    when the writer died first, what arrived so far."""
    done, readable, chunks = _reader(fd, first_line=False)
    try:
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(done), FIFO_CHECK_SECONDS)
            except TimeoutError:
                if not alive():
                    readable()  # a last look: it may have written and exited in between
                    return b"".join(chunks) if not done.done() else done.result()
    finally:
        asyncio.get_running_loop().remove_reader(fd)
        if not done.done():
            done.cancel()


def _runc_message(err: bytes) -> str:
    """runc logs logrus lines (time=... level=error msg="..."); keep just the message."""
    text = err.decode(errors="replace").strip()
    messages = []
    for line in text.splitlines():
        if 'msg="' in line:
            messages.append(line.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"'))
        elif line.strip():
            messages.append(line.strip())
    return "; ".join(messages) or "failed"


@dataclass(frozen=True)
class ConmonPaths:
    bundle: str
    exit_dir: str
    socket_dir: str
    log_path: str

    @property
    def pidfile(self) -> str:
        return os.path.join(self.bundle, "pid")

    @property
    def conmon_pidfile(self) -> str:
        return os.path.join(self.bundle, "conmon.pid")


async def launch(runc: Runc, container_id: str, name: str, paths: ConmonPaths, *,
                 stdin: bool = False, stdin_once: bool = False, terminal: bool = False,
                 conmon: str = CONMON) -> tuple[int, int]:
    """Start conmon, which runs ``runc create``; (conmon pid, container pid) once it is created.

    ``stdin``: conmon keeps a pipe to the container's stdin, fed from its attach socket; it stays
    open across attach sessions unless ``stdin_once``. ``terminal``: runc makes a pty for the
    container and hands its master to conmon (the spec must say ``process.terminal``)."""
    read_fd, write_fd = os.pipe()
    argv = [conmon, "--api-version", "1", "-c", container_id, "-u", container_id, "-n", name,
            "-r", runc.binary, "--runtime-arg", "--root", "--runtime-arg", runc.root,
            "-b", paths.bundle, "-p", paths.pidfile, "--exit-dir", paths.exit_dir,
            "-l", f"k8s-file:{paths.log_path}", "--socket-dir-path", paths.socket_dir,
            "--conmon-pidfile", paths.conmon_pidfile, "--syslog=false", "--log-level", "error"]
    if stdin:
        argv.append("--stdin")
        if not stdin_once:
            argv.append("--leave-stdin-open")
    if terminal:
        argv.append("--terminal")
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "_OCI_SYNCPIPE": str(write_fd)}
    # conmon's stdio goes to a file, not to pipes: its daemon keeps whatever it inherited until it
    # has set itself up, and an event loop that waits for a pipe's EOF (uvloop) would wait that long.
    # A memfd: no inode on the data dir's filesystem for every container start.
    errors = open(os.memfd_create("conmon-errors", os.MFD_CLOEXEC), "w+b")
    try:
        try:
            # conmon writes files such as "oom" into its working directory: keep them in the bundle.
            # It returns once it has daemonized (the daemon carries on in a session of its own).
            done = await processes.run(argv, pass_fds=(write_fd,), env=env, start_new_session=True,
                                       cwd=paths.bundle, stdout=errors, stderr=errors, kill_group=False)
        except OSError as e:
            raise ConmonError(f"cannot start conmon: {e}") from None
        finally:
            os.close(write_fd)
        if done.returncode != 0:
            errors.seek(0)
            text = errors.read(65536).decode(errors="replace").strip()
            raise ConmonError(f"conmon failed: {text or done.returncode}")
        reply = await asyncio.wait_for(_read_first_message(read_fd), CREATE_TIMEOUT_SECONDS)
    finally:
        errors.close()
        os.close(read_fd)
    try:
        message = json.loads(reply.splitlines()[0]) if reply.strip() else {}
    except ValueError:
        message = {}
    pid = message.get("data", -1) if isinstance(message, dict) else -1
    if not isinstance(pid, int) or pid <= 0:
        detail = message.get("message") if isinstance(message, dict) else ""
        raise ConmonError(_runc_message((detail or "container creation failed").encode()))
    conmon_pid = read_pidfile(paths.conmon_pidfile)
    return conmon_pid, pid


async def _read_first_message(fd: int) -> bytes:
    """The first message on the sync pipe (conmon keeps it open while the container runs), read
    without a thread of the default pool blocked for the whole ``runc create`` (a burst of pod
    starts would queue everything else behind them)."""
    os.set_blocking(fd, False)
    done, _, _ = _reader(fd, first_line=True)
    try:
        return await done
    finally:
        asyncio.get_running_loop().remove_reader(fd)


def read_pidfile(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def read_exit_code(exit_dir: str, container_id: str) -> int | None:
    try:
        with open(os.path.join(exit_dir, container_id)) as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def signal_name(name: str) -> str:
    """A stop signal as runc takes it ("SIGTERM", "TERM", "15" all become "SIGTERM" / "15")."""
    text = (name or "SIGTERM").strip().upper()
    if text.isdigit():
        return text
    text = text if text.startswith("SIG") else "SIG" + text
    if text not in signal.Signals.__members__:
        raise ConmonError(f"unknown stop signal {name!r}")
    return text


class ConmonWatch:
    """Calls ``on_exit`` once the conmon with pid ``pid`` has exited (it exits right after its
    container, having written the exit file). A pidfd where the kernel offers it, else polling."""

    POLL_SECONDS = 0.2

    def __init__(self, pid: int, container_id: str, on_exit: Callable[[], None]):
        self.pid = pid
        self.container_id = container_id
        self.on_exit = on_exit
        self._fd: int | None = None
        self._task: asyncio.Task | None = None
        self._done = False
        loop = asyncio.get_running_loop()
        if not linux.process_alive(pid, container_id):
            loop.call_soon(self._fire)
            return
        try:
            self._fd = os.pidfd_open(pid)
            loop.add_reader(self._fd, self._fire)
        except (OSError, AttributeError):
            self._fd = None
            self._task = loop.create_task(self._poll())

    async def _poll(self) -> None:
        while linux.process_alive(self.pid, self.container_id):
            await asyncio.sleep(self.POLL_SECONDS)
        self._fire()

    def _fire(self) -> None:
        if self._done:
            return
        self.close()
        self.on_exit()

    def close(self) -> None:
        self._done = True
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None
