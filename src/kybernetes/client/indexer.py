"""The informer's cache: objects by key, plus secondary indices (client-go's cache.Indexer).

Keys are ``namespace/name`` (``name`` for cluster-scoped objects), the same strings controllers
put in their work queues. An index maps an object to index values (a pod to its namespace, its
node, its owners' uids) so "the pods on node n1" or "the pods owned by ReplicaSet uid u" are a
dictionary lookup instead of a scan. Everything runs on one event loop, so plain dicts are safe;
objects handed out are the cache's own: treat them as read-only and copy before changing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

BY_NAMESPACE = "namespace"
BY_OWNER_UID = "owner-uid"
BY_NODE_NAME = "node-name"


def object_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name) from a key; namespace is "" for cluster-scoped objects."""
    namespace, sep, name = key.partition("/")
    if not sep:
        return "", key
    if not name or "/" in name:
        raise ValueError(f"invalid object key {key!r}: want namespace/name or name")
    return namespace, name


def index_by_namespace(obj: Obj) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [ref["uid"] for ref in refs if isinstance(ref, dict) and ref.get("uid")]


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


DEFAULT_INDEXERS: dict[str, IndexFunc] = {
    BY_NAMESPACE: index_by_namespace,
    BY_OWNER_UID: index_by_owner_uid,
    BY_NODE_NAME: index_by_node_name,
}


class Indexer:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None):
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = dict(DEFAULT_INDEXERS if indexers is None else indexers)
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, namespace: str | None, name: str) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        """The objects whose index ``index_name`` contains ``value``."""
        return [self._items[k] for k in sorted(self._index(index_name).get(value, ()))]

    def index_keys(self, index_name: str, value: str) -> list[str]:
        return sorted(self._index(index_name).get(value, ()))

    def index_values(self, index_name: str) -> list[str]:
        return sorted(self._index(index_name))

    def _index(self, index_name: str) -> dict[str, set[str]]:
        try:
            return self._indices[index_name]
        except KeyError:
            raise KeyError(f"no index named {index_name!r}; have {', '.join(self._indexers) or 'none'}") from None

    # -- writes --------------------------------------------------------------------------------

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index (also over the objects already cached)."""
        if name in self._indexers:
            raise ValueError(f"index {name!r} already exists")
        self._indexers[name] = func
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, func, key, obj)

    def upsert(self, obj: Obj) -> Obj | None:
        """Store ``obj`` under its key; the object it replaced, if any."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            self._index_one(name, func, key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[Obj]) -> None:
        self._items.clear()
        self._indices = {name: {} for name in self._indexers}
        for obj in objs:
            self.upsert(obj)

    def _index_one(self, name: str, func: IndexFunc, key: str, obj: Obj) -> None:
        index = self._indices[name]
        for value in func(obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
