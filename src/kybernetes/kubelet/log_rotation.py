"""Container log rotation by size, as Kubernetes' container log manager does it.

The runtime (conmon) appends each running container's output to its CRI log file forever; the
kubelet keeps that bounded. Every ``period`` seconds it looks at the live log of each running
container and, when it is larger than ``max_size``:

    NAME.log.<n>   beyond max_files - 2 older files: deleted
    NAME.log.<k>   -> NAME.log.<k+1>      (1 is always the most recent rotated file)
    NAME.log       -> NAME.log.1
    runtime.reopen_container_log(id)      conmon starts a new NAME.log

so that a container has at most ``max_files`` files (the live one included) of about
``max_size`` each. If the runtime cannot reopen the log (the container just exited, conmon is
gone) the rename is undone, as upstream does, so output never goes to a file nobody reads.
``kubectl logs`` reads the rotated files oldest first, then the live one (logs.log_files).
The runtime removes a container's live log with the container; the numbered files of
containers that are gone are swept from ``log_root`` by the same loop.

Upstream names rotated files by timestamp and gzips the older ones; numbered, uncompressed
files keep reading them simple (logs.py) and are what this project's runtimes and tools expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.kubelet.runtime import protocol as cri

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 10 * 1024 * 1024  # containerLogMaxSize: 10Mi
DEFAULT_MAX_FILES = 5  # containerLogMaxFiles
MONITOR_PERIOD = 10.0  # containerLogMonitorInterval


class LogRotationError(ValueError):
    """A rotation setting the kubelet cannot use."""


@dataclass(frozen=True)
class LogRotationPolicy:
    max_size: int = DEFAULT_MAX_SIZE  # bytes of the live file that trigger a rotation
    max_files: int = DEFAULT_MAX_FILES  # files per container, the live one included

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise LogRotationError("the container log max size must be greater than zero")
        if self.max_files < 2:
            raise LogRotationError("the container log max files must be at least 2")


def rotated_files(live: Path) -> list[tuple[int, Path]]:
    """The rotated files of ``live`` as (number, path), most recent (lowest number) first."""
    found = []
    with contextlib.suppress(OSError):
        for other in live.parent.iterdir():
            suffix = other.name[len(live.name) + 1:]
            if other.name.startswith(live.name + ".") and suffix.isdigit():
                found.append((int(suffix), other))
    return sorted(found)


def _numbered(live: Path, n: int) -> Path:
    return live.with_name(f"{live.name}.{n}")


def _compact(live: Path) -> None:
    """Renumber the rotated files 1, 2, 3... keeping their order (closes gaps)."""
    for target, (n, path) in enumerate(rotated_files(live), start=1):
        if n != target:
            os.rename(path, _numbered(live, target))


def _make_room(live: Path, keep: int) -> None:
    """Keep the ``keep`` most recent rotated files, renumbered 2..keep+1 (number 1 is free)."""
    _compact(live)
    files = rotated_files(live)
    for _n, path in files[keep:]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    for n, path in reversed(files[:keep]):
        os.rename(path, _numbered(live, n + 1))


async def rotate_log(live: Path, max_files: int, reopen: Callable[[], Awaitable[None]]) -> None:
    """Rotate ``live`` now: make room, rename it to NAME.1, have the writer reopen it. On a
    failed reopen the file goes back where it was (and the error is raised)."""
    _make_room(live, max_files - 2)
    first = _numbered(live, 1)
    os.rename(live, first)
    try:
        await reopen()
    except BaseException:
        if not live.exists():
            os.rename(first, live)
        _compact(live)
        raise


class ContainerLogManager:
    """Rotates the logs of a runtime's running containers (``run`` until cancelled)."""

    def __init__(self, runtime: Any, policy: LogRotationPolicy | None = None, *, period: float = MONITOR_PERIOD,
                 log_root: Path | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.runtime = runtime
        self.log_root = log_root  # where the runtime writes logs: swept for orphaned rotated files
        self.policy = policy or LogRotationPolicy()
        self.period = period
        self.sleep = sleep
        self._reopen = getattr(runtime, "reopen_container_log", None)

    @property
    def supported(self) -> bool:
        """Whether the runtime can reopen logs (without it a rotation would lose output)."""
        return self._reopen is not None

    async def rotate_if_needed(self, container_id: str, log_path: str) -> bool:
        """Rotate one container's log if it is over the size; whether it was rotated."""
        if not log_path or self._reopen is None:
            return False
        live = Path(log_path)
        try:
            if live.stat().st_size <= self.policy.max_size:
                return False
        except OSError:
            return False
        await rotate_log(live, self.policy.max_files, lambda: self._reopen(container_id))
        return True

    async def rotate_all(self) -> list[str]:
        """One pass over the running containers; the IDs whose logs were rotated."""
        rotated = []
        running = await self.runtime.list_containers(cri.ContainerFilter(state=cri.ContainerState.CONTAINER_RUNNING))
        for container in running:
            try:
                status = await self.runtime.container_status(container.id)
                if status.state != cri.ContainerState.CONTAINER_RUNNING:
                    continue
                if await self.rotate_if_needed(container.id, status.log_path):
                    rotated.append(container.id)
            except (cri.RuntimeServiceError, OSError) as e:
                log.warning("cannot rotate the log of container %s: %s", container.id[:13], e)
        return rotated

    async def remove_orphaned_files(self) -> list[Path]:
        """Delete the rotated files whose container the runtime no longer has (it removes a
        container's live log, and knows nothing of the numbered files next to it)."""
        if self.log_root is None or not self.log_root.is_dir():
            return []
        known = set()
        for container in await self.runtime.list_containers():
            with contextlib.suppress(cri.NotFoundError):
                known.add((await self.runtime.container_status(container.id)).log_path)
        removed = []
        for path in self.log_root.rglob("*.log.*"):
            base, _, number = path.name.rpartition(".")
            if number.isdigit() and str(path.with_name(base)) not in known:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
        return removed

    async def run(self) -> None:
        if not self.supported:
            log.info("the runtime cannot reopen container logs: log rotation is off")
            return
        while True:
            try:
                await self.rotate_all()
                await self.remove_orphaned_files()
            except Exception as e:  # noqa: BLE001 - never let rotation take the kubelet down
                log.warning("log rotation: %s", e)
            await self.sleep(self.period)
