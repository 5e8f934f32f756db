"""The revisioned key/value store: one protocol (interface.py), two backends.

    open_store("sqlite:///var/lib/kybernetes/state.db")   embedded default (sqlite.py)
    open_store("sqlite://:memory:")                        tests
    open_store("etcd://127.0.0.1:2379,127.0.0.1:22379")    a real etcd v3 cluster (etcd.py)

Only the apiserver imports this package (enforced by import-linter).
"""

from kybernetes.store.factory import open_store
from kybernetes.store.interface import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    Event,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    Store,
    StoreError,
    StoreUnavailableError,
    ValueTooLargeError,
    Watch,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "CompactedError",
    "ConflictError",
    "Event",
    "EventType",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "ValueTooLargeError",
    "Watch",
    "open_store",
]
