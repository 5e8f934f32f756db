"""The watch cache: lists served from memory, kept current by the watch hub's feeds.

    store ──watch(prefix)──► ResourceFeed (watch_feed.py) ──► watchers
                                  └──► ResourceCache: key -> stored KeyValue, in key order
    store ──watch("")──► RevisionTracker (watch_cache_progress.py): how far the store has got

One ResourceCache per resource, started on its first list (or at start-up for the resources
every node and controller lists: pods, nodes, services, endpointslices). It lists the store once,
then applies every event of the hub's feed for that resource. It keeps the stored bytes, not
decoded objects: a plain JSON list is spliced from them (listing.list_body) and selectors decode
as the store path does, so both paths run the same code on the same bytes.

Which lists it answers (the others go to the store, exactly as before):

    resourceVersion="0"                 at once, whatever the cache holds
    resourceVersion unset, no limit     a consistent read: the store's current revision is read
                                        (cheap), and the list waits until the cache is known to
                                        be current at it (KEP-2340); after ``fresh_timeout``
                                        seconds it falls back to the store
    resourceVersion=N (NotOlderThan)    waits until the cache is current at N or later
    limit>0 (unless rv="0"), continue,  the store: a continue token pins a revision the cache
    resourceVersionMatch=Exact          does not keep (upstream served these from etcd until
                                        1.31 too)

``CacheView`` offers the two Store methods listing.list_objects calls, so selectors, namespaces,
Tables and PartialObjectMetadata are the store path's own code.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left, insort
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.keys import resource_prefix
from kybernetes.apiserver.listing import ListOptions
from kybernetes.apiserver.watch_cache_progress import RevisionTracker
from kybernetes.apiserver.watch_event import WatchEvent
from kybernetes.store import EventType, KeyValue, ListResult, Store, StoreError

log = logging.getLogger(__name__)

EAGER_RESOURCES = (("", "pods"), ("", "nodes"), ("", "services"), ("discovery.k8s.io", "endpointslices"))


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ResourceCache:
    """The current objects of one resource, as the store holds them (values undecoded)."""

    def __init__(self, prefix: str, on_progress: Any = None):
        self.prefix = prefix
        self._on_progress = on_progress
        self.items: dict[str, KeyValue] = {}
        self.applied = 0  # every event under the prefix up to here is applied
        self.ready = False
        self.valid = True  # False once its feed ended: rebuilt on next use
        self._keys: list[str] = []  # self.items' keys, sorted as the store sorts them
        self._pending: list[WatchEvent] = []
        self.feed: Any = None
        # Per (apiVersion, kind): each item's list JSON, {key: (kv it was made from, bytes)}.
        self.spliced: dict[tuple[str, str], dict[str, tuple[KeyValue, bytes]]] = {}

    # --- fed by the hub's ResourceFeed ---------------------------------------------------

    def on_events(self, batch: list[WatchEvent]) -> None:
        if not self.ready:
            self._pending.extend(batch)
            return
        self._apply(batch)

    def on_feed_end(self) -> None:
        self.valid = False

    def load(self, listed: ListResult) -> None:
        """The initial state (a store list at ``listed.revision``), then the events that came
        in meanwhile and are newer than it."""
        self.items = {kv.key: kv for kv in listed.items}
        self._keys = sorted(self.items)
        self.applied = listed.revision
        self.ready = True
        pending, self._pending = self._pending, []
        self._apply(pending)

    def _apply(self, batch: list[WatchEvent]) -> None:
        items, keys = self.items, self._keys
        for e in batch:
            if e.revision <= self.applied:
                continue  # already in the initial list
            kv = e.event.kv
            key = kv.key
            if e.type is EventType.DELETE:
                if items.pop(key, None) is not None:
                    del keys[bisect_left(keys, key)]
                    for memo in self.spliced.values():
                        memo.pop(key, None)
            else:
                if key not in items:
                    insort(keys, key)
                items[key] = kv
            self.applied = e.revision
        if batch and self._on_progress is not None:
            self._on_progress()

    # --- read ----------------------------------------------------------------------------

    def range(self, prefix: str, start_after: str = "") -> list[KeyValue]:
        """Values of the keys under ``prefix`` (> start_after), in key order."""
        keys, items = self._keys, self.items
        lo = bisect_left(keys, max(prefix, start_after + "\x00" if start_after else prefix))
        hi = bisect_left(keys, _prefix_end(prefix), lo)
        return [items[k] for k in keys[lo:hi]]


class CacheView:
    """A resource cache at one revision, shaped like the Store calls listing.list_objects makes."""

    def __init__(self, cache: ResourceCache, revision: int):
        self._cache = cache
        self._revision = revision

    async def current_revision(self) -> int:
        return self._revision

    def splice_memo(self, info: ResourceInfo) -> dict:
        """Where listing.list_body keeps this resource's item JSON between lists."""
        return self._cache.spliced.setdefault((info.group_version, info.kind), {})

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        items = self._cache.range(prefix, start_after)
        more = bool(limit) and len(items) > limit
        if more:
            items = items[:limit]
        return ListResult(items, self._revision, more)


@dataclass
class CacheStats:
    from_cache: int = 0  # lists answered from memory
    from_store: int = 0  # lists the cache does not answer (limit, continue, Exact, ...)
    fallbacks: int = 0  # consistent reads that timed out waiting and went to the store


