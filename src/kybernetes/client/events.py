"""The event recorder: core/v1 Events about objects, as ``kubectl describe`` shows them.

    recorder = EventRecorder(client, component="deployment-controller")
    await recorder.normal(deployment, "ScalingReplicaSet", "Scaled up replica set web-5d4 to 3")
    await recorder.warning(pod, "FailedScheduling", "0/3 nodes are available: ...")

An event names the object it is about (involvedObject: kind, namespace, name, uid, apiVersion,
resourceVersion), why (reason, CamelCase), what (message), Normal or Warning, and who said it
(source.component / reportingComponent). Its name is ``<object name>.<hex nanoseconds>`` and it
lives in the object's namespace ("default" for cluster-scoped objects), as client-go writes them.

Repeats are aggregated instead of piling up: the same object, type, reason and message again
PATCHes the existing event (count + 1, lastTimestamp now). The recorder remembers the events it
wrote in a bounded LRU, like client-go's correlator; after a restart a repeat starts a new event.

Events are best effort: a failure to record is logged and never raised into the reconciler.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import EVENTS
from kybernetes.client.rest import ApiClient
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
MAX_MESSAGE = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Obj = dict[str, Any]


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


def involved_object(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": meta.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, *, host: str = "", clock: Clock | None = None,
                 cache_size: int = 4096):
        if not component:
            raise ValueError("an event recorder needs a component name")
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock or REAL_CLOCK
        self.cache_size = cache_size
        self._seen: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._last_nanos = 0

    async def normal(self, obj: Obj, reason: str, message: str) -> Obj | None:
        return await self.event(obj, NORMAL, reason, message)

    async def warning(self, obj: Obj, reason: str, message: str) -> Obj | None:
        return await self.event(obj, WARNING, reason, message)

    async def event(self, obj: Obj, event_type: str, reason: str, message: str) -> Obj | None:
        """Record one occurrence; the Event as written, or None if it could not be."""
        if event_type not in (NORMAL, WARNING):
            raise ValueError(f"event type must be {NORMAL} or {WARNING}, not {event_type!r}")
        ref = involved_object(obj)
        if not ref.get("name"):
            raise ValueError("an event needs an object with metadata.name")
        message = message[:MAX_MESSAGE]
        key = (ref.get("kind"), ref.get("namespace"), ref.get("name"), ref.get("uid"), ref.get("apiVersion"),
               event_type, reason, message)
        now = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            seen = self._seen.get(key)
            if seen is not None:
                written = await self._bump(seen, message, now)
                if written is not None:
                    self._seen.move_to_end(key)
                    return written
            written = await self._create(ref, event_type, reason, message, now)
            self._remember(key, _Seen(written["metadata"]["name"], written["metadata"]["namespace"], 1))
            return written
        except ApiError as e:
            log.warning("could not record event %s %s on %s/%s: %s", event_type, reason,
                        ref.get("namespace", ""), ref.get("name"), e)
            return None

    async def _bump(self, seen: _Seen, message: str, now: str) -> Obj | None:
        patch = {"count": seen.count + 1, "lastTimestamp": now, "message": message}
        try:
            written = await self.client.patch(EVENTS, seen.name, patch, seen.namespace)
        except ApiError as e:
            if e.code == 404:  # the event expired (TTL) or was deleted: start a new one
                return None
            raise
        seen.count = int(written.get("count") or seen.count + 1)
        return written

    async def _create(self, ref: Obj, event_type: str, reason: str, message: str, now: str) -> Obj:
        namespace = ref.get("namespace") or "default"
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref['name']}.{self._unique_nanos():x}", "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        return await self.client.create(EVENTS, event, namespace)

    def _unique_nanos(self) -> int:
        # Names must differ even when the clock does not move (a fake clock, or a coarse one).
        since_epoch = self.clock.wall() - _EPOCH
        nanos = (since_epoch.days * 86400 + since_epoch.seconds) * 1_000_000_000 + since_epoch.microseconds * 1000
        self._last_nanos = max(nanos, self._last_nanos + 1)
        return self._last_nanos

    def _remember(self, key: tuple[Any, ...], seen: _Seen) -> None:
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)
