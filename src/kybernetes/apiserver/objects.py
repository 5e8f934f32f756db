"""The generic object store: create, get, update and patch of any kind, on top of the Store.

This mirrors Kubernetes' generic registry store. Every kind goes through the same steps; what
differs per kind is in strategies.py, defaulting and validation in kybernetes.api:

    create:  reset status -> server-owned metadata (uid, creationTimestamp, generation)
             -> generateName -> defaults -> mutating admission -> validate (422)
             -> validating admission -> store.create
    update:  read -> the client's change (PUT body or patch of the stored object)
             -> precondition on metadata.resourceVersion (409) -> keep server-owned metadata
             -> main/status split -> defaults -> mutating admission -> generation -> validate
             -> validating admission
             -> no-op detection -> store.update at the revision read, retried on conflict when
                the client gave no resourceVersion (Kubernetes' GuaranteedUpdate)

An update that leaves a deleting object (deletionTimestamp set) without finalizers deletes it:
that is how finalizers complete a deletion. Deletion itself is in deletion.py.

The object's resourceVersion is always the store's mod_revision (see codec.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api import defaults, errors, meta, validation
from kybernetes.api.errors import ApiError
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver import codec, crd_strategy, keys, strategies
from kybernetes.apiserver.admission import CREATE, UPDATE, AdmissionChain, Attributes
from kybernetes.apiserver.apply_schema import track_options
from kybernetes.apiserver.managed_create import track_create
from kybernetes.apiserver.managed_update import remember, track_update_fast
from kybernetes.apiserver.store_errors import translate
from kybernetes.store import ConflictError, KeyExistsError, KeyNotFoundError, Store, StoreError

# generateName collisions are retried, as the real server does since 1.30.
_GENERATE_NAME_ATTEMPTS = 8
# A GuaranteedUpdate gives up after this many lost races (each one means someone else wrote).
_UPDATE_ATTEMPTS = 16

# Metadata only the server sets; kept from the stored object on every update.
_SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                 "generation", "selfLink")


@dataclass
class WriteContext:
    user: Any = None
    dry_run: bool = False
    # The field manager of a client's write (managedFields are kept for it); "" for the server's
    # own writes, which leave managedFields alone. ``applied``: server-side apply already set them.
    field_manager: str = ""
    applied: bool = False
    # The subresource a write came through when it changes the parent (scale), for managedFields.
    track_subresource: str = ""


def _track(info: ResourceInfo, old: dict[str, Any] | None, new: dict[str, Any], ctx: WriteContext,
           subresource: str) -> None:
    if ctx.field_manager and not ctx.applied and subresource != "binding":
        opts = track_options(info, subresource or ctx.track_subresource)
        if old is None:
            track_create(new, ctx.field_manager, opts)  # the same result, without the general diff
            remember(new)
        else:
            track_update_fast(old, new, ctx.field_manager, opts)  # track_update's result, cheaper


Mutation = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]


def set_type_meta(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """kind and apiVersion of the version the client asked for, first, as the real server prints."""
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    # metadata third: listing.py splices resourceVersion into stored bytes of this shape.
    out = {"kind": info.kind, "apiVersion": info.group_version, "metadata": obj.pop("metadata", None) or {}}
    out.update(obj)
    return out


def raise_if_invalid(info: ResourceInfo, obj: dict[str, Any], causes: list) -> None:
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(info.kind, name, causes, group=info.group)


class ObjectStore:
    def __init__(self, store: Store, registry: Registry, admission: AdmissionChain | None = None):
        self.store = store
        self.registry = registry
        self.admission = admission or AdmissionChain()
        # Called with (namespace) after an object in that namespace is removed for good; the
        # namespace lifecycle uses it to finish terminating namespaces (see deletion.py).
        self.on_removed: Callable[[ResourceInfo, str | None], Awaitable[None]] | None = None
        # Namespaces being emptied inline right now: removals in them skip the emptiness check,
        # which the emptying does once at its end.
        self.emptying_namespaces: set[str] = set()
        # False when the namespace controller empties Terminating namespaces (deletion.py).
        self.inline_namespace_cleanup = True
        # Kinds whose writes claim things in the store, by (group, resource): Services' cluster IPs
        # and node ports (service_alloc.py, installed by the server). Claims are made after
        # validation, committed after the store write and reverted when it fails.
        self.allocators: dict[tuple[str, str], Any] = {}
        # The server's watch cache (watch_cache.py), when it has one: admission reads from it.
        self.watch_cache: Any = None

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, info: ResourceInfo, namespace: str | None, name: str):
        """(object, KeyValue) as stored, or 404."""
        key = keys.object_key(info, namespace, name)
        try:
            kv = await self.store.get(key)
        except StoreError as e:
            raise translate(e, info, name) from None
        if kv is None:
            raise errors.not_found(info.resource, name, info.group)
        return codec.decode(kv), kv

    async def get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        obj, _ = await self.read(info, namespace, name)
        return crd_strategy.on_read(info, set_type_meta(info, obj))

    async def get_or_none(self, info: ResourceInfo, namespace: str | None, name: str):
        try:
            return await self.get(info, namespace, name)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    # -- create --------------------------------------------------------------------------------

    async def create(self, info: ResourceInfo, namespace: str | None, obj: dict[str, Any],
                     ctx: WriteContext | None = None) -> dict[str, Any]:
        ctx = ctx or WriteContext()
        m = meta.object_meta(obj)
        if m.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        strategies.prepare_for_create(info, obj)
        for field_name in _SERVER_OWNED:
            m.pop(field_name, None)
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.now_rfc3339()
        if info.has_generation:
            m["generation"] = 1
        if info.namespaced:
            m["namespace"] = namespace
        generated = not m.get("name") and bool(m.get("generateName"))
        if generated:
            m["name"] = meta.generate_name(str(m["generateName"]))
        obj = set_type_meta(info, obj)
        allocator = self.allocators.get((info.group, info.resource))
        defaults.apply_defaults(info, obj)
        strategies.complete_create(info, obj)
        _track(info, None, obj, ctx, "")
        name = obj["metadata"].get("name") or ""
        attrs = Attributes(CREATE, info, namespace, name, obj, user=ctx.user, dry_run=ctx.dry_run)
        pinned = _pinned_metadata(obj)
        await self.admission.admit(attrs)
        if attrs.mutated:
            obj = _after_mutation(info, attrs.obj, pinned)
            strategies.prepare_for_create(info, obj)
            attrs.obj = obj
        crd_strategy.prepare(info, obj, None)  # custom resources: prune, default; CRDs: finalizer
        raise_if_invalid(info, obj, validation.validate_create(info, obj) + crd_strategy.validate(info, obj, None))
        txn = await allocator.allocate_create(obj, dry_run=ctx.dry_run) if allocator else None
        stored = False
        try:
            await self.admission.validate(attrs)
            if ctx.dry_run:
                return obj
            attempts = _GENERATE_NAME_ATTEMPTS if generated else 1
            for attempt in range(attempts):
                name = obj["metadata"]["name"]
                try:
                    rev = await self.store.create(keys.object_key(info, namespace, name), codec.encode(obj))
                except KeyExistsError as e:
                    if attempt + 1 < attempts:
                        obj["metadata"]["name"] = meta.generate_name(str(obj["metadata"]["generateName"]))
                        if txn is not None:  # the claims name the object: claim again under the new name
                            await txn.revert()
                            txn = await allocator.allocate_create(obj)
                        continue
                    raise translate(e, info, name) from None
                except StoreError as e:
                    raise translate(e, info, name) from None
                stored = True
                obj["metadata"]["resourceVersion"] = str(rev)
                return obj
            raise AssertionError("unreachable")
        finally:
            if txn is not None:
                await (txn.commit() if stored else txn.revert())

    # -- update --------------------------------------------------------------------------------

    async def update(self, info: ResourceInfo, namespace: str | None, name: str,
                     mutate: Mutation, ctx: WriteContext | None = None, *,
                     subresource: str = "", create_if_missing: dict[str, Any] | None = None,
                     cached_read: bool = False) -> tuple[dict[str, Any], bool]:
        """Apply ``mutate(stored) -> wanted`` and store the result (Kubernetes' GuaranteedUpdate).

        ``wanted.metadata.resourceVersion``, when set, must be the stored one (409 otherwise);
        when unset the update is unconditional and retried on races. Returns (object, created).

        ``cached_read``: the first attempt may start from the watch cache's copy of the object
        instead of a store read, as upstream starts from its cache. A stale copy is never written
        over (the store write still expects the revision read, and a lost race is retried from
        the store), and any other outcome of an attempt on the copy (a failed precondition,
        validation or admission, no change) stands only once a store read confirms the copy was
        the current object; otherwise the attempt is made again from the store, as a lost race
        is. So the cache saves the store read of every update that goes through. ``mutate``
        must give a fresh object on every call (it may be called again).
        """
        ctx = ctx or WriteContext()
        key = keys.object_key(info, namespace, name)
        allocator = None if subresource else self.allocators.get((info.group, info.resource))
        use_cache = cached_read and not ctx.dry_run and allocator is None and self.watch_cache is not None
        for _ in range(_UPDATE_ATTEMPTS):
            kv = await self._cached(info, key) if use_cache else None
            from_cache, use_cache = kv is not None, False
            if kv is None:
                try:
                    kv = await self.store.get(key)
                except StoreError as e:
                    raise translate(e, info, name) from None
            if kv is None:
                if create_if_missing is not None and not subresource:
                    return await self.create(info, namespace, create_if_missing, ctx), True
                raise errors.not_found(info.resource, name, info.group)
            old = codec.decode(kv)
            try:
                precondition, new = await self._updated(info, namespace, name, mutate, ctx, subresource, old, kv)
            except ApiError:
                if from_cache and not await self._still_current(info, name, key, kv):
                    continue  # decided on a stale copy: decide again on the store's
                raise
            txn = await allocator.allocate_update(new, old, dry_run=ctx.dry_run) if allocator else None
            stored = False
            try:
                new_bytes = codec.encode(new)
                if new_bytes == kv.value:
                    if from_cache and not await self._still_current(info, name, key, kv):
                        continue
                    # Nothing changed: no write, no new resourceVersion (as the real server).
                    return set_type_meta(info, old), False
                if ctx.dry_run:
                    new["metadata"]["resourceVersion"] = str(kv.mod_revision)
                    return new, False
                try:
                    if self._finalized(new):
                        rev, _ = await self.store.delete(key, kv.mod_revision)
                        new["metadata"]["resourceVersion"] = str(rev)
                        if self.on_removed is not None:
                            await self.on_removed(info, namespace)
                        return new, False
                    rev = await self.store.update(key, new_bytes, kv.mod_revision)
                except (ConflictError, KeyNotFoundError):
                    if precondition:  # (met by a stale copy, it is not met by the store)
                        raise errors.conflict(info.resource, name, info.group) from None
                    continue  # someone else wrote first: read again and re-apply the change
                except StoreError as e:
                    raise translate(e, info, name) from None
                stored = True
                new["metadata"]["resourceVersion"] = str(rev)
                return new, False
            finally:
                if txn is not None:
                    await (txn.commit() if stored else txn.revert())
        raise errors.conflict(info.resource, name, info.group,
                              "too many concurrent writers; please retry")

    async def _cached(self, info: ResourceInfo, key: str):
        """The watch cache's copy of the object at ``key`` (None: read the store). The resource's
        cache is started on its first update, as upstream caches every resource."""
        try:
            cache = await self.watch_cache.update_source(info)
        except StoreError:
            return None
        return None if cache is None else cache.items.get(key)

    async def _still_current(self, info: ResourceInfo, name: str, key: str, kv: Any) -> bool:
        try:
            current = await self.store.get(key)
        except StoreError as e:
            raise translate(e, info, name) from None
        return current is not None and current.mod_revision == kv.mod_revision

    async def _updated(self, info: ResourceInfo, namespace: str | None, name: str, mutate: Mutation,
                       ctx: WriteContext, subresource: str, old: dict[str, Any], kv: Any):
        """(the client's resourceVersion precondition, the object to store) for one attempt."""
        wanted = mutate(meta.deep_copy(old))
        if hasattr(wanted, "__await__"):
            wanted = await wanted
        wanted_meta = wanted.get("metadata") if isinstance(wanted, dict) else None
        wanted_meta = wanted_meta if isinstance(wanted_meta, dict) else {}
        precondition = wanted_meta.get("resourceVersion") or ""
        if precondition and precondition != str(kv.mod_revision):
            raise errors.conflict(info.resource, name, info.group)
        # A uid in the body is a precondition too: it may not name another incarnation.
        wanted_uid = wanted_meta.get("uid")
        stored_uid = (old.get("metadata") or {}).get("uid")
        if wanted_uid and stored_uid and wanted_uid != stored_uid:
            raise errors.conflict(info.resource, name, info.group,
                                  f"Precondition failed: UID in precondition: {wanted_uid}, "
                                  f"UID in object meta: {stored_uid}")
        return precondition, await self._prepare_update(info, namespace, name, wanted, old, ctx, subresource)

    @staticmethod
    def _finalized(obj: dict[str, Any]) -> bool:
        m = obj.get("metadata") or {}
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1" and (obj.get("spec") or {}).get(
                "finalizers"):
            return False  # a namespace also waits for its spec.finalizers (namespaces/finalize)
        return bool(m.get("deletionTimestamp")) and not m.get("finalizers")

    async def _prepare_update(self, info: ResourceInfo, namespace: str | None, name: str,
                              wanted: dict[str, Any], old: dict[str, Any], ctx: WriteContext,
                              subresource: str) -> dict[str, Any]:
        if not isinstance(wanted, dict):
            raise errors.bad_request("the updated object must be a JSON object")
        if subresource == "status":
            new = strategies.merge_status_update(wanted, old, info)
        elif subresource == "binding":
            new = wanted  # the binding changes spec.nodeName and status together
        else:
            new = wanted
            strategies.prepare_for_update(info, new, old)
        new = set_type_meta(info, new)
        m = meta.object_meta(new)
        old_m = old.get("metadata") or {}
        for field_name in _SERVER_OWNED:
            if field_name in old_m:
                m[field_name] = old_m[field_name]
            else:
                m.pop(field_name, None)
        m.pop("resourceVersion", None)
        if info.namespaced:
            m.setdefault("namespace", namespace)
        m.setdefault("name", name)
        if not subresource:
            defaults.apply_defaults(info, new)
        _track(info, old, new, ctx, subresource)
        attrs = Attributes(UPDATE, info, namespace, name, new, old, subresource=subresource,
                           user=ctx.user, dry_run=ctx.dry_run)
        pinned = _pinned_metadata(new)
        await self.admission.admit(attrs)
        if attrs.mutated:
            new = _after_mutation(info, attrs.obj, pinned)
            if subresource == "status":
                new = set_type_meta(info, strategies.merge_status_update(new, old, info))
            elif not subresource:
                strategies.prepare_for_update(info, new, old)
            m = new["metadata"]
            attrs.obj = new
        if subresource != "binding":
            crd_strategy.prepare(info, new, old)
        if not subresource and info.has_generation and meta.spec_changed(old, new):
            m["generation"] = int(old_m.get("generation") or 1) + 1
        # A binding is the server's own change (spec.nodeName, once): no user validation.
        causes = [] if subresource == "binding" else (validation.validate_update(info, new, old)
                                                      + crd_strategy.validate(info, new, old))
        causes += _finalizer_causes(old_m, m)
        raise_if_invalid(info, new, causes)
        await self.admission.validate(attrs)
        return new


_PINNED = (*_SERVER_OWNED, "name", "namespace", "resourceVersion")


def _pinned_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata") or {}
    return {k: m[k] for k in _PINNED if k in m}


def _after_mutation(info: ResourceInfo, obj: Any, pinned: dict[str, Any]) -> dict[str, Any]:
    """Put back what mutating admission may not change (server-owned metadata, name, namespace)
    and default again what a webhook may have added, as the real server decodes its patch."""
    if not isinstance(obj, dict):
        raise errors.internal("mutating admission returned something that is not an object")
    obj = set_type_meta(info, obj)
    m = meta.object_meta(obj)
    for field_name in _PINNED:
        if field_name in pinned:
            m[field_name] = pinned[field_name]
        else:
            m.pop(field_name, None)
    defaults.apply_defaults(info, obj)
    return obj


def _finalizer_causes(old_m: dict[str, Any], new_m: dict[str, Any]) -> list:
    """A deleting object may lose finalizers but never gain new ones."""
    if not old_m.get("deletionTimestamp"):
        return []
    added = [f for f in (new_m.get("finalizers") or []) if f not in (old_m.get("finalizers") or [])]
    if not added:
        return []
    shown = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
    return [errors.Cause("FieldValueForbidden",
                         f"Forbidden: no new finalizers can be added if the object is being deleted, "
                         f"found new finalizers {shown}", "metadata.finalizers")]
