"""One etcd watch: a gRPC Watch stream per watch, resumed across member failures.

The stream asks for ``start_revision = position + 1`` with prev_kv, where ``position`` is the last
revision handed to the consumer's queue. If the stream breaks (member killed, no leader), a new
stream is opened from the same position on whichever member the channel picks next, so the
consumer sees every event exactly once. ``require leader`` metadata makes a member that lost its
leader cancel the stream instead of going silent. A compacted start ends the watch with
CompactedError, as does falling MAX_PENDING_EVENTS behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from aetcd import rpc

from kybernetes.store.interface import (
    CompactedError,
    Event,
    EventType,
    KeyValue,
    StoreUnavailableError,
)
from kybernetes.store.keyrange import prefix_end_bytes

if TYPE_CHECKING:
    from kybernetes.store.etcd import EtcdStore

logger = logging.getLogger(__name__)

MAX_PENDING_EVENTS = 100_000
_REQUIRE_LEADER = (("hasleader", "true"),)
_END = object()


def kv_from_pb(kv: rpc.KeyValue) -> KeyValue:
    return KeyValue(kv.key.decode(errors="surrogateescape"), bytes(kv.value), kv.create_revision, kv.mod_revision)


def event_from_pb(event: rpc.Event) -> Event:
    prev = kv_from_pb(event.prev_kv) if event.HasField("prev_kv") else None
    if event.type == rpc.Event.EventType.DELETE:
        key = event.kv.key.decode(errors="surrogateescape")
        if prev is None:
            prev = KeyValue(key, b"", 0, 0)
        return Event(EventType.DELETE, KeyValue(key, prev.value, prev.create_revision, event.kv.mod_revision), prev)
    kv = kv_from_pb(event.kv)
    if kv.create_revision == kv.mod_revision:
        return Event(EventType.CREATE, kv)
    if prev is None:
        prev = KeyValue(kv.key, b"", kv.create_revision, 0)
    return Event(EventType.UPDATE, kv, prev)


class EtcdWatch:
    def __init__(self, store: EtcdStore, prefix: str, after_revision: int):
        self._store = store
        self.prefix = prefix
        self.position = after_revision
        self._queue: asyncio.Queue = asyncio.Queue()
        self._closed = False
        self._created = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"kyb-etcd-watch {prefix}")

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._closed = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._closed = True
            raise item
        return item

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._queue.put_nowait(_END)

    def _request(self) -> rpc.WatchRequest:
        raw = self.prefix.encode()
        create = rpc.WatchCreateRequest(key=raw or b"\0", range_end=prefix_end_bytes(raw),
                                        start_revision=self.position + 1, prev_kv=True)
        return rpc.WatchRequest(create_request=create)

    async def _run(self) -> None:
        """Keep a stream open; reopen it from ``position`` when it breaks, for up to ``timeout``
        seconds without a stream the server accepted."""
        loop = asyncio.get_running_loop()
        failing_since: float | None = None
        delay = 0.05
        while True:
            self._created = False
            try:
                await self._stream()
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.CANCELLED and self._closed:
                    return
                reason = f"{error.code().name}: {error.details()}"
            except _StreamCanceled as canceled:
                if canceled.error is not None:
                    self._queue.put_nowait(canceled.error)
                    return
                reason = canceled.reason
            except grpc.aio.UsageError:
                self._queue.put_nowait(StoreUnavailableError("store is closed"))
                return
            now = loop.time()
            if self._created:
                failing_since, delay = None, 0.05
            failing_since = now if failing_since is None else failing_since
            if now - failing_since > self._store.timeout:
                self._queue.put_nowait(StoreUnavailableError(f"etcd watch on {self.prefix!r} failed: {reason}"))
                return
            logger.info("etcd watch on %r broke (%s); resuming after %d", self.prefix, reason, self.position)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _stream(self) -> None:
        stub = self._store.watch_stub
        if stub is None or self._store._closed:
            raise grpc.aio.UsageError("store is closed")
        call = stub.Watch(metadata=_REQUIRE_LEADER)
        try:
            await call.write(self._request())
            async for response in call:
                if response.compact_revision:
                    raise _StreamCanceled(CompactedError(self.position, response.compact_revision), "compacted")
                if response.created:
                    self._created = True
                if response.canceled:
                    raise _StreamCanceled(None, response.cancel_reason)
                for pb in response.events:
                    event = event_from_pb(pb)
                    if event.revision <= self.position:
                        continue
                    if self._queue.qsize() >= MAX_PENDING_EVENTS:
                        raise _StreamCanceled(CompactedError(self.position, event.revision), "too slow")
                    self.position = event.revision
                    self._queue.put_nowait(event)
            raise _StreamCanceled(None, "stream ended")
        finally:
            call.cancel()


class _StreamCanceled(Exception):
    def __init__(self, error: BaseException | None, reason: str):
        super().__init__(reason)
        self.error = error
        self.reason = reason
