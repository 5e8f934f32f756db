"""Allocation records in the store: one key per cluster IP and per node port.

    /registry/networking.k8s.io/ipaddresses/10.43.0.10   an IPAddress object, as Kubernetes 1.33
                                                         keeps them: parentRef -> the Service
    /registry/ranges/servicenodeports/30080              an internal record naming the Service

Claiming a slot is ``store.create`` of its key, which fails when the key exists: two apiservers (or
two requests of one) can never both get the same address or port, and the allocations survive a
restart with the rest of the state. Releasing deletes the key, but only while it still names the
same Service incarnation (namespace, name and uid, compared at the key's revision), so a late
release never frees what a newer Service took since.

IPAddress objects are ordinary API objects (``kubectl get ipaddresses`` lists them); they carry the
Service's uid in an annotation, as parentRef has no uid. Node-port records are not API objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from kybernetes.api import meta
from kybernetes.api.registry import Registry
from kybernetes.apiserver import codec, keys
from kybernetes.apiserver.service_alloc_ranges import family_of
from kybernetes.store import ConflictError, KeyExistsError, KeyNotFoundError, KeyValue, Store

OWNER_UID_ANNOTATION = "kybernetes.io/service-uid"
IP_FAMILY_LABEL = "ipaddress.kubernetes.io/ip-family"
MANAGED_BY_LABEL = "ipaddress.kubernetes.io/managed-by"
MANAGED_BY = "ipallocator.k8s.io"
NODE_PORT_PREFIX = "/registry/ranges/servicenodeports/"


@dataclass(frozen=True)
class Owner:
    """A Service incarnation: the same name re-created is a different owner (new uid)."""

    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Record:
    slot: str | int
    owner: Owner | None  # None: not a Service's (e.g. an IPAddress a user made by hand)
    managed: bool  # written by this allocator (only those are ever released by repair)
    created: datetime
    revision: int


def _created(text: str | None) -> datetime:
    try:
        return meta.parse_rfc3339(text) if text else datetime.fromtimestamp(0, UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


class Records:
    """Claim, look up, release and list the records of one kind of slot."""

    prefix: str

    def __init__(self, store: Store):
        self.store = store

    def key(self, slot) -> str:
        return f"{self.prefix}{slot}"

    def encode(self, slot, owner: Owner) -> bytes:
        raise NotImplementedError

    def decode(self, kv: KeyValue) -> Record | None:
        raise NotImplementedError

    async def claim(self, slot, owner: Owner) -> bool:
        """True when the slot is now ``owner``'s; False when someone holds it."""
        try:
            await self.store.create(self.key(slot), self.encode(slot, owner))
        except KeyExistsError:
            return False
        return True

    async def lookup(self, slot) -> Record | None:
        kv = await self.store.get(self.key(slot))
        return self.decode(kv) if kv is not None else None

    async def release(self, slot, owner: Owner) -> bool:
        """Free the slot if ``owner`` still holds it; True when this call freed it."""
        kv = await self.store.get(self.key(slot))
        if kv is None:
            return False
        record = self.decode(kv)
        if record is None or record.owner != owner:
            return False
        return await self.remove(record)

    async def remove(self, record: Record) -> bool:
        """Delete exactly this record (at its revision): repair's release of a leak."""
        try:
            await self.store.delete(self.key(record.slot), record.revision)
        except (ConflictError, KeyNotFoundError):
            return False
        return True

    async def list(self) -> list[Record]:
        out: list[Record] = []
        start_after = ""
        while True:
            page = await self.store.list(self.prefix, limit=1000, start_after=start_after)
            for kv in page.items:
                record = self.decode(kv)
                if record is not None:
                    out.append(record)
            if not page.more or not page.items:
                return out
            start_after = page.items[-1].key


class IPAddressRecords(Records):
    """networking.k8s.io/v1 IPAddress objects named after the address."""

    def __init__(self, store: Store, registry: Registry):
        super().__init__(store)
        info = registry.get("networking.k8s.io", "v1", "ipaddresses")
        if info is None:
            raise ValueError("the registry has no networking.k8s.io/v1 ipaddresses to allocate into")
        self.info = info
        self.prefix = keys.resource_prefix(info)

    def key(self, slot) -> str:
        return keys.object_key(self.info, None, str(slot))

    def encode(self, slot, owner: Owner) -> bytes:
        ip = str(slot)
        obj = {
            "kind": "IPAddress", "apiVersion": "networking.k8s.io/v1",
            "metadata": {
                "name": ip, "uid": meta.new_uid(), "creationTimestamp": meta.now_rfc3339(),
                "labels": {IP_FAMILY_LABEL: family_of(ip) or "", MANAGED_BY_LABEL: MANAGED_BY},
                "annotations": {OWNER_UID_ANNOTATION: owner.uid},
            },
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": owner.namespace,
                                   "name": owner.name}},
        }
        return codec.encode(obj)

    def decode(self, kv: KeyValue) -> Record | None:
        try:
            obj = codec.decode(kv)
        except orjson.JSONDecodeError:
            return None
        m = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        ref = spec.get("parentRef") if isinstance(spec.get("parentRef"), dict) else {}
        owner = None
        if ref.get("resource") == "services" and not ref.get("group") and ref.get("name"):
            uid = ((m.get("annotations") or {}).get(OWNER_UID_ANNOTATION)) or ""
            owner = Owner(str(ref.get("namespace") or ""), str(ref["name"]), str(uid))
        managed = (m.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
        return Record(str(m.get("name") or kv.key[len(self.prefix):]), owner, managed,
                      _created(m.get("creationTimestamp")), kv.mod_revision)


class NodePortRecords(Records):
    """One key per node port in use; the value names the Service that holds it."""

    prefix = NODE_PORT_PREFIX

    def encode(self, slot, owner: Owner) -> bytes:
        return orjson.dumps({"namespace": owner.namespace, "name": owner.name, "uid": owner.uid,
                             "creationTimestamp": meta.now_rfc3339()})

    def decode(self, kv: KeyValue) -> Record | None:
        try:
            value = orjson.loads(kv.value)
            port = int(kv.key[len(self.prefix):])
        except (orjson.JSONDecodeError, ValueError):
            return None
        if not isinstance(value, dict):
            return None
        owner = Owner(str(value.get("namespace") or ""), str(value.get("name") or ""), str(value.get("uid") or ""))
        return Record(port, owner, True, _created(value.get("creationTimestamp")), kv.mod_revision)
