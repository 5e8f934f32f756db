"""kubelet/processes.py: helpers run to their end from any event loop, killed on timeout or cancel."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import uvloop

from kybernetes.kubelet import processes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


async def _scenarios(tmp_path) -> None:
    done = await processes.run(["/bin/sh", "-c", "cat; echo oops >&2; exit 3"], input=b"hello")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"hello", b"oops\n")

    # a timeout kills the helper and, when it has a session of its own, what it started
    pid_file = tmp_path / "grandchild"
    started = time.monotonic()
    with pytest.raises(processes.ProcessTimeout):
        await processes.run(["/bin/sh", "-c", f"sleep 30 & echo $! > {pid_file}; wait"], timeout=0.5,
                            start_new_session=True)
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(grandchild):
            break
        await asyncio.sleep(0.05)
    assert not _alive(grandchild)

    # a cancelled caller takes its helper with it
    pid_file.unlink()
    task = asyncio.ensure_future(processes.run(["/bin/sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"]))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    helper = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(helper):
            break
        await asyncio.sleep(0.05)
    assert not _alive(helper)

    with pytest.raises(OSError):
        await processes.run([str(tmp_path / "no-such-program")])


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_helpers_run_killed_on_timeout_and_cancel(tmp_path, loop):
    if loop == "uvloop":
        uvloop.run(_scenarios(tmp_path))
    else:
        asyncio.run(_scenarios(tmp_path))