class WatchCache:
    def __init__(self, store: Store, hub: Any, *, fresh_timeout: float = 3.0, enabled: bool = True):
        self.store = store
        self.hub = hub
        self.fresh_timeout = fresh_timeout
        self.enabled = enabled
        self.caches: dict[str, ResourceCache] = {}
        self.stats = CacheStats()
        self.tracker = RevisionTracker(store, self._progress, self._invalidate_all)
        self._locks: dict[str, asyncio.Lock] = {}
        self._progress_future: asyncio.Future | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, registry: Any = None) -> None:
        if not self.enabled:
            return
        await self.tracker.ensure_started()
        if registry is None:
            return
        for group, resource in EAGER_RESOURCES:
            info = _find(registry, group, resource)
            if info is not None:
                try:
                    await self._ready_cache(info)
                except StoreError as exc:
                    log.warning("watch cache for %s not started: %s", resource, exc)

    async def stop(self) -> None:
        await self.tracker.stop()
        for cache in self.caches.values():
            self._detach(cache)
        self.caches.clear()

    # --- which source answers a list -----------------------------------------------------------

    async def list_source(self, info: ResourceInfo, opts: ListOptions) -> Any:
        """The cache at a revision that satisfies ``opts`` (a CacheView), or the store."""
        needed = None
        if self.enabled:
            try:
                await self.tracker.ensure_started()
                needed = await self._needed_revision(opts)
            except StoreError:  # the store path reports it the usual way
                needed = None
        if needed is None:
            self.stats.from_store += 1
            return self.store
        try:
            cache = await self._ready_cache(info)
            revision = await self.wait_fresh(cache, needed)
        except StoreError:  # the store path reports it the usual way
            revision = None
        if revision is None:
            self.stats.fallbacks += 1
            return self.store
        self.stats.from_cache += 1
        return CacheView(cache, revision)

    async def _needed_revision(self, opts: ListOptions) -> int | None:
        """The revision the cache must be current at: 0 for any, None when only the store can
        answer (including every malformed request: the store path gives the proper error)."""
        rv, match = opts.resource_version, opts.resource_version_match
        if opts.continue_token or opts.limit < 0 or match not in ("", "NotOlderThan"):
            return None
        if rv == "0":
            return 0
        if opts.limit > 0:
            return None  # rv unset: paged from one store snapshot; rv=N: legacy Exact
        if rv in (None, ""):
            if match:
                return None
            return await self.store.current_revision()
        if not rv.isdigit():
            return None
        wanted = int(rv)
        if wanted > self.tracker.revision and wanted > await self.store.current_revision():
            return None  # too large: the store path answers with the proper error
        return wanted

    async def fresh_cache(self, info: ResourceInfo, needed: int, timeout: float) -> ResourceCache | None:
        """The cache of ``info`` once it is current at revision ``needed`` or later (admission's
        reads, admission_resources.py); None when it cannot be within ``timeout`` seconds, or
        when the cache is off or broken: the caller then reads the store."""
        if not self.enabled:
            return None
        try:
            await self.tracker.ensure_started()
            cache = await self._ready_cache(info)
            revision = await self.wait_fresh(cache, needed, timeout)
        except StoreError:
            revision = None
        if revision is None:
            self.stats.fallbacks += 1
            return None
        return cache

    async def update_source(self, info: ResourceInfo) -> ResourceCache | None:
        """The cache of ``info`` for an update's first read (objects.py), started on first use;
        None when the cache is off or broken. It may lag the store: the update's write carries
        the revision it read, so a stale copy costs a retry from the store, never a lost write."""
        if not self.enabled:
            return None
        prefix = resource_prefix(info)
        cache = self.caches.get(prefix)
        if cache is not None and cache.valid and cache.ready:
            return cache
        await self.tracker.ensure_started()
        return await self._ready_cache(info)

    # --- caches ------------------------------------------------------------------------------

    async def _ready_cache(self, info: ResourceInfo) -> ResourceCache:
        prefix = resource_prefix(info)
        cache = self.caches.get(prefix)
        if cache is not None and cache.valid and cache.ready:
            return cache
        lock = self._locks.setdefault(prefix, asyncio.Lock())
        async with lock:
            cache = self.caches.get(prefix)
            if cache is None or not cache.valid:
                if cache is not None:
                    self._detach(cache)
                await self.tracker.ensure_started()
                cache = ResourceCache(prefix, self._progress)
                feed = await self.hub.shared_feed(prefix)
                feed.listeners.append(cache)
                cache.feed = feed
                self.caches[prefix] = cache
                try:
                    cache.load(await self.store.list(prefix))
                except BaseException:
                    self._detach(cache)
                    self.caches.pop(prefix, None)
                    raise
                self._progress()
            return cache

    def _detach(self, cache: ResourceCache) -> None:
        cache.valid = False
        if cache.feed is not None:
            try:
                cache.feed.listeners.remove(cache)
            except ValueError:
                pass

    def _invalidate_all(self) -> None:
        for cache in self.caches.values():
            self._detach(cache)

    # --- freshness ---------------------------------------------------------------------------

    def _progress(self) -> None:
        future, self._progress_future = self._progress_future, None
        if future is not None and not future.done():
            future.set_result(None)

    async def wait_fresh(self, cache: ResourceCache, needed: int, timeout: float | None = None) -> int | None:
        """The revision the cache is current at once that is at least ``needed``; None when
        that does not happen within ``timeout`` (default ``fresh_timeout``) seconds (or the
        cache or tracker broke)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.fresh_timeout if timeout is None else timeout)
        while True:
            if not cache.valid or not self.tracker.running:
                return None
            revision = self.tracker.fresh_revision(cache.prefix, cache.applied)
            if needed == 0:
                return revision if revision is not None else cache.applied
            if revision is not None and revision >= needed:
                return revision
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if self._progress_future is None:
                self._progress_future = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._progress_future), remaining)
            except TimeoutError:
                return None


def _find(registry: Any, group: str, resource: str) -> ResourceInfo | None:
    for info in registry.resources(group):
        if info.group == group and info.resource == resource:
            return info
    return None


WATCH_CACHE_KEY = web.AppKey("watch_cache", WatchCache)
