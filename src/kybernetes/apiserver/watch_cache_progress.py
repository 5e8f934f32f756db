"""How far the store's watch has got: what a consistent read from the watch cache waits for.

A resource's cache is fed by the hub's watch on that resource's prefix. A prefix watch only
speaks when something under the prefix changes, so by itself it cannot say "nothing happened to
pods between revision 40 and the current revision 57": the store's revision moves on with every
write to any resource. Upstream asks etcd for a progress notification (KEP-2340); our Store
protocol has none, so the apiserver keeps one watch over every key instead, and remembers

    revision          every event up to here has been delivered by the store
    latest[prefix]    the newest event under each resource prefix, up to ``revision``

A cache for prefix p then holds the store's state at ``revision`` as soon as it has applied
``latest[p]``: no event under p lies between the two. That is the freshness test of
WatchCache.wait_fresh. The watch passes only keys and revisions on (values are never decoded),
so one more watch costs a dict update per write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kybernetes.store import Store

log = logging.getLogger(__name__)


def resource_prefix_of(key: str) -> str:
    """``/registry/<group>/<resource>/`` of a stored key (keys.resource_prefix of its resource)."""
    parts = key.split("/", 4)
    if len(parts) < 5:
        return key
    return "/".join(parts[:4]) + "/"


class RevisionTracker:
    def __init__(self, store: Store, on_progress: Callable[[], None], on_restart: Callable[[], None]):
        self.store = store
        self.revision = 0
        self.latest: dict[str, int] = {}
        self.running = False
        self._on_progress = on_progress
        self._on_restart = on_restart
        self._watch = None
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def ensure_started(self) -> None:
        """Start (or restart after a failure) the watch over every key."""
        if self.running:
            return
        async with self._lock:
            if self.running:
                return
            start = await self.store.current_revision()
            # Caches built against the old watch may be missing events it never reported.
            self._on_restart()
            self.revision = start
            self.latest = {}
            self._watch = self.store.watch("", start)
            self.running = True
            self._task = asyncio.get_running_loop().create_task(self._run(), name="watch-cache progress")

    async def stop(self) -> None:
        self.running = False
        watch, task = self._watch, self._task
        self._watch = self._task = None
        if watch is not None:
            try:
                await watch.close()
            except Exception:  # a broken watch must not stop the shutdown
                log.debug("closing the progress watch failed", exc_info=True)
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        latest = self.latest
        try:
            async for event in self._watch:
                revision = event.kv.mod_revision
                latest[resource_prefix_of(event.kv.key)] = revision
                if revision > self.revision:
                    self.revision = revision
                self._on_progress()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # compacted (too slow) or store failure: reads fall back
            log.warning("watch-cache progress watch ended: %s", exc)
        finally:
            self.running = False
            self._on_progress()

    def fresh_revision(self, prefix: str, applied: int) -> int | None:
        """The revision a cache of ``prefix`` that applied every event up to ``applied`` is
        current at, or None when the tracker knows of a newer event it has not applied yet."""
        if not self.running or self.latest.get(prefix, 0) > applied:
            return None
        return max(self.revision, applied)
