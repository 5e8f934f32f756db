"""The Store protocol: a key/value store with etcd's revision semantics.

Every backend (embedded SQLite, etcd v3) implements exactly this, and one conformance suite
(tests/store) holds them all to it. The apiserver is the only caller.

Semantics, as etcd has them:
- One global revision that only grows; every successful write gets a new one and returns it.
- ``create`` fails with KeyExistsError if the key exists. ``update`` and ``delete`` are conditioned
  on the key's current ``mod_revision`` and fail with ConflictError (carrying the current value)
  when it differs, or KeyNotFoundError when the key does not exist.
- ``get`` and ``list`` read the latest state, or the state at a past revision; a revision below the
  compacted one raises CompactedError.
- ``watch(prefix, after_revision)`` yields every event with revision > after_revision, in commit
  order, with no gaps and no duplicates; a DELETE event carries the value the key had.
- Values larger than MAX_VALUE_BYTES raise ValueTooLargeError and change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

# etcd's default request limit is 1.5 MiB; we hold every backend to the same bound.
MAX_VALUE_BYTES = 1536 * 1024


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change. For DELETE, ``kv.value`` is the value before deletion and
    ``kv.mod_revision`` is the revision of the delete itself; ``prev`` is the key's previous state
    (always set for UPDATE and DELETE, None for CREATE)."""

    type: EventType
    kv: KeyValue
    prev: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # True when ``limit`` cut the list short; continue after items[-1].key


class StoreError(Exception):
    """Base of every error a backend raises on purpose."""


class KeyExistsError(StoreError):
    def __init__(self, key: str):
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str):
        super().__init__(f"key {key!r} not found")
        self.key = key


class ConflictError(StoreError):
    """The key's mod_revision was not the expected one. ``current`` is what is stored now."""

    def __init__(self, key: str, expected: int, current: KeyValue | None):
        super().__init__(
            f"key {key!r}: expected revision {expected}, "
            f"found {current.mod_revision if current else 'none'}"
        )
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StoreError):
    """The requested revision is older than the oldest revision still kept (HTTP 410)."""

    def __init__(self, requested: int, compact_revision: int):
        super().__init__(
            f"revision {requested} has been compacted; the oldest kept is {compact_revision + 1}"
        )
        self.requested = requested
        self.compact_revision = compact_revision


class FutureRevisionError(StoreError):
    """A read asked for a revision the store has not reached yet."""

    def __init__(self, requested: int, current: int):
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class ValueTooLargeError(StoreError):
    def __init__(self, key: str, size: int):
        super().__init__(f"value for {key!r} is {size} bytes; the limit is {MAX_VALUE_BYTES} bytes")
        self.key = key
        self.size = size


class StoreUnavailableError(StoreError):
    """The backend cannot be reached (etcd down, database closed)."""


class Watch(Protocol):
    """An open watch: iterate it for events; ``close`` ends it (the iterator then stops).
    A watch that falls too far behind or whose start was compacted raises CompactedError from
    the iterator."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class Store(Protocol):
    async def current_revision(self) -> int: ...

    async def get(self, key: str, revision: int = 0) -> KeyValue | None: ...

    async def list(
        self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under ``prefix`` (sorted), at ``revision`` (0 = latest). ``limit`` 0 means all.
        ``start_after`` continues a previous page: only keys > start_after are returned."""
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> int: ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Replace the value if the key's mod_revision equals ``expected_revision``."""
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        """Delete the key (if ``expected_revision`` is non-zero, only at that mod_revision).
        Returns the delete's revision and the value deleted."""
        ...

    def watch(self, prefix: str, after_revision: int) -> Watch: ...

    async def compact(self, revision: int) -> None: ...

    async def compact_revision(self) -> int: ...

    async def close(self) -> None: ...
