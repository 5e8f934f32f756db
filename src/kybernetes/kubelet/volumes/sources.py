"""The API objects a node's volumes and env vars read: ConfigMaps, Secrets, ServiceAccounts and
Services, through the client, behind a small per-node cache.

Kubernetes' kubelet reads these through a cache too (watch-based or TTL-based managers), so a
node starting twenty pods that share one ConfigMap asks the apiserver once. This one is the
TTL kind: an object (or its absence) read by GET is served from memory for ``ttl`` seconds of
the clock, and ``invalidate`` drops it early; concurrent misses of one object share one read. A resync of volumes therefore sees a changed
ConfigMap at most ``ttl`` seconds late.

Not found is a ``SourceError`` with ``not_found=True`` and the message the kubelet gives
(``configmap "x" not found``), any other failure a ``SourceError`` naming the object.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient, Resource
from kybernetes.client.resource import CONFIGMAPS, SECRETS, SERVICEACCOUNTS, SERVICES
from kybernetes.kubelet.volumes.errors import SourceError
from kybernetes.util.clock import REAL_CLOCK, Clock

Obj = dict[str, Any]
DEFAULT_TTL = 5.0
_KIND_WORD = {"configmaps": "configmap", "secrets": "secret", "serviceaccounts": "serviceaccount",
              "persistentvolumeclaims": "persistentvolumeclaim", "persistentvolumes": "persistentvolume"}


@dataclass
class _Entry:
    read_at: float
    value: Any  # the object, or None for not found


class ObjectCache:
    def __init__(self, client: ApiClient, *, ttl: float = DEFAULT_TTL, clock: Clock | None = None):
        self.client = client
        self.ttl = ttl
        self.clock = clock or REAL_CLOCK
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._inflight: dict[tuple[str, str, str], asyncio.Future[_Entry]] = {}
        self.reads = 0  # API calls made (for tests and metrics)

    def _fresh(self, key: tuple[str, str, str]) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self.clock.now() - entry.read_at < self.ttl:
            return entry
        return None

    def invalidate(self, namespace: str | None = None) -> None:
        """Forget cached objects (of one namespace, or all)."""
        for key in [k for k in self._entries if namespace is None or k[1] == namespace]:
            del self._entries[key]

    async def _get(self, resource: Resource, namespace: str, name: str) -> Obj:
        key = (resource.resource, namespace, name)
        entry = self._fresh(key)
        if entry is None:
            # One read per object at a time: a resync wakes every pod of the node at once, and
            # they mostly share their ConfigMaps (kube-root-ca.crt) and Secrets.
            pending = self._inflight.get(key)
            if pending is None:
                pending = self._inflight[key] = asyncio.ensure_future(self._read(resource, namespace, name))
                pending.add_done_callback(lambda done: self._inflight.pop(key) if self._inflight.get(key) is done
                                          else None)
            entry = await asyncio.shield(pending)
        if entry.value is None:
            word = _KIND_WORD.get(resource.resource, resource.resource)
            raise SourceError(f'{word} "{name}" not found', not_found=True)
        return entry.value

    async def _read(self, resource: Resource, namespace: str, name: str) -> _Entry:
        self.reads += 1
        try:
            value = await self.client.get_or_none(resource, name, namespace)
        except ApiError as e:
            word = _KIND_WORD.get(resource.resource, resource.resource)
            raise SourceError(f"failed to fetch {word} {name!r}: {e}") from None
        except OSError as e:
            raise SourceError(f"failed to fetch {resource.resource} {namespace}/{name}: {e}") from None
        entry = _Entry(self.clock.now(), value)
        self._entries[(resource.resource, namespace, name)] = entry
        return entry

    async def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        """Any object by name (``namespace`` "" for cluster-scoped kinds)."""
        return await self._get(resource, namespace, name)

    async def config_map(self, namespace: str, name: str) -> Obj:
        return await self._get(CONFIGMAPS, namespace, name)

    async def secret(self, namespace: str, name: str) -> Obj:
        return await self._get(SECRETS, namespace, name)

    async def service_account(self, namespace: str, name: str) -> Obj:
        return await self._get(SERVICEACCOUNTS, namespace, name)

    async def services(self, namespace: str) -> list[Obj]:
        key = ("services", namespace, "")
        entry = self._fresh(key)
        if entry is None:
            self.reads += 1
            try:
                listed = await self.client.list(SERVICES, namespace)
            except (ApiError, OSError) as e:
                raise SourceError(f"failed to list services in {namespace}: {e}") from None
            entry = _Entry(self.clock.now(), list(listed.get("items") or []))
            self._entries[key] = entry
        return entry.value


def config_map_data(config_map: Obj) -> dict[str, bytes]:
    """A ConfigMap's data and binaryData as bytes, key by key."""
    out = {k: str(v).encode() for k, v in (config_map.get("data") or {}).items()}
    for k, v in (config_map.get("binaryData") or {}).items():
        out[k] = _b64(v)
    return out


def secret_data(secret: Obj) -> dict[str, bytes]:
    """A Secret's data (base64 in the API) as bytes; stringData is folded in by the apiserver."""
    out = {k: _b64(v) for k, v in (secret.get("data") or {}).items()}
    for k, v in (secret.get("stringData") or {}).items():
        out.setdefault(k, str(v).encode())
    return out


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (ValueError, TypeError):
        return b""
