"""Background compaction shared by the backends: keep at least ``min_age`` seconds AND at least
``min_revisions`` revisions of history, drop the rest.

The log does not record when a revision was written, so the compactor samples the current revision
every ``interval`` seconds and remembers (time, revision) pairs. The newest revision it may compact
to is the newest sample that is at least ``min_age`` old, and never closer than ``min_revisions``
to the head. Several processes sharing one database (or one etcd) may each run a compactor: a
compaction to a revision that is already compacted is a no-op, so they do not fight.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kybernetes.store.interface import StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    interval: float = 60.0  # seconds between samples / attempts
    min_age: float = 300.0  # keep at least this many seconds of history
    min_revisions: int = 1000  # and at least this many revisions


class Compactable(Protocol):
    async def current_revision(self) -> int: ...

    async def compact_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...


class Compactor:
    def __init__(self, store: Compactable, policy: CompactionPolicy, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._policy = policy
        self._clock = clock
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kyb-store-compactor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except StoreError as error:
                logger.warning("background compaction failed: %s", error)
            await asyncio.sleep(self._policy.interval)

    async def run_once(self) -> int:
        """Sample, and compact if history beyond the policy exists; the revision compacted to, or 0."""
        now = self._clock()
        current = await self._store.current_revision()
        self._samples.append((now, current))
        target = 0
        while self._samples and now - self._samples[0][0] >= self._policy.min_age:
            old_enough = self._samples.popleft()
            target = old_enough[1]
        if target:
            # keep the newest old-enough sample: the next round still needs an anchor
            self._samples.appendleft((now - self._policy.min_age, target))
        target = min(target, current - self._policy.min_revisions)
        if target <= 0 or target <= await self._store.compact_revision():
            return 0
        await self._store.compact(target)
        return target
