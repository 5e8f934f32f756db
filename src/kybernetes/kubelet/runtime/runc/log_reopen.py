"""ReopenContainerLog for the runc runtime: ask a container's conmon to start a new log file.

conmon holds the container's log open and writes to it for as long as the container runs. To
rotate a log, the kubelet renames ``NAME.log`` away and then asks the runtime to reopen it, as
CRI's ReopenContainerLog does. conmon listens for that on the control FIFO it creates in the
container's bundle directory (``<bundle>/ctl``): a line ``"<type> <height> <width>\\n"`` where
type 1 is a terminal resize and type 2 means "reopen the log files". On type 2 conmon closes its
log descriptor and creates the file again at the original path (through ``NAME.log.tmp`` and a
rename), so the old file keeps everything written before and the new one gets the rest.

conmon does that asynchronously in its own loop; ``reopen_container_log`` waits until the file
is back at its path (CRI-O waits the same way), so that the caller knows the rotation worked.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kybernetes.kubelet.runtime import protocol as cri

if TYPE_CHECKING:
    from kybernetes.kubelet.runtime.runc.service import RuncRuntime

CONTROL_FIFO = "ctl"
REOPEN_LOGS_MESSAGE = b"2 0 0\n"  # conmon: REOPEN_LOGS_EVENT, with the unused height and width
REOPEN_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.02


def _send(fifo: Path, message: bytes) -> None:
    """Write one control message; never blocks (no reader: conmon is gone, an error)."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, message)
    finally:
        os.close(fd)


class LogReopenOps:
    async def reopen_container_log(self: RuncRuntime, container_id: str) -> None:
        """Make the running container's conmon write to a new file at its log path (after the
        caller renamed the old one away); returns once the new file exists."""
        await self._ready()
        c = self._container(container_id)
        if c.state != cri.ContainerState.CONTAINER_RUNNING:
            raise cri.RuntimeServiceError(f"container {container_id} is not running")
        fifo = Path(c.bundle) / CONTROL_FIFO
        try:
            await asyncio.to_thread(_send, fifo, REOPEN_LOGS_MESSAGE)
        except OSError as e:
            why = "conmon is not listening" if e.errno in (errno.ENXIO, errno.ENOENT) else e.strerror
            raise cri.RuntimeServiceError(f"cannot reopen the log of container {container_id}: {why}") from None
        log_path = Path(c.log_path)
        deadline = time.monotonic() + REOPEN_TIMEOUT_SECONDS
        while not log_path.exists():
            if time.monotonic() > deadline:
                raise cri.RuntimeServiceError(f"conmon did not reopen the log of container {container_id} "
                                              f"within {REOPEN_TIMEOUT_SECONDS:g}s")
            await asyncio.sleep(POLL_SECONDS)
