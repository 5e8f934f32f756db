"""The watch hub: serves every watch request of the apiserver.

    store ──watch(prefix)──► ResourceFeed (one per resource; watch_feed.py)
                                  │  each event decoded and serialised once (watch_event.py)
                                  ├──► Watcher ──transport.write──► client   (watch_watcher.py)
                                  ├──► Watcher ──► client
                                  └──► ...

Semantics follow the real apiserver:
- resourceVersion unset or "0": a synthetic ADDED for every matching object (a list at the
  current revision), then every change after that revision.
- resourceVersion=N: every change after N. N older than the store keeps (and older than the
  feed's history) gives HTTP 200 and one ERROR event carrying a 410 Expired Status, as the real
  watch cache does; the client re-lists.
- sendInitialEvents=true: the initial ADDED events, then a BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"`` at the list's revision.
- allowWatchBookmarks: a BOOKMARK about every ``bookmark_interval`` seconds, and one just before
  a timeout closes the stream.
- timeoutSeconds ends the stream cleanly; without it, a random 30-60 minutes as the real
  server's minimum request timeout does.
- Label/field selectors per watcher, with the ADDED/DELETED transitions for updates that enter or
  leave the selection. Table watches get one-row Tables.

The response is HTTP 200, chunked, application/json; each event is written as soon as it is
dispatched. A ticker checks for disconnected clients (aiohttp does not cancel handlers on
disconnect) and sends bookmarks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver import codec
from kybernetes.apiserver.keys import collection_prefix, resource_prefix
from kybernetes.apiserver.watch_feed import ResourceFeed, expired_status
from kybernetes.apiserver.watch_watcher import Watcher
from kybernetes.store import CompactedError, Store

log = logging.getLogger(__name__)

# Writes are joined into pieces of about this size while sending initial events.
_INITIAL_WRITE_BYTES = 256 * 1024


@dataclass
class WatchStats:
    group: str
    version: str
    kind: str
    resource: str
    watchers: int = 0
    events: int = 0
    dropped: int = 0


class WatchHub:
    def __init__(self, store: Store, registry: Registry, *, bookmark_interval: float = 60.0,
                 history_size: int = 5_000, max_buffer: int = 16 * 1024 * 1024,
                 tick_interval: float = 0.5, close_grace: float = 5.0):
        self.store = store
        self.registry = registry
        self.bookmark_interval = bookmark_interval
        self.history_size = history_size
        self.max_buffer = max_buffer
        self.tick_interval = tick_interval
        self.close_grace = close_grace
        self.feeds: dict[str, ResourceFeed] = {}
        self.watchers: set[Watcher] = set()
        self._private: set[ResourceFeed] = set()
        self._feed_locks: dict[str, asyncio.Lock] = {}
        self._closed: dict[tuple[str, str, str, str], WatchStats] = {}
        self._ticker: asyncio.Task | None = None
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="watch-hub ticker")

    async def stop(self) -> None:
        self._stopping = True
        for w in list(self.watchers):
            w.finish("server shutting down")
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
            self._ticker = None
        feeds = list(self.feeds.values()) + list(self._private)
        self.feeds.clear()
        self._private.clear()
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_interval)
            now = loop.time()
            for w in list(self.watchers):
                if w.done.done() or w.feed is None:
                    continue
                transport = w.transport
                if transport is None or transport.is_closing():
                    w.finish("disconnected")
                elif w.allow_bookmarks and now >= w.next_bookmark:
                    w.send_bookmark(w.feed.bookmark_revision(w), now)

    # --- feeds -----------------------------------------------------------------------------

    async def _shared_feed(self, prefix: str, start_revision: int | None) -> ResourceFeed:
        """The running feed for a resource, started (at ``start_revision``, or now) if none."""
        feed = self.feeds.get(prefix)
        if feed is not None and not feed.ended:
            return feed
        lock = self._feed_locks.setdefault(prefix, asyncio.Lock())
        async with lock:
            feed = self.feeds.get(prefix)
            if feed is None or feed.ended:
                if start_revision is None:
                    start_revision = await self.store.current_revision()
                else:
                    compacted = await self.store.compact_revision()
                    if start_revision < compacted:
                        raise CompactedError(start_revision, compacted)
                feed = ResourceFeed(self.store, prefix, start_revision, history_size=self.history_size,
                                    on_end=self._feed_ended)
                self.feeds[prefix] = feed
                feed.start()
        return feed

    async def shared_feed(self, prefix: str) -> ResourceFeed:
        """The running feed for a resource prefix (started now if none): the watch cache's source."""
        return await self._shared_feed(prefix, None)

    def _feed_ended(self, feed: ResourceFeed) -> None:
        if self.feeds.get(feed.prefix) is feed:
            del self.feeds[feed.prefix]
        self._private.discard(feed)

    # --- serving ---------------------------------------------------------------------------

    async def serve(self, request: web.Request, watch_request: Any) -> web.StreamResponse:
        """Serve one watch request until timeout, disconnect, a slow client, or shutdown."""
        if self._stopping:
            raise errors.service_unavailable("the apiserver is shutting down")
        info: ResourceInfo = watch_request.info
        rv = (watch_request.resource_version or "").strip()
        if rv and not rv.isdigit():
            raise errors.bad_request(f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer')
        start = int(rv) if rv else 0
        initial = watch_request.send_initial_events
        if initial is None:
            initial = start == 0
        ns = watch_request.namespace if info.namespaced else None
        loop = asyncio.get_running_loop()

        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)  # headers go out now: the client sees the watch open
        transport = request.transport
        if transport is None:
            return resp
        watcher = Watcher(info, watch_request, transport,
                          ns_prefix=collection_prefix(info, ns) if ns else None,
                          max_buffer=self.max_buffer, bookmark_interval=self.bookmark_interval,
                          now=loop.time())
        self.watchers.add(watcher)
        timeout = watch_request.timeout_seconds or 0
        if timeout <= 0:
            timeout = 1800 * (1 + random.random())
        timer = loop.call_later(timeout, watcher.finish, "timeout")
        feed: ResourceFeed | None = None
        try:
            feed = await self._open(resp, watcher, watch_request, start, initial)
            if feed is not None:
                await watcher.done
        finally:
            timer.cancel()
            if feed is not None:
                feed.detach(watcher)
                if feed.private:
                    self._private.discard(feed)
                    await feed.stop()
            self.watchers.discard(watcher)
            self._count_closed(watcher)
        await self._close(resp, watcher, feed)
        return resp

    async def _open(self, resp: web.StreamResponse, watcher: Watcher, watch_request: Any, start: int,
                    initial: bool) -> ResourceFeed | None:
        """Send the initial events if asked, then join a feed from the right revision. None when
        the watch already ended (disconnect, or 410 Expired sent)."""
        info: ResourceInfo = watch_request.info
        prefix = resource_prefix(info)
        ns = watch_request.namespace if info.namespaced else None
        try:
            if initial:
                # The feed must exist before the list, so its history covers the list's revision.
                feed = await self._shared_feed(prefix, None)
                start = await self._send_initial(resp, watcher, info, ns,
                                                 end_bookmark=watch_request.send_initial_events is True)
            else:
                if start == 0:  # sendInitialEvents=false without a resourceVersion: from now on
                    start = await self.store.current_revision()
                feed = await self._shared_feed(prefix, start)
        except CompactedError as exc:
            watcher.send_error(expired_status(start, exc.compact_revision))
            watcher.finish("expired")
            return None
        if watcher.done.done():
            return None
        if feed.attach(watcher, start):
            return feed
        return await self._private_feed(watcher, prefix, start)

    async def _private_feed(self, watcher: Watcher, prefix: str, start: int) -> ResourceFeed | None:
        """A feed of the watcher's own, for a start older than the shared history. None after
        sending 410 when the store no longer has that revision either."""
        compacted = await self.store.compact_revision()
        if start < compacted:
            watcher.send_error(expired_status(start, compacted))
            watcher.finish("expired")
            return None
        feed = ResourceFeed(self.store, prefix, start, history_size=1, on_end=self._feed_ended, private=True)
        self._private.add(feed)
        feed.attach(watcher, start)
        feed.start()
        return feed

    async def _send_initial(self, resp: web.StreamResponse, watcher: Watcher, info: ResourceInfo,
                            ns: str | None, *, end_bookmark: bool) -> int:
        """Synthetic ADDED events for the current state; returns the revision they were read at.
        Written with flow control (a big list must not sit in memory for a slow reader)."""
        result = await self.store.list(collection_prefix(info, ns))
        revision = str(result.revision)
        batch: list[bytes] = []
        size = 0
        for kv in result.items:
            data = watcher.initial_chunk(codec.decode(kv), revision)
            if data is None:
                continue
            batch.append(data)
            size += len(data)
            if size >= _INITIAL_WRITE_BYTES:
                await self._write_raw(resp, watcher, b"".join(batch))
                watcher.sent += len(batch)
                batch, size = [], 0
        if end_bookmark:
            batch.append(watcher.bookmark_chunk(result.revision, initial_events_end=True))
        if batch:
            await self._write_raw(resp, watcher, b"".join(batch))
            watcher.sent += len(batch)
        return result.revision

    async def _write_raw(self, resp: web.StreamResponse, watcher: Watcher, framed: bytes) -> None:
        transport = watcher.transport
        if transport is None or transport.is_closing():
            watcher.finish("disconnected")
            return
        transport.write(framed)
        # Wait for the client while the kernel and transport hold more than the usual limit.
        while transport.get_write_buffer_size() > 1024 * 1024 and not watcher.done.done():
            if transport.is_closing():
                watcher.finish("disconnected")
                return
            await asyncio.sleep(0.01)

    async def _close(self, resp: web.StreamResponse, watcher: Watcher, feed: ResourceFeed | None) -> None:
        """End the response: a last bookmark on timeout, then the final chunk."""
        transport = watcher.transport
        if transport is None or transport.is_closing():
            resp.force_close()
            return
        reason = watcher.closed_reason
        if reason == "timeout" and watcher.allow_bookmarks and feed is not None:
            transport.write(watcher.bookmark_chunk(feed.bookmark_revision(watcher)))
        if reason in ("too slow", "server shutting down"):
            resp.force_close()
        try:
            await asyncio.wait_for(resp.write_eof(), self.close_grace)
        except (TimeoutError, ConnectionError):
            transport.abort()

    # --- metrics ---------------------------------------------------------------------------

    def _count_closed(self, w: Watcher) -> None:
        key = (w.info.group, w.info.version, w.kind, w.info.resource)
        s = self._closed.setdefault(key, WatchStats(*key))
        s.events += w.sent
        if w.closed_reason == "too slow":
            s.dropped += 1

    def stats(self) -> list[WatchStats]:
        """Per group/version/kind: open watchers, events sent, watchers dropped as too slow."""
        out: dict[tuple[str, str, str, str], WatchStats] = {
            k: WatchStats(*k, events=s.events, dropped=s.dropped) for k, s in self._closed.items()}
        for w in self.watchers:
            key = (w.info.group, w.info.version, w.kind, w.info.resource)
            s = out.setdefault(key, WatchStats(*key))
            s.watchers += 1
            s.events += w.sent
        return list(out.values())

    def __iter__(self) -> Iterator[Watcher]:
        return iter(list(self.watchers))


WATCH_HUB_KEY = web.AppKey("watch_hub", WatchHub)
