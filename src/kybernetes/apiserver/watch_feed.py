"""A feed: one store watch over one resource's prefix, fanned out to every watcher of it.

All watchers of pods share one store watch. Events are read by one task; dispatch runs as a plain
callback once the reader has drained what the store had ready, so a burst of events reaches each
watcher as one write. Each event is decoded and serialised at most once per variant
(watch_event.py), and watchers that take every event unchanged share a single joined buffer.

A feed remembers its last ``history_size`` events, so a watcher asking to start a little in the
past (the usual list-then-watch) joins the shared feed: it is replayed what it missed from
history, then sees live events. ``floor`` is the revision after which the history is complete;
a start older than that gets a private feed of its own (or 410 Expired if the store has compacted
it). Feeds outlive their watchers, so their history stays warm, as the real watch cache does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from kybernetes.apiserver.watch_event import WatchEvent
from kybernetes.apiserver.watch_watcher import Watcher
from kybernetes.store import CompactedError, Event, Store

log = logging.getLogger(__name__)


class ResourceFeed:
    def __init__(self, store: Store, prefix: str, start_revision: int, *, history_size: int,
                 on_end: Any = None, private: bool = False):
        self.store = store
        self.prefix = prefix
        self.start_revision = start_revision
        self.floor = start_revision  # every event after this is in history or still to come
        self.last_revision = start_revision  # the newest event dispatched
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.watchers: list[Watcher] = []
        # Watch caches (watch_cache.py): on_events(batch) before the watchers, on_feed_end().
        self.listeners: list[Any] = []
        self.private = private
        self.events = 0  # store events seen
        self._on_end = on_end
        self._ready: list[Event] = []
        self._scheduled = False
        self._watch: Any = None
        self._task: asyncio.Task | None = None
        self.ended = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"watch-feed {self.prefix}")

    async def stop(self) -> None:
        self.ended = True
        if self._watch is not None:
            try:
                await self._watch.close()
            except Exception:  # closing a broken watch must not stop the others from closing
                log.debug("closing store watch for %s failed", self.prefix, exc_info=True)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._watch = self.store.watch(self.prefix, self.start_revision)
            async for event in self._watch:
                self._ready.append(event)
                if not self._scheduled:
                    # Dispatch after the reader has taken every event the store already had.
                    self._scheduled = True
                    loop.call_soon(self._dispatch)
            self._end(None)
        except asyncio.CancelledError:
            self._end(None)
            raise
        except CompactedError as exc:
            self._end(exc)
        except Exception as exc:  # the store failed: end the watches; clients re-watch
            log.warning("store watch on %s ended: %s", self.prefix, exc)
            self._end(exc)

    def _end(self, error: BaseException | None) -> None:
        if self._ready:
            self._dispatch()
        self.ended = True
        for listener in self.listeners:
            listener.on_feed_end()
        watchers, self.watchers = self.watchers, []
        for w in watchers:
            if isinstance(error, CompactedError):
                w.send_error(expired_status(w.skip_through or self.last_revision, error.compact_revision))
            w.finish("feed ended")
        if self._on_end is not None:
            self._on_end(self)

    # --- fan-out ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._scheduled = False
        ready, self._ready = self._ready, []
        if not ready:
            return
        batch = [WatchEvent(e) for e in ready]
        self.events += len(batch)
        history = self.history
        history.extend(batch)
        while len(history) > self.history_size:
            self.floor = history.popleft().revision
        self.last_revision = batch[-1].revision
        for listener in self.listeners:
            listener.on_events(batch)
        try:
            self._fan_out(batch)
        finally:
            for e in batch:
                e.release()

    def _fan_out(self, batch: list[WatchEvent]) -> None:
        watchers = self.watchers
        if not watchers:
            return
        first = batch[0].revision
        shared: dict[tuple[str, str], bytes] = {}
        for w in list(watchers):
            if w.simple and w.skip_through < first:
                key = (w.api_version, w.kind)
                data = shared.get(key)
                if data is None:
                    data = shared[key] = b"".join(
                        e.framed(e.plain_type(), False, w.api_version, w.kind) for e in batch)
                w.write(data, len(batch))
            else:
                for e in batch:
                    w.offer(e)
                w.flush()

    def attach(self, watcher: Watcher, start_revision: int) -> bool:
        """Join the feed so the watcher sees every event after ``start_revision``. False when
        the history no longer reaches back that far."""
        if self.ended:
            return False
        if start_revision < self.last_revision:
            if start_revision < self.floor:
                return False
            watcher.skip_through = start_revision
            for e in self.history:
                if e.revision > start_revision:
                    watcher.offer(e)
                    e.release()
            watcher.flush()
        # Events the store already yielded but not yet dispatched will still come, and those
        # at or below the start are skipped by their revision.
        watcher.skip_through = start_revision
        watcher.feed = self
        self.watchers.append(watcher)
        return True

    def detach(self, watcher: Watcher) -> None:
        try:
            self.watchers.remove(watcher)
        except ValueError:
            pass

    def bookmark_revision(self, watcher: Watcher) -> int:
        """A revision the watcher has seen every event up to: safe for a BOOKMARK."""
        return max(self.last_revision, watcher.skip_through)


def expired_status(requested: int, compact_revision: int) -> dict[str, Any]:
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {requested} ({compact_revision + 1})",
        "reason": "Expired", "code": 410,
    }
