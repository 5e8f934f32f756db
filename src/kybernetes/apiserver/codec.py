"""Objects <-> stored bytes.

Objects are stored as JSON without metadata.resourceVersion: the store's mod_revision is the
resourceVersion, filled in on every read, so it can never disagree with the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.store import KeyValue


def encode(obj: dict[str, Any]) -> bytes:
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        meta = {k: v for k, v in meta.items() if k != "resourceVersion"}
        obj = {**obj, "metadata": meta}
    return orjson.dumps(obj)


def decode(kv: KeyValue) -> dict[str, Any]:
    obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


def decode_at(value: bytes, revision: int) -> dict[str, Any]:
    """Decode a value with an explicit resourceVersion (e.g. a DELETE event's revision)."""
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj
