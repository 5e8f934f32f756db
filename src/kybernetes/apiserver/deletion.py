"""Deletion: preconditions, graceful deletion, finalizers, collections and namespaces.

    DELETE ──► preconditions (uid, resourceVersion: 409) ──► admission
           ──► graceful kind (pods) with grace > 0?  set deletionTimestamp = now + grace and
               deletionGracePeriodSeconds; the object stays (200 + object); the kubelet stops the
               containers and finishes with a delete of grace 0
           ──► finalizers left (incl. orphan/foregroundDeletion from propagationPolicy)?  set
               deletionTimestamp = now, grace 0; the object stays until an update removes the
               last finalizer (objects.py deletes it then)
           ──► otherwise remove it from the store: 200 with the object for kinds that return it
               (pods, services, namespaces, ...), else a Status "Success"

Propagation (the API half of cascading deletion; the garbage collector acts on the finalizers):
Orphan -> the "orphan" finalizer, Foreground -> "foregroundDeletion", Background -> neither (and
it removes one the object carried); without a policy the object's own propagation finalizer
stands. orphanDependents=true/false is the legacy spelling of Orphan/Background and may not be
combined with a policy. While a pod's graceful deletion is pending only a shorter grace period
changes anything. dryRun (query or DeleteOptions.dryRun, values "All" only) runs every check and
returns what would be stored, writing nothing.

Namespaces: a delete marks the namespace Terminating. Kubernetes leaves emptying it to the
namespace controller (controllers/namespace.py), which then drops the "kubernetes" spec finalizer
through namespaces/{name}/finalize; the update that leaves no finalizers removes the namespace.
With ``inline_namespace_cleanup`` (the default, for an apiserver run alone) the server does it
inline instead: it deletes every object in the namespace at once, and removes the namespace as soon
as nothing is left in it, which may be later, when the last graceful pod or finalizer goes
(``on_removed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.api import errors, meta
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import codec, keys, strategies
from kybernetes.apiserver.admission import DELETE, Attributes
from kybernetes.apiserver.listing import ListOptions, list_objects
from kybernetes.apiserver.objects import ObjectStore, WriteContext, set_type_meta
from kybernetes.apiserver.store_errors import translate
from kybernetes.store import ConflictError, KeyNotFoundError, StoreError

_POLICIES = ("Orphan", "Background", "Foreground")
_ATTEMPTS = 16
DEFAULT_POD_GRACE_SECONDS = 30


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False


def parse_delete_options(body: dict[str, Any] | None, query) -> DeleteOptions:
    body = body or {}
    kind = body.get("kind")
    if kind not in (None, "", "DeleteOptions"):
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind (DeleteOptions)")
    opts = DeleteOptions()
    grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    if grace is not None:
        try:
            opts.grace_period_seconds = int(grace)
        except (TypeError, ValueError):
            raise errors.bad_request(f"gracePeriodSeconds must be an integer, not {grace!r}") from None
    policy = body.get("propagationPolicy", query.get("propagationPolicy"))
    orphan = body.get("orphanDependents", query.get("orphanDependents"))
    if orphan is not None:
        # The legacy field: true is Orphan, false is Background; never together with a policy.
        if policy is not None:
            raise errors.bad_request("propagationPolicy: Invalid value: orphanDependents and "
                                     "propagationPolicy cannot be both set")
        if str(orphan).lower() not in ("true", "false"):
            raise errors.bad_request(f"orphanDependents must be a boolean, not {orphan!r}")
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    if policy is not None and policy not in _POLICIES:
        raise errors.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    opts.propagation_policy = policy
    pre = body.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise errors.bad_request("preconditions must be an object")
    opts.precondition_uid = pre.get("uid")
    opts.precondition_resource_version = pre.get("resourceVersion")
    opts.dry_run = _dry_run(body.get("dryRun"))
    return opts


def _dry_run(value: Any) -> bool:
    """DeleteOptions.dryRun: a list whose only allowed value is "All" (the query's dryRun is
    checked with every other write's, in handlers.write_context)."""
    if value is None:
        return False
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or any(v != "All" for v in values):
        raise errors.bad_request(f'Invalid dry run value {value!r}: dryRun: supported values: "All"')
    return bool(values)


def _grace_for(info: ResourceInfo, obj: dict[str, Any], opts: DeleteOptions) -> int:
    """Seconds of graceful deletion: only pods have any, and only when bound to a node."""
    if not strategies.is_pod(info):
        return 0
    spec = obj.get("spec") or {}
    phase = (obj.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if opts.grace_period_seconds is not None:
        return max(opts.grace_period_seconds, 0) if opts.grace_period_seconds >= 0 else 1
    value = spec.get("terminationGracePeriodSeconds")
    return int(value) if isinstance(value, int) and value >= 0 else DEFAULT_POD_GRACE_SECONDS


def _check_preconditions(info: ResourceInfo, name: str, obj: dict[str, Any], opts: DeleteOptions) -> None:
    m = obj.get("metadata") or {}
    if opts.precondition_uid and opts.precondition_uid != m.get("uid"):
        raise errors.conflict(info.resource, name, info.group,
                              f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                              f"UID in object meta: {m.get('uid', '')}")
    rv = opts.precondition_resource_version
    if rv and rv != m.get("resourceVersion"):
        raise errors.conflict(info.resource, name, info.group,
                              f"Precondition failed: ResourceVersion in precondition: {rv}, "
                              f"ResourceVersion in meta: {m.get('resourceVersion', '')}")


ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def _finalizers_after(obj: dict[str, Any], policy: str | None) -> list[str]:
    """The finalizers a delete with this propagation policy leaves (the real server's
    deletionFinalizersForGarbageCollection): an explicit policy decides between orphan,
    foregroundDeletion and neither (Background); without one the object's own choice stands.
    The garbage collector then does the propagation and removes the finalizer."""
    finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
    if policy is None:
        orphan = foreground = False
        for f in finalizers:  # the first propagation finalizer on the object wins
            if f in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER):
                orphan, foreground = f == ORPHAN_FINALIZER, f == FOREGROUND_FINALIZER
                break
    else:
        orphan, foreground = policy == "Orphan", policy == "Foreground"
    out = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if orphan:
        out.append(ORPHAN_FINALIZER)
    if foreground:
        out.append(FOREGROUND_FINALIZER)
    return out


def _set_finalizers(m: dict[str, Any], finalizers: list[str]) -> None:
    if finalizers:
        m["finalizers"] = finalizers
    else:
        m.pop("finalizers", None)


async def delete_object(objects: ObjectStore, info: ResourceInfo, namespace: str | None, name: str,
                        opts: DeleteOptions, ctx: WriteContext | None = None) -> dict[str, Any]:
    """Delete one object; returns what the response carries (the object or a Status)."""
    ctx = ctx or WriteContext(dry_run=opts.dry_run)
    key = keys.object_key(info, namespace, name)
    for _ in range(_ATTEMPTS):
        obj, kv = await objects.read(info, namespace, name)
        _check_preconditions(info, name, obj, opts)
        await objects.admission.run(Attributes(DELETE, info, namespace, name, None, obj,
                                               user=ctx.user, dry_run=ctx.dry_run))
        m = obj["metadata"]
        if strategies.is_namespace(info):
            return await _delete_namespace(objects, info, name, obj, kv.mod_revision, opts, ctx)
        grace = _grace_for(info, obj, opts)
        finalizers = _finalizers_after(obj, opts.propagation_policy)
        new = meta.deep_copy(obj)
        nm = new["metadata"]
        if m.get("deletionTimestamp"):
            current = int(m.get("deletionGracePeriodSeconds") or 0)
            if current > 0:
                # A graceful deletion is pending: only a shorter grace period changes anything;
                # finalizers cannot be changed through DeleteOptions meanwhile (as upstream).
                if opts.grace_period_seconds is None or grace >= current:
                    return set_type_meta(info, obj)
                _mark_deleting(nm, grace, bump=False)
            _set_finalizers(nm, finalizers)
            if not finalizers and int(nm.get("deletionGracePeriodSeconds") or 0) == 0:
                return await _remove(objects, info, namespace, name, obj, kv.mod_revision, ctx)
            if new == obj:
                return set_type_meta(info, obj)
        else:
            _set_finalizers(nm, finalizers)
            if grace > 0 or finalizers:
                # Graceful (pods) or held by finalizers: mark it, the generation moves on.
                _mark_deleting(nm, grace, bump=True)
            else:
                return await _remove(objects, info, namespace, name, obj, kv.mod_revision, ctx)
        if ctx.dry_run:
            return set_type_meta(info, new)
        try:
            rev = await objects.store.update(key, codec.encode(new), kv.mod_revision)
        except (ConflictError, KeyNotFoundError):
            if opts.precondition_resource_version:
                raise errors.conflict(info.resource, name, info.group) from None
            continue
        except StoreError as e:
            raise translate(e, info, name) from None
        nm["resourceVersion"] = str(rev)
        return set_type_meta(info, new)
    raise errors.conflict(info.resource, name, info.group, "too many concurrent writers; please retry")


def _mark_deleting(m: dict[str, Any], grace: int, *, bump: bool) -> None:
    when = datetime.now(UTC) + timedelta(seconds=grace)
    m["deletionTimestamp"] = meta.format_rfc3339(when)
    m["deletionGracePeriodSeconds"] = grace
    if bump and m.get("generation"):
        m["generation"] = int(m["generation"]) + 1


async def _remove(objects: ObjectStore, info: ResourceInfo, namespace: str | None, name: str,
                  obj: dict[str, Any], revision: int, ctx: WriteContext) -> dict[str, Any]:
    if not ctx.dry_run:
        try:
            rev, _ = await objects.store.delete(keys.object_key(info, namespace, name), revision)
        except (ConflictError, KeyNotFoundError):
            raise _Retry() from None
        except StoreError as e:
            raise translate(e, info, name) from None
        obj["metadata"]["resourceVersion"] = str(rev)
        if objects.on_removed is not None:
            await objects.on_removed(info, namespace)
    if strategies.returns_deleted_object(info):
        return set_type_meta(info, obj)
    return errors.status_success(name=name, group=info.group, kind=info.resource,
                                 uid=obj["metadata"].get("uid", ""))


class _Retry(Exception):
    """The object changed between the read and the delete: read it again."""


async def delete(objects: ObjectStore, info: ResourceInfo, namespace: str | None, name: str,
                 opts: DeleteOptions, ctx: WriteContext | None = None) -> dict[str, Any]:
    for _ in range(_ATTEMPTS):
        try:
            return await delete_object(objects, info, namespace, name, opts, ctx)
        except _Retry:
            if opts.precondition_resource_version:
                raise errors.conflict(info.resource, name, info.group) from None
    raise errors.conflict(info.resource, name, info.group, "too many concurrent writers; please retry")


async def delete_collection(objects: ObjectStore, info: ResourceInfo, namespace: str | None,
                            list_opts: ListOptions, opts: DeleteOptions,
                            ctx: WriteContext | None = None) -> dict[str, Any]:
    """Delete everything a list with these selectors returns; answers the list of what it did."""
    page = await list_objects(objects.store, info, namespace, list_opts)
    items = []
    for obj in page.items:
        m = obj.get("metadata") or {}
        try:
            result = await delete(objects, info, m.get("namespace"), m.get("name", ""), opts, ctx)
        except errors.ApiError as e:
            if e.code == 404:  # gone meanwhile
                continue
            raise
        items.append(result if result.get("kind") != "Status" else set_type_meta(info, obj))
    return {"kind": info.list_kind, "apiVersion": info.group_version,
            "metadata": {"resourceVersion": page.resource_version}, "items": items}


# -- namespaces ----------------------------------------------------------------------------------


async def _delete_namespace(objects: ObjectStore, info: ResourceInfo, name: str, obj: dict[str, Any],
                            revision: int, opts: DeleteOptions, ctx: WriteContext) -> dict[str, Any]:
    new = meta.deep_copy(obj)
    m = new["metadata"]
    if not objects.inline_namespace_cleanup and not (new.get("spec") or {}).get("finalizers") \
            and not m.get("finalizers"):
        return await _remove(objects, info, None, name, obj, revision, ctx)  # nothing to wait for
    if not m.get("deletionTimestamp") or (new.get("status") or {}).get("phase") != "Terminating":
        m.setdefault("deletionTimestamp", meta.now_rfc3339())
        m.setdefault("deletionGracePeriodSeconds", 0)
        new.setdefault("status", {})["phase"] = "Terminating"
        if ctx.dry_run:
            return set_type_meta(info, new)
        try:
            rev = await objects.store.update(keys.object_key(info, None, name), codec.encode(new), revision)
        except (ConflictError, KeyNotFoundError):
            raise _Retry() from None
        except StoreError as e:
            raise translate(e, info, name) from None
        m["resourceVersion"] = str(rev)
    elif ctx.dry_run:
        return set_type_meta(info, new)
    if not objects.inline_namespace_cleanup:
        return set_type_meta(info, new)  # the namespace controller empties and finalizes it
    objects.emptying_namespaces.add(name)
    try:
        await empty_namespace(objects, name, ctx)
    finally:
        objects.emptying_namespaces.discard(name)
    await finish_namespace_if_empty(objects, name)
    return set_type_meta(info, new)


def _namespaced_storage(objects: ObjectStore) -> list[ResourceInfo]:
    """One ResourceInfo per storage prefix of namespaced resources (versions share storage)."""
    seen: dict[str, ResourceInfo] = {}
    for info in objects.registry:
        if info.namespaced and "delete" in info.verbs:
            seen.setdefault(keys.resource_prefix(info), info)
    return list(seen.values())


async def empty_namespace(objects: ObjectStore, namespace: str, ctx: WriteContext) -> None:
    """What the namespace controller would do: delete every object in the namespace."""
    for info in _namespaced_storage(objects):
        page = await list_objects(objects.store, info, namespace, ListOptions())
        for obj in page.items:
            try:
                await delete(objects, info, namespace, obj["metadata"]["name"], DeleteOptions(), ctx)
            except errors.ApiError as e:
                if e.code != 404:
                    raise


async def namespace_is_empty(objects: ObjectStore, namespace: str) -> bool:
    for info in _namespaced_storage(objects):
        try:
            if await objects.store.count(keys.collection_prefix(info, namespace)):
                return False
        except StoreError as e:
            raise translate(e, info) from None
    return True


async def finish_namespace_if_empty(objects: ObjectStore, namespace: str) -> None:
    """Remove a Terminating namespace once it holds nothing (and has no finalizers left)."""
    info = objects.registry.get("", "v1", "namespaces")
    if info is None:
        return
    key = keys.object_key(info, None, namespace)
    try:
        kv = await objects.store.get(key)
        if kv is None:
            return
        ns = codec.decode(kv)
        if (ns.get("status") or {}).get("phase") != "Terminating":
            return
        if not await namespace_is_empty(objects, namespace):
            return
        if ns["metadata"].get("finalizers"):
            return
        await objects.store.delete(key, kv.mod_revision)
    except (ConflictError, KeyNotFoundError):
        return  # someone else changed or removed it; they will finish the job
    except StoreError as e:
        raise translate(e, info, namespace) from None


async def on_removed(objects: ObjectStore, info: ResourceInfo, namespace: str | None) -> None:
    """Hook run after an object is removed for good: finish its namespace if it was the last."""
    if not objects.inline_namespace_cleanup:
        return
    if info.namespaced and namespace and namespace not in objects.emptying_namespaces:
        await finish_namespace_if_empty(objects, namespace)
