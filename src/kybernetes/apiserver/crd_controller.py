"""The CRD controller inside the apiserver: serves what CustomResourceDefinitions define.

    store ──watch /registry/apiextensions.k8s.io/customresourcedefinitions/──► queue of CRD names
                                                                                  │ one worker
    reconcile(name):                                                              ▼
      CRD gone              stop serving it (registry, OpenAPI, open watches)
      CRD deleting          Terminating condition; refuse creates; delete every custom object;
                            once none is left, stop serving and drop the cleanup finalizer
                            (the object store then removes the CRD)
      otherwise             names (crd_names.py): NamesAccepted, Established, acceptedNames,
                            storedVersions; once established, register one resource per served
                            version in the registry (discovery, routing, lists, watch follow) and
                            publish each version's schema in /openapi/v3

Like the real apiextensions controllers, it is level-triggered: reconcile re-reads the CRD and
does whatever is still missing, so a restart, a second apiserver on the same store or a lost race
all converge. ``start`` reconciles every stored CRD before returning, so a restarted server serves
its custom resources before it reports ready; then the watch takes over. Every apiserver of a
cluster runs one (writes are conditional and idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver import deletion, keys
from kybernetes.apiserver.crd_names import (
    TERMINATING,
    UsedNames,
    desired_status,
    is_established,
    set_condition,
)
from kybernetes.apiserver.crd_resource import (
    CRD_GROUP,
    CRD_RESOURCE,
    CustomResourceInfo,
    CustomResourceState,
    infos_for,
    storage_version,
    version_priority,
)
from kybernetes.apiserver.crd_strategy import CLEANUP_FINALIZER
from kybernetes.apiserver.listing import ListOptions, list_objects
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.store import CompactedError, StoreError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


class CrdController:
    def __init__(self, objects: ObjectStore, registry: Registry, *, openapi: Any = None,
                 watch_hub: Any = None, retry_seconds: float = RETRY_SECONDS):
        self.objects = objects
        self.registry = registry
        self.openapi = openapi
        self.watch_hub = watch_hub
        self.retry_seconds = retry_seconds
        self.served: dict[str, list[CustomResourceInfo]] = {}  # CRD name -> registered infos
        self.states: dict[str, CustomResourceState] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task] = []
        self._timers: set[asyncio.TimerHandle] = set()

    @property
    def crd_info(self) -> ResourceInfo:
        info = self.registry.get(CRD_GROUP, "v1", CRD_RESOURCE)
        if info is None:
            raise RuntimeError("the registry has no apiextensions.k8s.io/v1 customresourcedefinitions")
        return info

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve every stored CRD, then follow changes."""
        revision = await self.sync_all()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow(revision), name="crd-controller watch"),
                       loop.create_task(self._work(), name="crd-controller worker")]

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def sync_all(self) -> int:
        """Reconcile every stored CRD now; the store revision the list was read at."""
        result = await self.objects.store.list(keys.resource_prefix(self.crd_info))
        for kv in result.items:
            name = kv.key.rsplit("/", 1)[-1]
            try:
                await self.reconcile(name)
            except Exception:  # one bad CRD must not keep the server from starting
                log.exception("reconciling CRD %s failed; will retry", name)
                self.enqueue(name, self.retry_seconds)
        return result.revision

    async def _follow(self, revision: int) -> None:
        prefix = keys.resource_prefix(self.crd_info)
        while True:
            watch = self.objects.store.watch(prefix, revision)
            try:
                async for event in watch:
                    revision = event.revision
                    self.enqueue(event.kv.key.rsplit("/", 1)[-1])
                    for other in self._waiting_for_names():
                        self.enqueue(other)
            except CompactedError:
                revision = await self.sync_all()  # missed events: look at everything again
            except StoreError as e:
                log.warning("CRD watch failed (%s); watching again", e)
            finally:
                await watch.close()
            await asyncio.sleep(self.retry_seconds)  # the watch ended: open it again, gently

    def _waiting_for_names(self) -> list[str]:
        return [name for name, infos in self.served.items() if not infos]

    def enqueue(self, name: str, delay: float = 0.0) -> None:
        if delay > 0:
            loop = asyncio.get_running_loop()
            timer: asyncio.TimerHandle

            def fire() -> None:
                self._timers.discard(timer)
                self.enqueue(name)

            timer = loop.call_later(delay, fire)
            self._timers.add(timer)
            return
        if name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    async def _work(self) -> None:
        while True:
            name = await self._queue.get()
            self._queued.discard(name)
            try:
                again = await self.reconcile(name)
                self._failures.pop(name, None)
                if again:
                    self.enqueue(name, self.retry_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                failures = self._failures[name] = self._failures.get(name, 0) + 1
                delay = min(self.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
                log.warning("reconciling CRD %s failed (%s); retrying in %.1fs", name, e, delay)
                self.enqueue(name, delay)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, name: str) -> bool:
        """Bring serving and status in line with the stored CRD. True: look again later."""
        crd = await self.objects.get_or_none(self.crd_info, None, name)
        if crd is None:
            self._unserve(name)
            self.states.pop(name, None)
            return False
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            return await self._finalize(crd)
        used = await self._used_names(crd)
        status = desired_status(crd, used, storage_version(crd))
        if is_established({"status": status}):
            state = self.states.setdefault(name, CustomResourceState(name))
            self._serve(name, infos_for(crd, status.get("acceptedNames") or {}, state))
        else:
            self._unserve(name)
            self.served[name] = []  # known, waiting for its names
        if status != (crd.get("status") or {}):
            await self._write_status(name, lambda _old: status)
        if CLEANUP_FINALIZER not in ((crd.get("metadata") or {}).get("finalizers") or []):
            await self._update(name, _add_finalizer)
        return False

    async def _used_names(self, crd: dict[str, Any]) -> UsedNames:
        group = (crd.get("spec") or {}).get("group")
        me = (crd.get("metadata") or {}).get("name")
        used = UsedNames()
        page = await list_objects(self.objects.store, self.crd_info, None, ListOptions())
        for other in page.items:
            if (other.get("spec") or {}).get("group") == group and (other.get("metadata") or {}).get("name") != me:
                used.add_crd(other)
        for info in self.registry.resources(group):
            if not isinstance(info, CustomResourceInfo):  # built-in resources of the group
                used.resources.update({info.resource, info.singular, *info.short_names})
                used.kinds.update({info.kind, info.list_kind})
        return used

    async def _finalize(self, crd: dict[str, Any]) -> bool:
        name = crd["metadata"]["name"]
        state = self.states.setdefault(name, CustomResourceState(name))
        state.terminating = True
        infos = self.served.get(name) or []
        if not infos and is_established(crd):  # e.g. after a restart: keep serving while emptying
            infos = infos_for(crd, (crd.get("status") or {}).get("acceptedNames") or {}, state)
            self._serve(name, infos)
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            self._unserve(name)
            return False
        await self._write_status(name, lambda old: _terminating(old, "InstanceDeletionInProgress",
                                                                 "CustomResource deletion is in progress"))
        if infos and not await self._delete_all(infos[0]):
            return True  # objects with finalizers are still going away
        self._unserve(name)
        await self._write_status(name, lambda old: _terminating(old, "InstanceDeletionCompleted",
                                                                 "removed all instances"))
        await self._update(name, _remove_finalizer)
        return False

    async def _delete_all(self, info: CustomResourceInfo) -> bool:
        """Delete every object of the resource; True once none is left."""
        page = await list_objects(self.objects.store, info, None, ListOptions())
        for obj in page.items:
            m = obj.get("metadata") or {}
            if m.get("deletionTimestamp"):
                continue
            try:
                await deletion.delete(self.objects, info, m.get("namespace"), m.get("name", ""),
                                      deletion.DeleteOptions())
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        return await self.objects.store.count(keys.resource_prefix(info)) == 0

    async def _write_status(self, name: str, change) -> None:
        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            old["status"] = change(meta.deep_copy(old.get("status") or {}))
            old["metadata"].pop("resourceVersion", None)
            return old

        await self._update(name, mutate, subresource="status")

    async def _update(self, name: str, mutate, subresource: str = "") -> None:
        try:
            await self.objects.update(self.crd_info, None, name, mutate, subresource=subresource)
        except errors.ApiError as e:
            if e.code != 404:  # gone meanwhile: the next event says so
                raise

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, name: str, infos: list[CustomResourceInfo]) -> None:
        old = self.served.get(name) or []
        if [i.fingerprint for i in old] == [i.fingerprint for i in infos] and \
                all(self.registry.get(i.group, i.version, i.resource) is i for i in old):
            return
        for info in old:
            self._unregister(info)
        for info in infos:
            current = self.registry.get(info.group, info.version, info.resource)
            if current is not None and not isinstance(current, CustomResourceInfo):
                continue  # never shadow a built-in resource
            self.registry.register(info)
            if self.openapi is not None:
                self.openapi.set_custom_schema(info.group, info.version, info.kind, info.schema)
        group = self.registry.group(infos[0].group) if infos else None
        if group is not None:
            group.versions.sort(key=version_priority)
        self.served[name] = infos
        log.info("serving %s (%s)", name, ", ".join(i.version for i in infos))

    def _unserve(self, name: str) -> None:
        infos = self.served.pop(name, None) or []
        for info in infos:
            self._unregister(info)
        if infos and self.watch_hub is not None:
            for watcher in list(self.watch_hub):
                if isinstance(watcher.info, CustomResourceInfo) and watcher.info.crd_name == name:
                    watcher.finish("resource removed")

    def _unregister(self, info: CustomResourceInfo) -> None:
        if self.registry.get(info.group, info.version, info.resource) is info:
            self.registry.unregister(info.group, info.version, info.resource)
        if self.openapi is not None:
            self.openapi.set_custom_schema(info.group, info.version, info.kind, None)


