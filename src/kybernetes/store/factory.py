"""open_store(url): pick and start a backend from a URL.

    sqlite:///abs/path/state.db          the embedded log (sqlite.py)
    sqlite://:memory:                    a private throw-away database, for tests
    etcd://host:port[,host:port...]      an etcd v3 cluster (etcd.py)

Options common to both: ``compaction_interval``, ``compaction_min_age``, ``compaction_min_revisions``
(defaults: every 60 s, keep >= 300 s and >= 1000 revisions). SQLite also takes ``synchronous``
("FULL" default, or "NORMAL"), ``poll_interval`` (seconds between looks for other processes'
writes) and ``readers`` (reader threads). etcd takes ``timeout`` (seconds per request, retries
included).
"""

from __future__ import annotations

from kybernetes.store.compactor import CompactionPolicy
from kybernetes.store.interface import Store, StoreError

_BACKEND_OPTIONS = {
    "sqlite": {"synchronous", "poll_interval", "readers"},
    "etcd": {"timeout"},
}
_COMPACTION_OPTIONS = {
    "compaction_interval": "interval",
    "compaction_min_age": "min_age",
    "compaction_min_revisions": "min_revisions",
}


async def open_store(url: str, **options) -> Store:
    """A started store for ``url``; close it with ``await store.close()``."""
    if not isinstance(url, str):
        raise StoreError(f"store URL must be a string, not {type(url).__name__}")
    policy_args = {_COMPACTION_OPTIONS[k]: options.pop(k) for k in list(options) if k in _COMPACTION_OPTIONS}
    try:
        policy = CompactionPolicy(**policy_args)
    except TypeError as error:
        raise StoreError(f"bad compaction options: {error}") from None
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreError(f"store URL {url!r} has no scheme; use sqlite:///path/state.db or etcd://host:port")
    scheme = scheme.lower()
    if scheme not in _BACKEND_OPTIONS:
        raise StoreError(f"unknown store URL scheme {scheme!r} in {url!r}; use sqlite:// or etcd://")
    unknown = sorted(set(options) - _BACKEND_OPTIONS[scheme])
    if unknown:
        raise StoreError(f"unknown option(s) for the {scheme} store: {', '.join(unknown)}")
    if scheme == "sqlite":
        from kybernetes.store.sqlite import open_sqlite

        if not rest:
            raise StoreError("sqlite store URL needs a path: sqlite:///abs/path/state.db or sqlite://:memory:")
        return await open_sqlite(rest, compaction=policy, **options)
    from kybernetes.store.etcd import open_etcd

    return await open_etcd(rest, compaction=policy, **options)
