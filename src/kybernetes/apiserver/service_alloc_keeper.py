"""Keeps the allocation records in step with the Services that exist.

    start:  repair: list Services, list IPAddress and node-port records;
            re-mark what a Service holds without a record; release records whose Service is
            gone (or no longer holds them) once they are older than ``leak_grace``
    then:   watch Services: a removed Service's cluster IPs and node ports are released
    sweep:  called right after a Service is removed through this apiserver (objects.on_removed),
            so the delete returns with its IP and ports already free; the watch does the same
            a moment later for removals made elsewhere (another apiserver on the same store)
    every ``repair_interval``: repair again (leaks from a crash between claim and write)

A release names the Service incarnation (namespace, name, uid) and is a no-op when the record has
moved on, so the sweep, the watch and repair may all see the same removal.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.api.registry import Registry
from kybernetes.apiserver import codec, keys
from kybernetes.apiserver.service_alloc import ServiceAllocator, owner_of
from kybernetes.apiserver.service_alloc_ranges import canonical_ip
from kybernetes.apiserver.service_alloc_records import Owner, Record, Records
from kybernetes.apiserver.service_alloc_spec import cluster_ips_of, node_ports_of
from kybernetes.store import CompactedError, EventType, KeyValue, Store, StoreError
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Held:
    """What one stored Service holds, as last seen."""

    service: dict[str, Any]
    create_revision: int
    mod_revision: int


class AllocationKeeper:
    def __init__(self, store: Store, registry: Registry, allocator: ServiceAllocator, *,
                 leak_grace: float = 60.0, repair_interval: float = 180.0, clock: Clock | None = None):
        info = registry.get("", "v1", "services")
        if info is None:
            raise ValueError("the registry has no v1 services")
        self.info = info
        self.store = store
        self.allocator = allocator
        self.leak_grace = leak_grace
        self.repair_interval = repair_interval
        self.clock = clock or RealClock()
        self.known: dict[tuple[str, str], _Held] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Held while releasing: a sweep waits for a release the watch has under way, so the
        # delete that triggered it returns only once everything is free.
        self._releasing = asyncio.Lock()

    async def start(self) -> None:
        revision = await self.repair()
        self._tasks = [asyncio.create_task(self._watch(revision), name="service-alloc-watch"),
                       asyncio.create_task(self._repair_periodically(), name="service-alloc-repair")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []

    # -- removals ------------------------------------------------------------------------------

    async def sweep(self, namespace: str | None) -> None:
        """Release the allocations of Services of ``namespace`` that are no longer stored."""
        if not namespace:
            return
        async with self._releasing:
            page = await self.store.list(keys.collection_prefix(self.info, namespace))
            present = {kv.key: kv.create_revision for kv in page.items}
            for (ns, name), held in list(self.known.items()):
                if ns != namespace or held.mod_revision > page.revision:
                    continue  # seen after the list was read: not a removal the list can tell about
                if present.get(keys.object_key(self.info, ns, name)) != held.create_revision:
                    await self._release(held.service)

    async def _release(self, svc: dict[str, Any]) -> None:
        key = (owner_of(svc).namespace, owner_of(svc).name)
        held = self.known.get(key)
        if held is not None and owner_of(held.service) == owner_of(svc):
            del self.known[key]
        await self.allocator.release_service(svc)

    def remember_stored(self, svc: dict[str, Any], created: bool) -> None:
        """A Service this apiserver just wrote (before the watch reports it)."""
        try:
            revision = int((svc.get("metadata") or {}).get("resourceVersion") or 0)
        except ValueError:
            return
        o = owner_of(svc)
        held = self.known.get((o.namespace, o.name))
        if created:
            if held is None or held.mod_revision < revision:
                self.known[(o.namespace, o.name)] = _Held(svc, revision, revision)
        elif held is not None and owner_of(held.service) == o and held.mod_revision < revision:
            self.known[(o.namespace, o.name)] = _Held(svc, held.create_revision, revision)

    def _remember(self, kv: KeyValue) -> None:
        try:
            svc = codec.decode(kv)
        except ValueError:
            return
        o = owner_of(svc)
        held = self.known.get((o.namespace, o.name))
        if held is None or held.mod_revision < kv.mod_revision:
            self.known[(o.namespace, o.name)] = _Held(svc, kv.create_revision, kv.mod_revision)

    async def _watch(self, revision: int) -> None:
        while True:
            try:
                watch = self.store.watch(keys.resource_prefix(self.info), revision)
                try:
                    async for event in watch:
                        revision = event.revision
                        if event.type == EventType.DELETE:
                            try:
                                removed = codec.decode(event.kv)
                            except ValueError:
                                continue
                            async with self._releasing:
                                await self._release(removed)
                        else:
                            self._remember(event.kv)
                finally:
                    await watch.close()
            except asyncio.CancelledError:
                raise
            except CompactedError:
                revision = await self._repair_logged(revision)
            except (StoreError, OSError) as e:
                log.warning("service allocation watch failed (retrying): %s", e)
                await self.clock.sleep(1.0)

    async def _repair_periodically(self) -> None:
        while True:
            await self.clock.sleep(self.repair_interval)
            await self._repair_logged(0)

    async def _repair_logged(self, fallback: int) -> int:
        try:
            return await self.repair()
        except StoreError as e:
            log.warning("service allocation repair failed: %s", e)
            await self.clock.sleep(1.0)
            return fallback

    # -- repair --------------------------------------------------------------------------------

    async def repair(self) -> int:
        """Re-mark what Services hold, release leaks; returns the revision the Services were read at."""
        services: list[dict[str, Any]] = []
        known: dict[tuple[str, str], _Held] = {}
        start_after, revision = "", 0
        while True:
            page = await self.store.list(keys.resource_prefix(self.info), revision=revision, limit=1000,
                                         start_after=start_after)
            revision = page.revision
            for kv in page.items:
                try:
                    svc = codec.decode(kv)
                except ValueError:
                    continue
                services.append(svc)
                o = owner_of(svc)
                known[(o.namespace, o.name)] = _Held(svc, kv.create_revision, kv.mod_revision)
            if not page.more or not page.items:
                break
            start_after = page.items[-1].key
        self.known = known
        await self._repair_records(await self.allocator.ip_records.list(), self.allocator.ip_records,
                                   self._wanted_ips(services))
        await self._repair_records(await self.allocator.port_records.list(), self.allocator.port_records,
                                   self._wanted_ports(services))
        return revision

    def _wanted_ips(self, services: list[dict[str, Any]]) -> dict[Any, Owner]:
        wanted: dict[Any, Owner] = {}
        for svc in services:
            for ip in cluster_ips_of(svc.get("spec") or {}):
                name = canonical_ip(ip)
                if name and any(r.contains(name) for r in self.allocator.cidrs):
                    wanted.setdefault(name, owner_of(svc))
        return wanted

    def _wanted_ports(self, services: list[dict[str, Any]]) -> dict[Any, Owner]:
        wanted: dict[Any, Owner] = {}
        for svc in services:
            for port in node_ports_of(svc.get("spec") or {}):
                if self.allocator.node_port_range.contains(port):
                    wanted.setdefault(port, owner_of(svc))
        return wanted

    async def _repair_records(self, records: list[Record], store_records: Records,
                              wanted: dict[Any, Owner]) -> None:
        by_slot = {r.slot: r for r in records}
        for slot, owner in wanted.items():
            record = by_slot.get(slot)
            if record is None:
                if await store_records.claim(slot, owner):
                    log.info("repaired the allocation of %s for service %s", slot, owner)
            elif record.owner is not None and (record.owner.namespace, record.owner.name) != \
                    (owner.namespace, owner.name):
                log.warning("%s is held by service %s and also used by service %s", slot, record.owner, owner)
        cutoff = datetime.now(UTC) - timedelta(seconds=self.leak_grace)
        for record in records:
            if not record.managed or record.created > cutoff:
                continue  # not ours, or maybe a create still in flight
            owner = wanted.get(record.slot)
            if owner is not None and record.owner is not None and \
                    (owner.namespace, owner.name) == (record.owner.namespace, record.owner.name):
                continue
            if owner is not None and record.owner is None:
                continue
            if await store_records.remove(record):
                log.info("released leaked allocation %s (its service %s is gone)", record.slot, record.owner)
