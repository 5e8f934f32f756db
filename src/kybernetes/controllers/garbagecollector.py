"""The garbage collector: objects whose owners are gone go too (Kubernetes' garbagecollector).

Every object with metadata.ownerReferences is a dependent; its owners are found by (group, kind,
namespace, name) in the informer caches and count only if their uid matches. One informer per
resource that can be listed, watched and deleted (the built-in kinds at start, then whatever
discovery adds, such as custom resources, every ``DISCOVERY_PERIOD`` seconds) feeds the work queue
with keys ``"<resource>.<group>|<namespace>/<name>"``; the caches' owner-uid indexes are the graph.

    dependent, no owner deleting   every owner absent (cache miss confirmed by a live GET, or a
                                   uid mismatch)?  delete it (Background, or as its own orphan /
                                   foregroundDeletion finalizer asks).  Some owners live?  drop the
                                   references to the absent ones and keep it.
    owner deleting, Foreground     (foregroundDeletion finalizer) its dependents see the owner
                                   "waiting for dependents" and delete themselves (in the
                                   Foreground if they have dependents of their own); the owner
                                   drops the finalizer once no dependent with blockOwnerDeletion
                                   is left, and the apiserver removes it.
    owner deleting, Orphan         (orphan finalizer) remove the references to it from every
                                   dependent, then drop the finalizer.
    owner deleting, Background     nothing until it is gone; then its dependents are queued and
                                   find it absent.

Before deleting or patching, the dependent is read again from the server, so a stale cache never
deletes an object whose owner was just re-created.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.indexer import BY_OWNER_UID, object_key, split_key
from kybernetes.client.informer import Informer
from kybernetes.client.resource import Resource
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.garbagecollector_discovery import ApiResource, builtin_resources, discover
from kybernetes.controllers.garbagecollector_refs import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    blocks_owner,
    is_deleting,
    is_deleting_dependents,
    meta_of,
    owner_refs,
    propagation_for,
    ref_group,
    remove_finalizer_patch,
    remove_refs_patch,
    uid_of,
    unblock_refs_patch,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DISCOVERY_PERIOD = 30.0
UNKNOWN_OWNER_RETRY = 60.0
# Never collected: events are many, short-lived, and owned by nobody (as upstream's defaults).
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})


@dataclass
class Monitor:
    api: ApiResource
    informer: Informer

    @property
    def resource(self) -> Resource:
        return self.api.resource


class _OwnerState:
    SOLID = "solid"
    DANGLING = "dangling"
    WAITING = "waiting"  # the owner is being deleted in the foreground
    UNKNOWN = "unknown"  # a kind nobody serves (yet): never a reason to delete


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.monitors: dict[str, Monitor] = {}  # group resource -> monitor
        self.kinds: dict[tuple[str, str], str] = {}  # (group, kind) -> group resource
        self.uids: dict[str, str] = {}  # uid -> queue key of every object seen
        self.discovery_period = float(ctx.options.get("gc_discovery_period", DISCOVERY_PERIOD))
        for api in builtin_resources():
            self.add_monitor(api)

    # -- monitors --------------------------------------------------------------------------------

    def add_monitor(self, api: ApiResource) -> bool:
        r = api.resource
        gr = api.group_resource
        if gr in self.monitors or (r.group, r.resource) in IGNORED:
            return False
        if not api.supports("list", "watch", "delete"):
            return False
        informer = self.ctx.informer(r)
        self.monitors[gr] = Monitor(api, informer)
        if r.kind:
            self.kinds.setdefault((r.group, r.kind), gr)
        informer.add_event_handler(on_add=lambda obj: self._on_change(gr, obj, None),
                                   on_update=lambda old, new: self._on_change(gr, new, old),
                                   on_delete=lambda obj: self._on_delete(gr, obj))
        return True

    async def resync_monitors(self) -> int:
        """Add monitors for resources discovery lists and we do not watch yet (custom resources)."""
        found = await discover(self.client)
        added = sum(1 for api in found.resources if self.add_monitor(api))
        if added:
            self.ctx.informers.start()
        return added

    def synced(self) -> bool:
        return all(m.informer.has_synced() for m in self.monitors.values())

    async def run(self, workers: int | None = None) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._discovery_loop(), name="gc discovery")
            tg.create_task(super().run(workers), name="gc workers")

    async def _discovery_loop(self) -> None:
        while True:
            try:
                await self.resync_monitors()
            except ApiError as e:
                log.warning("garbage collector: discovery failed: %s", e)
            await self.clock.sleep(self.discovery_period)

    # -- events to keys ----------------------------------------------------------------------------

    @staticmethod
    def key(gr: str, obj: Obj) -> str:
        return f"{gr}|{object_key(obj)}"

    def _on_change(self, gr: str, obj: Obj, old: Obj | None) -> None:
        key = self.key(gr, obj)
        uid = uid_of(obj)
        if uid:
            self.uids[uid] = key
        if owner_refs(obj) or is_deleting(obj):
            self.enqueue_key(key)
        if old is not None:
            self._wake_waiting_owners(old)
        self._wake_waiting_owners(obj)

    def _on_delete(self, gr: str, obj: Obj) -> None:
        uid = uid_of(obj)
        self.uids.pop(uid, None)
        for key in self.dependent_keys(uid):
            self.enqueue_key(key)
        self._wake_waiting_owners(obj)

    def _wake_waiting_owners(self, obj: Obj) -> None:
        """An owner deleting in the foreground re-checks when one of its dependents changes."""
        for ref in owner_refs(obj):
            key = self.uids.get(ref["uid"])
            if key is None:
                continue
            owner = self.cached(key)
            if owner is not None and is_deleting_dependents(owner):
                self.enqueue_key(key)

    # -- cache reads -------------------------------------------------------------------------------

    def cached(self, key: str) -> Obj | None:
        gr, _, okey = key.partition("|")
        monitor = self.monitors.get(gr)
        return monitor.informer.get(okey) if monitor else None

    def dependents(self, owner_uid: str) -> list[tuple[str, Obj]]:
        """(key, object) of every cached object with an ownerReference to ``owner_uid``."""
        out = []
        for gr, monitor in self.monitors.items():
            for obj in _by_owner(monitor.informer, owner_uid):
                out.append((self.key(gr, obj), obj))
        return out

    def dependent_keys(self, owner_uid: str) -> list[str]:
        return [key for key, _ in self.dependents(owner_uid)]

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        gr, sep, okey = key.partition("|")
        monitor = self.monitors.get(gr)
        if not sep or monitor is None:
            return
        obj = monitor.informer.get(okey)
        if obj is None:
            return  # gone: its dependents were queued by the delete event
        if is_deleting(obj):
            fins = meta_of(obj).get("finalizers") or []
            if ORPHAN_FINALIZER in fins:
                await self._orphan_dependents(monitor, obj)
            elif FOREGROUND_FINALIZER in fins:
                await self._finish_foreground(key, monitor, obj)
            return  # "being deleted" is a one-way trip: wait for the final delete event
        if owner_refs(obj):
            await self._collect_if_orphaned(key, monitor, obj)

    async def _collect_if_orphaned(self, key: str, monitor: Monitor, cached: Obj) -> None:
        states = [self._owner_state_cached(ref, cached, monitor) for ref in owner_refs(cached)]
        if all(state == _OwnerState.SOLID for state, _ in states):
            return
        if any(state == _OwnerState.UNKNOWN for state, _ in states) and \
                not any(state in (_OwnerState.DANGLING, _OwnerState.WAITING) for state, _ in states):
            self.requeue_after(key, UNKNOWN_OWNER_RETRY)
            return
        # Something to do: decide again on the latest object and live reads of the owners.
        r = monitor.resource
        namespace, name = split_key(key.partition("|")[2])
        latest = await self.client.get_or_none(r, name, namespace or None)
        if latest is None or uid_of(latest) != uid_of(cached) or is_deleting(latest):
            return
        solid, dangling, waiting = [], [], []
        for ref in owner_refs(latest):
            state = await self._owner_state_live(ref, latest, monitor)
            {_OwnerState.SOLID: solid, _OwnerState.UNKNOWN: solid, _OwnerState.DANGLING: dangling,
             _OwnerState.WAITING: waiting}[state].append(ref)
        if solid:
            drop = {ref["uid"] for ref in dangling + waiting}
            if drop:
                await self._patch(r, latest, remove_refs_patch(latest, drop))
            return
        uid = uid_of(latest)
        if waiting and self.dependents(uid):
            if any(is_deleting_dependents(dep) for _, dep in self.dependents(uid)):
                # A dependent that itself waits for its dependents may be waiting for us: unblock
                # our references so the two cannot wait on each other forever.
                await self._patch(r, latest, unblock_refs_patch(latest, {ref["uid"] for ref in waiting}))
            await self._delete(r, latest, "Foreground")
            return
        await self._delete(r, latest, propagation_for(latest))

    def _resolve(self, ref: Obj, dependent: Obj, dep_monitor: Monitor) -> tuple[Monitor | None, str | None, bool]:
        """(owner's monitor, owner's namespace, valid). A cluster-scoped dependent cannot have a
        namespaced owner: such a reference is treated as absent, as upstream does."""
        gr = self.kinds.get((ref_group(ref), str(ref.get("kind") or "")))
        monitor = self.monitors.get(gr) if gr else None
        if monitor is None:
            return None, None, True
        if not monitor.resource.namespaced:
            return monitor, None, True
        if not dep_monitor.resource.namespaced:
            return monitor, None, False
        return monitor, meta_of(dependent).get("namespace"), True

    def _state_of_owner(self, owner: Obj | None, ref: Obj) -> str:
        if owner is None or uid_of(owner) != ref.get("uid"):
            return _OwnerState.DANGLING
        return _OwnerState.WAITING if is_deleting_dependents(owner) else _OwnerState.SOLID

    def _owner_state_cached(self, ref: Obj, dependent: Obj, dep_monitor: Monitor) -> tuple[str, Obj | None]:
        monitor, namespace, valid = self._resolve(ref, dependent, dep_monitor)
        if monitor is None:
            return _OwnerState.UNKNOWN, None
        if not valid:
            return _OwnerState.DANGLING, None
        owner = monitor.informer.get_by_name(namespace, str(ref.get("name") or ""))
        return self._state_of_owner(owner, ref), owner

    async def _owner_state_live(self, ref: Obj, dependent: Obj, dep_monitor: Monitor) -> str:
        monitor, namespace, valid = self._resolve(ref, dependent, dep_monitor)
        if monitor is None:
            return _OwnerState.UNKNOWN
        if not valid:
            await self.events.warning(dependent, "OwnerRefInvalidNamespace",
                                      f"ownerRef {_describe(ref)} does not resolve to a valid object: "
                                      "a cluster-scoped object cannot have a namespaced owner")
            return _OwnerState.DANGLING
        name = str(ref.get("name") or "")
        owner = monitor.informer.get_by_name(namespace, name)
        if owner is None or uid_of(owner) != ref.get("uid"):
            if not name:
                return _OwnerState.DANGLING
            # The cache may lag (an owner created a moment ago): ask the server before deciding.
            owner = await self.client.get_or_none(monitor.resource, name, namespace)
        return self._state_of_owner(owner, ref)

    async def _finish_foreground(self, key: str, monitor: Monitor, owner: Obj) -> None:
        if not self.synced():
            raise RuntimeError("waiting for every informer to sync before finishing a foreground deletion")
        uid = uid_of(owner)
        deps = self.dependents(uid)
        for dep_key, dep in deps:
            if not is_deleting(dep):
                self.enqueue_key(dep_key)  # it will find us waiting and delete itself
        if any(blocks_owner(dep, uid) for _, dep in deps):
            return  # the delete events of the blocking dependents queue us again
        await self._patch(monitor.resource, owner, remove_finalizer_patch(owner, FOREGROUND_FINALIZER))

    async def _orphan_dependents(self, monitor: Monitor, owner: Obj) -> None:
        if not self.synced():
            raise RuntimeError("waiting for every informer to sync before orphaning dependents")
        uid = uid_of(owner)
        for dep_key, dep in self.dependents(uid):
            dep_monitor = self.monitors[dep_key.partition("|")[0]]
            await self._patch(dep_monitor.resource, dep, remove_refs_patch(dep, {uid}))
        await self._patch(monitor.resource, owner, remove_finalizer_patch(owner, ORPHAN_FINALIZER))

    # -- writes ------------------------------------------------------------------------------------

    async def _patch(self, resource: Resource, obj: Obj, patch: Obj) -> None:
        m = meta_of(obj)
        try:
            await self.client.patch(resource, m["name"], patch, m.get("namespace"), patch_type="merge")
        except ApiError as e:
            if e.code != 404:  # gone: nothing left to change; 409 is retried by the caller's raise
                raise

    async def _delete(self, resource: Resource, obj: Obj, policy: str) -> None:
        m = meta_of(obj)
        log.info("garbage collector: deleting %s %s/%s (%s)", resource.resource, m.get("namespace") or "",
                 m.get("name"), policy)
        try:
            await self.client.delete(resource, m["name"], m.get("namespace"), propagation_policy=policy,
                                     preconditions={"uid": uid_of(obj)})
        except ApiError as e:
            if e.code not in (404, 409):  # gone, or a different object of that name by now
                raise


def _by_owner(informer: Informer, owner_uid: str) -> list[Obj]:
    try:
        return informer.indexer.by_index(BY_OWNER_UID, owner_uid)
    except KeyError:  # an informer made without the default indexes
        return [o for o in informer.indexer.list()
                if any(r.get("uid") == owner_uid for r in owner_refs(o))]


def _describe(ref: Obj) -> str:
    return f"[{ref.get('apiVersion')}/{ref.get('kind')}, namespace: , name: {ref.get('name')}, uid: {ref.get('uid')}]"