def _terminating(status: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    set_condition(status, TERMINATING, "True", reason, message)
    return status


def _add_finalizer(crd: dict[str, Any]) -> dict[str, Any]:
    m = crd["metadata"]
    m.pop("resourceVersion", None)
    if not m.get("deletionTimestamp") and CLEANUP_FINALIZER not in (m.get("finalizers") or []):
        m["finalizers"] = [*(m.get("finalizers") or []), CLEANUP_FINALIZER]
    return crd


def _remove_finalizer(crd: dict[str, Any]) -> dict[str, Any]:
    m = crd["metadata"]
    m.pop("resourceVersion", None)
    m["finalizers"] = [f for f in m.get("finalizers") or [] if f != CLEANUP_FINALIZER]
    if not m["finalizers"]:
        del m["finalizers"]
    return crd


CRD_CONTROLLER_KEY = web.AppKey("crd_controller", CrdController)


def setup_crds(app: web.Application, objects: ObjectStore, registry: Registry, watch_hub: Any = None,
               openapi: Any = None) -> CrdController:
    """Run a CrdController with the app: every stored CRD is served before startup finishes."""
    controller = CrdController(objects, registry, openapi=openapi, watch_hub=watch_hub)
    app[CRD_CONTROLLER_KEY] = controller

    async def on_startup(app: web.Application) -> None:
        await controller.start()

    async def on_shutdown(app: web.Application) -> None:
        await controller.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return controller
