"""Informers: a reflector feeding an indexed cache and event handlers; shared per resource.

    apiserver ══ list+watch ══► Reflector ─► Informer ─► Indexer (the cache controllers read)
                                                 └──► handlers: on_add(obj), on_update(old, new),
                                                      on_delete(obj)  → usually queue.add(key)

Handlers are plain (synchronous) callables and must be quick: queue a key and return, as
client-go asks; the work happens in the controller's workers. They run in the order events
arrive, after the cache already holds the new state. A handler added after the informer synced
first gets on_add for every cached object. A re-list (after 410) turns into on_add / on_update /
on_delete against the previous cache, so no change is lost; an object that vanished during a gap
is reported to on_delete with its last known state. With ``resync_period`` every cached object is
also re-delivered as on_update(obj, obj) that often, to retry what reconcilers may have dropped.

``SharedInformerFactory`` hands out one informer per (resource, namespace, selectors), so many
controllers share a single watch and cache, and owns their tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.client.indexer import Indexer, IndexFunc, object_key
from kybernetes.client.reflector import Reflector
from kybernetes.client.resource import Resource
from kybernetes.client.rest import ApiClient
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class EventHandler:
    on_add: Callable[[Obj], Any] | None = None
    on_update: Callable[[Obj, Obj], Any] | None = None
    on_delete: Callable[[Obj], Any] | None = None


class Informer:
    def __init__(self, client: ApiClient, resource: Resource, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0.0, clock: Clock | None = None,
                 indexers: dict[str, IndexFunc] | None = None):
        self.resource = resource
        self.clock = clock or REAL_CLOCK
        self.resync_period = resync_period
        self.indexer = Indexer(indexers)
        self.reflector = Reflector(client, resource, self, namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, clock=self.clock)
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- consumers -----------------------------------------------------------------------------

    def add_event_handler(self, on_add: Callable[[Obj], Any] | None = None,
                          on_update: Callable[[Obj, Obj], Any] | None = None,
                          on_delete: Callable[[Obj], Any] | None = None) -> EventHandler:
        handler = EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if self.has_synced() and on_add is not None:
            for obj in self.indexer.list():
                self._call(on_add, obj)
        return handler

    def remove_event_handler(self, handler: EventHandler) -> None:
        with contextlib.suppress(ValueError):
            self._handlers.remove(handler)

    def has_synced(self) -> bool:
        """True once the first list has been put in the cache."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        try:
            await self.clock.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def get(self, key: str) -> Obj | None:
        return self.indexer.get(key)

    def get_by_name(self, namespace: str | None, name: str) -> Obj | None:
        return self.indexer.get_by_name(namespace, name)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return self.indexer.list()
        return [o for o in self.indexer.list() if (o.get("metadata") or {}).get("namespace") == namespace]

    # -- lifetime ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the reflector (and the resync loop) until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.reflector.run(), name=f"reflector {self.resource}")
            if self.resync_period > 0:
                tasks.create_task(self._resync_loop(), name=f"resync {self.resource}")

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer {self.resource}")
        return self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            if self.has_synced():
                self.resync()

    def resync(self) -> None:
        """Re-deliver every cached object as on_update(obj, obj)."""
        for obj in self.indexer.list():
            self._dispatch_update(obj, obj)

    # -- the reflector's sink --------------------------------------------------------------------

    def replace(self, items: list[Obj], resource_version: str) -> None:
        previous = {object_key(o): o for o in self.indexer.list()}
        self.indexer.replace(items)
        for obj in items:
            old = previous.pop(object_key(obj), None)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)
        for old in previous.values():
            self._dispatch_delete(old)
        self._synced.set()

    def added(self, obj: Obj) -> None:
        old = self.indexer.upsert(obj)
        if old is None:
            self._dispatch_add(obj)
        else:
            self._dispatch_update(old, obj)

    def modified(self, obj: Obj) -> None:
        self.added(obj)

    def deleted(self, obj: Obj) -> None:
        self.indexer.delete(object_key(obj))
        self._dispatch_delete(obj)

    def _dispatch_add(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for h in list(self._handlers):
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, func: Callable[..., Any], *args: Obj) -> None:
        try:
            result = func(*args)
        except Exception:
            log.exception("%s informer: event handler %r failed", self.resource, func)
            return
        if inspect.isawaitable(result):
            # Handlers must be quick and synchronous (queue a key); an async one would reorder
            # events. Refuse it loudly rather than leave a coroutine never awaited.
            if inspect.iscoroutine(result):
                result.close()
            log.error("%s informer: event handler %r is async; handlers must be plain functions",
                      self.resource, func)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors), shared by every caller; owns the tasks."""

    def __init__(self, client: ApiClient, *, resync_period: float = 0.0, namespace: str | None = None,
                 clock: Clock | None = None):
        self.client = client
        self.resync_period = resync_period
        self.namespace = namespace
        self.clock = clock or REAL_CLOCK
        self._informers: dict[tuple[Any, ...], Informer] = {}

    def informer_for(self, resource: Resource, *, namespace: str | None = None,
                     label_selector: str | None = None, field_selector: str | None = None,
                     indexers: dict[str, IndexFunc] | None = None) -> Informer:
        namespace = namespace if namespace is not None else self.namespace
        key = (resource.group, resource.version, resource.resource, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, resource, namespace, label_selector=label_selector,
                                field_selector=field_selector, resync_period=self.resync_period,
                                clock=self.clock, indexers=indexers)
            self._informers[key] = informer
        return informer

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        """Start every informer not yet running (call again after asking for more)."""
        for informer in self._informers.values():
            if not informer.running:
                informer.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """True when every informer has synced; False if ``timeout`` passed first."""
        try:
            await self.clock.wait_for(
                asyncio.gather(*(i.wait_for_sync() for i in self._informers.values())), timeout)
        except TimeoutError:
            return False
        return True

    async def shutdown(self) -> None:
        for informer in self._informers.values():
            await informer.stop()

    async def __aenter__(self) -> SharedInformerFactory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()
