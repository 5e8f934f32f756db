"""Interactive kubectl against `kyb up`'s real node: exec -it with a terminal, exec without one,
attach to a running container's output, and attach -it to a ``stdin: true, tty: true`` shell
(root; see real_node_support.py for the cluster and the teardown that leaves the host clean).

kubectl -t insists on a terminal, so those runs get a pty of the test's own (PtyKubectl): the
test types into its master and reads what kubectl prints, always against a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from .real_node_support import busybox_pod, container_status, requirements_missing

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")

DEADLINE = 30.0



def running(pod: dict, name: str = "main") -> bool:
    return "running" in (container_status(pod, name).get("state") or {})


class PtyKubectl:
    """kubectl with a pty of ours as its stdin, stdout and stderr (cols x rows)."""

    def __init__(self, rc, *args: str, cols: int = 120, rows: int = 40):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            self.proc = subprocess.Popen([rc.cluster.kubectl_path, *args], stdin=slave, stdout=slave,
                                         stderr=slave, env=rc.cluster.env, start_new_session=True)
        except BaseException:
            os.close(self.master)
            raise
        finally:
            os.close(slave)
        self.output = bytearray()
        self.eof = False

    def _read(self, timeout: float) -> None:
        if self.eof or not select.select([self.master], [], [], timeout)[0]:
            return
        try:
            data = os.read(self.master, 65536)
        except OSError as e:  # EIO: kubectl exited and closed the terminal
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            self.output.extend(data)
        else:
            self.eof = True

    def expect(self, text: bytes, timeout: float = DEADLINE) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert not self.eof and time.monotonic() < deadline, f"{text!r} not in {bytes(self.output)!r}"
            self._read(0.1)
        return bytes(self.output)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = DEADLINE) -> int:
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(0.1)
        return self.proc.wait(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


_CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")


def screen_lines(output: bytes) -> list[str]:
    """The lines a terminal would show for ``output``: CR, backspace, cursor left/right and
    clear-to-end applied within each line, other escape sequences dropped."""
    shown = []
    for raw in output.split(b"\n"):
        line: list[str] = []
        cursor = 0
        pos = 0
        while pos < len(raw):
            csi = _CSI.match(raw, pos)
            if csi:
                count = int(csi.group(1)) if csi.group(1).isdigit() else 1
                kind = csi.group(2)
                if kind in (b"J", b"K") and csi.group(1) in (b"", b"0"):
                    del line[cursor:]
                elif kind == b"D":
                    cursor = max(0, cursor - count)
                elif kind == b"C":
                    cursor += count
                pos = csi.end()
                continue
            char = raw[pos:pos + 1]
            pos += 1
            if char == b"\r":
                cursor = 0
            elif char == b"\b":
                cursor = max(0, cursor - 1)
            elif char >= b" ":
                line.extend(" " * (cursor - len(line)))
                line[cursor:cursor + 1] = [char.decode("latin-1")]
                cursor += 1
        shown.append("".join(line).rstrip())
    return shown


@contextlib.contextmanager
def pty_kubectl(rc, *args: str, **size):
    session = PtyKubectl(rc, *args, **size)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def shell_pod(rc):
    rc.apply(busybox_pod("box", "sleep", "3600"))
    rc.wait_pod("box", running, what="running")
    yield "box"
    rc.delete_pod("box", wait=False)


def test_exec_it_runs_in_a_terminal_of_the_window_size_and_returns_the_exit_code(rc, shell_pod):
    # kubectl's first resize lands after the shell started (seconds later on a busy machine): wait
    # for it (up to 10 s), then print the size the terminal has
    wait_size = "for i in $(seq 50); do [ \"$(busybox stty size)\" = '40 120' ] && break; sleep 0.2; done"
    with pty_kubectl(rc, "exec", "-it", shell_pod, "--", "sh", "-c",
                     f"{wait_size}; tty; busybox stty size; echo hello-tty; exit 3", cols=120, rows=40) as k:
        code = k.finish()
        out = bytes(k.output)
    assert b"hello-tty" in out and b"/dev/pts/" in out and b"40 120" in out, out
    assert b"command terminated with exit code 3" in out
    assert code == 3


def test_exec_it_forwards_typed_input_to_a_shell(rc, shell_pod):
    with pty_kubectl(rc, "exec", "-it", shell_pod, "--", "sh") as k:
        k.send(b"echo $((6 * 7))\r")
        k.expect(b"42")
        k.send(b"exit 4\r")
        assert k.finish() == 4


def test_exec_without_a_tty_keeps_stdout_and_stderr_apart(rc, shell_pod):
    result = rc.kubectl("exec", shell_pod, "--", "sh", "-c", "echo out; echo err >&2", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")
    piped = rc.kubectl("exec", "-i", shell_pod, "--", "sh", "-c", "cat; exit 2", input="from stdin\n", check=False)
    assert (piped.returncode, piped.stdout) == (2, "from stdin\n")
    assert "command terminated with exit code 2" in piped.stderr


def test_attach_shows_a_running_containers_output(rc):
    rc.apply(busybox_pod("talker", "sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"))
    rc.wait_pod("talker", running, what="running")
    proc = subprocess.Popen([rc.cluster.kubectl_path, "attach", "talker", "-c", "main"], env=rc.cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out = b""
        deadline = time.monotonic() + DEADLINE
        while out.rpartition(b"\n")[0].count(b"tick-") < 3:  # three whole lines (a read may end mid-line)
            assert time.monotonic() < deadline and proc.poll() is None, (out, proc.stderr.read() if proc.poll() else "")
            if select.select([proc.stdout], [], [], 0.2)[0]:
                out += os.read(proc.stdout.fileno(), 4096)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    whole = out.rpartition(b"\n")[0]
    numbers = [int(line.split(b"-")[1]) for line in whole.splitlines() if line.startswith(b"tick-")]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # live, in order
    rc.delete_pod("talker", wait=False)


def test_attach_it_to_a_tty_container_echoes_input(rc):
    rc.apply(busybox_pod("console", "sh", restartPolicy="Never", container={"stdin": True, "tty": True}))
    rc.wait_pod("console", running, what="running")
    with pty_kubectl(rc, "attach", "-it", "console", "-c", "main", cols=100, rows=30) as k:
        k.expect(b"If you don't see a command prompt")
        k.send(b"echo typed-$((6 * 7)); sleep 1; busybox stty size\r")
        out = k.expect(b"typed-42")
        # the container's terminal echoed the input; a resize landing mid-line makes the shell
        # redraw the line (CR, prompt, the line so far, clear to the end), so read it as shown
        assert any(line.endswith("echo typed-$((6 * 7)); sleep 1; busybox stty size")
                   for line in screen_lines(out)), out
        # kubectl attach sends the size plus one, then the size (to force a redraw): the terminal
        # ends at 30x100, which a loaded machine may apply after the first stty ran.
        for attempt in range(10):
            try:
                k.expect(b"30 100", timeout=1.5)
                break
            except AssertionError:
                if attempt == 9:
                    raise
                k.send(b"busybox stty size\r")
        k.send(b"exit 5\r")
        k.finish()
    pod = rc.wait_pod("console", lambda p: "terminated" in (container_status(p).get("state") or {}),
                      what="exited")
    assert container_status(pod)["state"]["terminated"]["exitCode"] == 5
    rc.delete_pod("console", wait=False)
