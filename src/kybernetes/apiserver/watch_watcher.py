"""One watch connection: what it wants to see, and the socket it is written to.

Events reach a watcher synchronously, from the feed's dispatch: ``offer`` filters and queues the
already-serialised bytes, ``flush`` writes everything queued in one ``transport.write``. There is
no task and no awaiting per watcher on the hot path. The transport's own write buffer is the
watcher's bounded queue: when a client reads too slowly and that buffer passes ``max_buffer``
bytes, the watcher is closed -- the client re-lists and re-watches, as with the real watch cache
-- instead of holding everyone else back or growing without bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.watch_event import (
    ADDED,
    BOOKMARK,
    DELETED,
    MODIFIED,
    WatchEvent,
    bookmark_object,
    chunk,
    error_chunk,
    event_line,
    table_for,
    with_type,
)
from kybernetes.store import EventType


def _active(selector: Any) -> Any:
    """The selector if it selects anything less than everything, else None."""
    if selector is None or getattr(selector, "empty", False):
        return None
    return selector


class Watcher:
    """The per-connection state of one watch."""

    def __init__(self, info: ResourceInfo, watch_request: Any, transport: asyncio.Transport, *,
                 ns_prefix: str | None, max_buffer: int, bookmark_interval: float,
                 now: float):
        self.info = info
        self.api_version = info.group_version
        self.kind = info.kind
        self.transport = transport
        self.ns_prefix = ns_prefix
        self.label_selector = _active(watch_request.label_selector)
        self.field_selector = _active(watch_request.field_selector)
        self.selective = self.label_selector is not None or self.field_selector is not None
        self.as_table = bool(watch_request.as_table)
        self.include_object = watch_request.include_object or "Metadata"
        self.table_headers_sent = False
        # Watchers that take every event of the feed's resource unchanged share one write buffer.
        self.simple = ns_prefix is None and not self.selective and not self.as_table
        self.allow_bookmarks = bool(watch_request.allow_bookmarks)
        self.bookmark_interval = bookmark_interval
        self.next_bookmark = now + bookmark_interval
        self.max_buffer = max_buffer
        self.skip_through = 0  # events at or below this revision were already covered
        self.pending: list[bytes] = []
        self.sent = 0  # events written
        self.feed: Any = None
        self.closed_reason = ""
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    # --- filtering -------------------------------------------------------------------------

    def _matches(self, obj: dict[str, Any]) -> bool:
        if self.label_selector is not None:
            labels = (obj.get("metadata") or {}).get("labels")
            if not self.label_selector.matches(labels or {}):
                return False
        if self.field_selector is not None and not self.field_selector.matches(obj):
            return False
        return True

    def variant(self, wev: WatchEvent) -> tuple[str, bool] | None:
        """(event type, send the previous object?) this watcher should get, or None."""
        if not self.selective:
            return wev.plain_type(), False
        if wev.type is EventType.CREATE:
            return (ADDED, False) if self._matches(wev.obj()) else None
        if wev.type is EventType.DELETE:
            return (DELETED, False) if self._matches(wev.obj()) else None
        now_matches = self._matches(wev.obj())
        prev = wev.prev()
        before_matched = prev is not None and self._matches(prev)
        if now_matches:
            return (MODIFIED, False) if before_matched else (ADDED, False)
        if before_matched:
            return DELETED, True
        return None

    def offer(self, wev: WatchEvent) -> None:
        """Queue the event if this watcher wants it (called by the feed's dispatch)."""
        if wev.revision <= self.skip_through:
            return
        if self.ns_prefix is not None and not wev.key.startswith(self.ns_prefix):
            return
        picked = self.variant(wev)
        if picked is None:
            return
        event_type, use_prev = picked
        if self.as_table:
            self.pending.append(wev.framed_table(event_type, use_prev, self.info, self.include_object,
                                                 not self.table_headers_sent))
            self.table_headers_sent = True
        else:
            self.pending.append(wev.framed(event_type, use_prev, self.api_version, self.kind))

    # --- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        self.write(pending[0] if len(pending) == 1 else b"".join(pending), len(pending))

    def write(self, data: bytes, events: int = 1) -> None:
        """Write framed bytes now; close the watch if the client has fallen too far behind."""
        if self.done.done():
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            self.finish("disconnected")
            return
        transport.write(data)
        self.sent += events
        if transport.get_write_buffer_size() > self.max_buffer:
            self.finish("too slow")

    def initial_chunk(self, obj: dict[str, Any], revision: str) -> bytes | None:
        """The synthetic ADDED for an object that existed when the watch started."""
        if self.selective and not self._matches(obj):
            return None
        typed = with_type(obj, self.api_version, self.kind)
        if self.as_table:
            body = table_for(self.info, typed, self.include_object, revision, not self.table_headers_sent)
            self.table_headers_sent = True
        else:
            body = typed
        return chunk(event_line(ADDED, orjson.dumps(body)))

    def bookmark_chunk(self, revision: int, *, initial_events_end: bool = False) -> bytes:
        obj = bookmark_object(self.api_version, self.kind, revision, initial_events_end=initial_events_end)
        return chunk(event_line(BOOKMARK, orjson.dumps(obj)))

    def send_bookmark(self, revision: int, now: float) -> None:
        self.next_bookmark = now + self.bookmark_interval
        self.write(self.bookmark_chunk(revision), 0)

    def send_error(self, status: dict[str, Any]) -> None:
        self.write(error_chunk(status), 0)

    def finish(self, reason: str) -> None:
        """End the watch (the serving coroutine wakes up and closes the response)."""
        if not self.done.done():
            self.closed_reason = reason
            self.done.set_result(reason)
