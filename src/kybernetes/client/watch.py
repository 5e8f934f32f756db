"""A watch stream: the chunked JSON lines of ``?watch=true`` as an async iterator of events.

The apiserver answers a watch with HTTP 200 and then, for as long as the watch lives, one JSON
object per line: ``{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {...}}``. Lines
are split here from whatever chunks the socket delivers (an event may span chunks; a chunk may
hold many events), so objects of any size work. An ERROR event carries a Status and ends the
watch: it is raised as an ApiError, a 410 as ``ExpiredError`` (the caller must list again).
A stream that breaks mid-way raises ``ApiConnectionError``; one the server ends cleanly (its
timeoutSeconds) just stops iterating. Use it as ``async with client.watch(...) as events``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import aiohttp
import orjson

from kybernetes.client.errors import ApiConnectionError, error_from_status

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
EVENT_TYPES = frozenset({ADDED, MODIFIED, DELETED, BOOKMARK, ERROR})


class WatchEvent(NamedTuple):
    type: str
    object: dict[str, Any]


Opener = Callable[[], Awaitable[aiohttp.ClientResponse]]


class WatchStream:
    def __init__(self, open_response: Opener, description: str):
        self._open = open_response
        self._description = description
        self._response: aiohttp.ClientResponse | None = None
        self._buffer = b""
        self._closed = False

    async def __aenter__(self) -> WatchStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def start(self) -> None:
        """Open the stream (idempotent); raises ApiError if the server refuses the watch."""
        if self._response is None and not self._closed:
            self._response = await self._open()

    def close(self) -> None:
        self._closed = True
        if self._response is not None:
            self._response.close()
            self._response = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        await self.start()
        while True:
            line = await self._next_line()
            if line is None:
                self.close()
                raise StopAsyncIteration
            if line.strip():
                break
        event = self._decode(line)
        if event.type == ERROR:
            self.close()
            raise error_from_status(event.object, int(event.object.get("code") or 500))
        return event

    def _decode(self, line: bytes) -> WatchEvent:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.close()
            raise ApiConnectionError(500, "InternalError",
                                     f"watch of {self._description}: undecodable event {line[:200]!r}") from None
        if not isinstance(doc, dict) or doc.get("type") not in EVENT_TYPES or not isinstance(doc.get("object"), dict):
            self.close()
            raise ApiConnectionError(500, "InternalError",
                                     f"watch of {self._description}: malformed event {line[:200]!r}")
        return WatchEvent(doc["type"], doc["object"])

    async def _next_line(self) -> bytes | None:
        assert self._response is not None
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
                return line
            try:
                data = await self._response.content.readany()
            except (aiohttp.ClientError, OSError) as e:
                self.close()
                raise ApiConnectionError(503, "ServiceUnavailable",
                                         f"watch of {self._description} broke: {e or type(e).__name__}") from None
            if not data:
                # End of stream; a final event without its newline still counts.
                line, self._buffer = self._buffer, b""
                return line if line.strip() else None
            self._buffer += data
