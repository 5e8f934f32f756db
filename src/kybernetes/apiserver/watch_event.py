"""One store event as watch clients see it, decoded once and serialised once.

A store event becomes at most three different watch events: the plain one (ADDED for CREATE,
MODIFIED for UPDATE, DELETED for DELETE), and for watchers with selectors the transitions
Kubernetes makes of an UPDATE: ADDED when the object starts matching, DELETED (carrying the
previous object at the event's revision) when it stops matching. Each variant is serialised the
first time some watcher needs it, per apiVersion/kind, and the resulting bytes -- already framed
as an HTTP/1.1 chunk -- are shared by every watcher that receives it.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.store import Event, EventType

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def chunk(data: bytes) -> bytes:
    """Frame bytes as one HTTP/1.1 chunk of a chunked response."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def event_line(event_type: str, object_json: bytes) -> bytes:
    """``{"type":T,"object":{...}}\\n``: the JSON watch framing client-go decodes."""
    return b'{"type":"' + event_type.encode() + b'","object":' + object_json + b"}\n"


def with_type(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The object as its watched kind: kind and apiVersion first, as the real server writes them."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    for key, value in obj.items():
        if key != "kind" and key != "apiVersion":
            out[key] = value
    return out


def bookmark_object(api_version: str, kind: str, revision: int, *, initial_events_end: bool = False) -> dict:
    meta: dict[str, Any] = {"resourceVersion": str(revision), "creationTimestamp": None}
    if initial_events_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": kind, "apiVersion": api_version, "metadata": meta}


def error_chunk(status: dict[str, Any]) -> bytes:
    return chunk(event_line(ERROR, orjson.dumps(status)))


def _decode(value: bytes, revision: int) -> dict[str, Any]:
    obj = orjson.loads(value)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(revision)
    return obj


class WatchEvent:
    """A store event plus lazily computed decodings and serialisations."""

    __slots__ = ("event", "revision", "key", "type", "_obj", "_prev", "_bytes")

    def __init__(self, event: Event):
        self.event = event
        self.revision = event.kv.mod_revision
        self.key = event.kv.key
        self.type = event.type
        self._obj: dict[str, Any] | None = None
        self._prev: dict[str, Any] | None = None
        self._bytes: dict[tuple, bytes] = {}

    def obj(self) -> dict[str, Any]:
        """The object after the event (for a DELETE: the object deleted), at the event's revision."""
        if self._obj is None:
            self._obj = _decode(self.event.kv.value, self.revision)
        return self._obj

    def prev(self) -> dict[str, Any] | None:
        """For an UPDATE, the object before it -- stamped with the event's revision, as the real
        watch cache does for the DELETED it sends when an object leaves a selector."""
        if self.type is not EventType.UPDATE or self.event.prev is None:
            return None
        if self._prev is None:
            self._prev = _decode(self.event.prev.value, self.revision)
        return self._prev

    def release(self) -> None:
        """Drop the decoded objects once dispatched. History keeps only bytes, which the garbage
        collector need not traverse; a late selective watcher decodes again if it must."""
        self._obj = None
        self._prev = None

    def plain_type(self) -> str:
        if self.type is EventType.CREATE:
            return ADDED
        if self.type is EventType.UPDATE:
            return MODIFIED
        return DELETED

    def framed(self, event_type: str, use_prev: bool, api_version: str, kind: str) -> bytes:
        """The chunk-framed JSON line for one variant of this event, serialised once."""
        key = (event_type, use_prev, api_version, kind)
        data = self._bytes.get(key)
        if data is None:
            source = self.prev() if use_prev else self.obj()
            data = chunk(event_line(event_type, orjson.dumps(with_type(source, api_version, kind))))
            self._bytes[key] = data
        return data

    def framed_table(self, event_type: str, use_prev: bool, info: Any, include_object: str,
                     headers: bool) -> bytes:
        """The variant as a one-row meta.k8s.io/v1 Table (``kubectl get -w``). As on the real
        server, only a watcher's first Table carries the column definitions."""
        key = ("Table", event_type, use_prev, info.group_version, info.kind, include_object, headers)
        data = self._bytes.get(key)
        if data is None:
            source = with_type(self.prev() if use_prev else self.obj(), info.group_version, info.kind)
            data = chunk(event_line(event_type, orjson.dumps(
                table_for(info, source, include_object, str(self.revision), headers))))
            self._bytes[key] = data
        return data


def table_for(info: Any, obj: dict[str, Any], include_object: str, resource_version: str,
              headers: bool) -> dict[str, Any]:
    # Imported here: table_response belongs to the REST layer, which imports this package too.
    from kybernetes.apiserver.table_response import build_table

    table = build_table(info, [obj], include_object=include_object or "Metadata",
                        resource_version=resource_version)
    if not headers:
        table["columnDefinitions"] = []
    return table
