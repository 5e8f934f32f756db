"""ResourceQuota: refuse writes that would take a namespace over its quotas; keep their status.

    write of a counted object ──► quotas of the namespace that select it (scopes)
        ──► pods: every container names the compute resources the quota limits, else 403
            "failed quota: <name>: must specify limits.cpu for: c"
        ──► per quota, for what the write adds: used (summed from the store) + requested > hard?
            403 "exceeded quota: <name>, requested: k=v, used: k=v, limited: k=v"
        ──► not a dry run: status.hard = spec.hard, status.used = usage after the write

Kubernetes splits this between the admission plugin (check, and charge the quota's status) and
the resource-quota controller (recount everything periodically and on deletes). Kybernetes has
no such controller yet, so the apiserver does both here: usage is recounted on each check at the
store's current revision (admission_resources.py; always exact, never drifting), and status is
rewritten after every counted create, update and delete, and filled in when a quota is created
or its spec changes. The status write
goes to the store directly (no admission, no webhooks), as the controller's write would not be
admitted against quota either.

Known gap: two creates racing in one namespace may both pass the check, since the object is
written after admission returns (upstream closes this with resourceVersion conflicts on the
quota's status; its controller corrects any drift later).
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction
from typing import Any

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import codec, keys
from kybernetes.apiserver.admission import CREATE, DELETE, UPDATE, Attributes, forbidden
from kybernetes.apiserver.admission_quota_usage import (
    Usage,
    missing_compute,
    quota_selects,
    resource_of_key,
    usage,
)
from kybernetes.apiserver.admission_resources import (
    list_namespaced,
    quantity_value,
    show_quantity,
    show_total,
)
from kybernetes.store import ConflictError, StoreError

log = logging.getLogger(__name__)

_STATUS_WRITE_ATTEMPTS = 8


def _pretty(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(values.items()))


def _is_quota(info: ResourceInfo) -> bool:
    return info.group == "" and info.resource == "resourcequotas"


def _hard(quota: dict[str, Any]) -> dict[str, Any]:
    return dict((quota.get("spec") or {}).get("hard") or {})


class ResourceQuota:
    name = "ResourceQuota"

    def __init__(self, objects: Any):
        self._objects = objects
        self._locks: dict[str, asyncio.Lock] = {}

    def handles(self, operation: str) -> bool:
        return operation in (CREATE, UPDATE, DELETE)

    async def validate(self, attrs: Attributes) -> None:
        info = attrs.info
        if not info.namespaced or not attrs.namespace or attrs.subresource not in ("", "status"):
            return
        if _is_quota(info) and attrs.subresource:
            return  # a quota's own status write is not charged against quotas
        namespace = attrs.namespace
        new = usage(info, attrs.obj) if attrs.operation != DELETE else {}
        old = usage(info, attrs.old_obj) if attrs.operation != CREATE else {}
        if new != old:  # a write that changes no usage (a Lease renewal) needs no quota read
            lock = self._locks.setdefault(namespace, asyncio.Lock())
            async with lock:
                await self._admit_locked(attrs, namespace, new, old)
        if _is_quota(info) and attrs.operation in (CREATE, UPDATE) and isinstance(attrs.obj, dict):
            await self._fill_own_status(attrs)

    async def _admit_locked(self, attrs: Attributes, namespace: str, new: Usage, old: Usage) -> None:
        info = attrs.info
        quota_info = self._objects.registry.get("", "v1", "resourcequotas")
        quotas = await list_namespaced(self._objects, quota_info, namespace, attrs)
        if not quotas:
            return
        subject = attrs.obj if isinstance(attrs.obj, dict) else attrs.old_obj or {}
        charged: list[tuple[dict[str, Any], Usage]] = []
        for quota in sorted(quotas, key=lambda q: (q.get("metadata") or {}).get("name") or ""):
            if not quota_selects(quota, info, subject):
                continue
            hard = _hard(quota)
            qname = (quota.get("metadata") or {}).get("name") or ""
            if attrs.operation == CREATE and info.group == "" and info.resource == "pods":
                missing = missing_compute(attrs.obj, hard)
                if missing:
                    raise forbidden(attrs, [f"failed quota: {qname}: {missing}"])
            tracked = [k for k in hard if resource_of_key(k) is not None]
            used = await self._used(namespace, quota, tracked, exclude=(info, attrs.name))
            if attrs.subresource != "status":
                self._check(attrs, qname, hard, used, new, old)
            charged.append((quota, {k: used.get(k, Fraction(0)) + new.get(k, Fraction(0)) for k in tracked}))
        if not attrs.dry_run:
            for quota, after in charged:
                await self._write_status(quota_info, namespace, quota, after)

    @staticmethod
    def _check(attrs: Attributes, qname: str, hard: dict[str, Any], used: Usage, new: Usage,
               old: Usage) -> None:
        requested = {k: new.get(k, Fraction(0)) - old.get(k, Fraction(0)) for k in hard}
        requested = {k: v for k, v in requested.items() if v > 0}
        exceeded = []
        for key, amount in requested.items():
            limit = quantity_value(hard[key])
            if limit is not None and used.get(key, Fraction(0)) + amount > limit:
                exceeded.append(key)
        if not exceeded:
            return
        message = (f"exceeded quota: {qname}, "
                   f"requested: {_pretty({k: show_total(k, requested[k]) for k in exceeded})}, "
                   f"used: {_pretty({k: show_total(k, used.get(k, Fraction(0))) for k in exceeded})}, "
                   f"limited: {_pretty({k: show_quantity(hard[k]) for k in exceeded})}")
        raise forbidden(attrs, [message])

    async def _used(self, namespace: str, quota: dict[str, Any], tracked: list[str],
                    exclude: tuple[ResourceInfo, str] | None = None) -> Usage:
        """What the objects stored in the namespace use of ``tracked``, the written one left out."""
        by_resource: dict[tuple[str, str], list[str]] = {}
        for key in tracked:
            target = resource_of_key(key)
            if target is not None:
                by_resource.setdefault(target, []).append(key)
        totals: Usage = {}
        for (group, resource), wanted in by_resource.items():
            info = self._resource_info(group, resource)
            if info is None or not info.namespaced:
                continue
            for obj in await list_namespaced(self._objects, info, namespace):
                name = (obj.get("metadata") or {}).get("name")
                if exclude is not None and (exclude[0].group, exclude[0].resource) == (group, resource) \
                        and exclude[1] == name:
                    continue
                if not quota_selects(quota, info, obj):
                    continue
                counted = usage(info, obj)
                for key in wanted:
                    if key in counted:
                        totals[key] = totals.get(key, Fraction(0)) + counted[key]
        return totals

    def _resource_info(self, group: str, resource: str) -> ResourceInfo | None:
        registry = self._objects.registry
        for info in registry.resources(group):
            if info.resource == resource:
                return info
        return None

    async def _fill_own_status(self, attrs: Attributes) -> None:
        """A new or changed quota shows its hard limits and current usage straight away."""
        quota = attrs.obj
        hard = _hard(quota)
        tracked = [k for k in hard if resource_of_key(k) is not None]
        used = await self._used(attrs.namespace or "", quota, tracked, exclude=(attrs.info, attrs.name))
        if attrs.operation == CREATE:
            for key, amount in usage(attrs.info, quota).items():
                if key in tracked:
                    used[key] = used.get(key, Fraction(0)) + amount
        quota["status"] = {"hard": hard, "used": {k: show_total(k, used.get(k, Fraction(0))) for k in tracked}}

    async def _write_status(self, info: ResourceInfo, namespace: str, quota: dict[str, Any],
                            used: Usage) -> None:
        name = (quota.get("metadata") or {}).get("name") or ""
        key = keys.object_key(info, namespace, name)
        for _ in range(_STATUS_WRITE_ATTEMPTS):
            try:
                kv = await self._objects.store.get(key)
                if kv is None:
                    return
                current = codec.decode(kv)
                status = {"hard": _hard(current),
                          "used": {k: show_total(k, v) for k, v in used.items() if k in _hard(current)}}
                if current.get("status") == status:
                    return
                current["status"] = status
                await self._objects.store.update(key, codec.encode(current), kv.mod_revision)
                return
            except ConflictError:
                continue
            except StoreError as e:  # the write itself is admitted; a stale status is recounted next time
                log.warning("could not update the status of resourcequota %s/%s: %s", namespace, name, e)
                return
