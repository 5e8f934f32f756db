"""The reflector: keep a local copy of one resource in step with the apiserver (list + watch).

    list (consistent, paged) ─► sink.replace(items, rv)
        └─► watch from rv (allowWatchBookmarks) ─► sink.added / modified / deleted, rv advances
              ├─ stream ends (server timeout)     ─► watch again from the last rv seen
              ├─ connection lost / server error   ─► back off, watch again from the last rv
              └─ 410 Expired (history compacted)  ─► list again

Bookmarks move the remembered resourceVersion forward without an object change, so a re-watch
after a quiet hour does not start from a compacted revision. Retries back off exponentially on
the Clock (0.8 s doubling to 30 s, with jitter, as client-go does) and reset once a list or a
watch succeeds. The sink is the informer; the reflector knows nothing of handlers or indices.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Protocol

from kybernetes.api.errors import ApiError
from kybernetes.client.errors import ExpiredError
from kybernetes.client.resource import Resource
from kybernetes.client.rest import ApiClient
from kybernetes.client.watch import ADDED, BOOKMARK, DELETED, MODIFIED
from kybernetes.util.backoff import Backoff
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MIN_WATCH_TIMEOUT = 300  # seconds; each watch asks for a random timeout in [min, 2*min)
QUIET_WATCH = 1.0  # a watch that ends this fast without an event counts as a failure


class ReflectorSink(Protocol):
    def replace(self, items: list[Obj], resource_version: str) -> None: ...

    def added(self, obj: Obj) -> None: ...

    def modified(self, obj: Obj) -> None: ...

    def deleted(self, obj: Obj) -> None: ...


class Reflector:
    def __init__(self, client: ApiClient, resource: Resource, sink: ReflectorSink, *,
                 namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, page_size: int = 500, clock: Clock | None = None,
                 backoff: Backoff | None = None, min_watch_timeout: int = MIN_WATCH_TIMEOUT):
        self.client = client
        self.resource = resource
        self.sink = sink
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.clock = clock or REAL_CLOCK
        self.backoff = backoff or Backoff(initial=0.8, maximum=30.0, jitter=1.0)
        self.min_watch_timeout = min_watch_timeout
        self.last_resource_version = ""
        self.lists = 0  # how many times the reflector listed (a re-list after 410 makes it 2)
        self.watches = 0

    async def run(self) -> None:
        """List and watch until cancelled. A reflector that already holds a resourceVersion (its
        informer was stopped and started again) resumes watching from it, listing only on 410."""
        need_list = not self.last_resource_version
        while True:
            try:
                if need_list:
                    await self.list_once()
                    need_list = False
                    self.backoff.reset()
                started, events = self.clock.now(), await self.watch_once()
                if events:
                    self.backoff.reset()
                elif self.clock.now() - started < QUIET_WATCH:
                    await self.clock.sleep(self.backoff.next_delay())
            except ExpiredError as e:
                log.info("%s: %s; listing again", self.resource, e)
                need_list = True
            except ApiError as e:
                delay = self.backoff.next_delay()
                log.warning("%s: %s %s (%s); retrying in %.1f s", self.resource,
                            "list" if need_list else "watch", "failed", e, delay)
                await self.clock.sleep(delay)

    async def list_once(self) -> None:
        """A consistent (quorum) list of every page, handed to the sink whole."""
        result = await self.client.list_all(self.resource, self.namespace, page_size=self.page_size,
                                            label_selector=self.label_selector,
                                            field_selector=self.field_selector)
        self.lists += 1
        rv = str((result.get("metadata") or {}).get("resourceVersion") or "")
        items = [self._typed(item) for item in result.get("items") or []]
        self.sink.replace(items, rv)
        self.last_resource_version = rv

    async def watch_once(self) -> int:
        """One watch from the last resourceVersion until the stream ends; how many events came."""
        self.watches += 1
        timeout = self.min_watch_timeout + int(random.random() * self.min_watch_timeout)
        stream = self.client.watch(self.resource, self.namespace,
                                   resource_version=self.last_resource_version or None,
                                   label_selector=self.label_selector, field_selector=self.field_selector,
                                   allow_bookmarks=True, timeout_seconds=timeout)
        count = 0
        async with stream:
            async for event_type, obj in stream:
                count += 1
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                if event_type == ADDED:
                    self.sink.added(obj)
                elif event_type == MODIFIED:
                    self.sink.modified(obj)
                elif event_type == DELETED:
                    self.sink.deleted(obj)
                elif event_type != BOOKMARK:
                    continue
                if rv:
                    self.last_resource_version = rv
        return count

    def _typed(self, item: Obj) -> Obj:
        # List items carry no kind/apiVersion; watch events do. Make both look alike.
        if "kind" not in item and self.resource.kind:
            return {"kind": self.resource.kind, "apiVersion": self.resource.api_version, **item}
        return item
