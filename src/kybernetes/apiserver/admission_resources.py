"""Reading what admission plugins need, and adding up a pod's resources.

NamespaceLifecycle reads the namespace, LimitRanger and ResourceQuota the objects of a namespace.
Upstream serves these reads from informers and accepts their lag; here they come from the watch
cache (watch_cache.py), but consistently: the store's current revision is read once per admitted
request (one cheap read instead of one read per plugin), and the cache answers once it is current
at that revision or later, so a namespace deleted a moment ago is seen Terminating and a quota
created a moment ago is enforced. When the cache is off, broken or does not catch up within
``CACHE_WAIT`` seconds, the store answers, as it always did.

Both LimitRanger and ResourceQuota also need "what does this pod ask for", computed
the way Kubernetes does: the sum over the regular containers and the restartable init containers
(sidecars), or the largest single init container if that is more, since init containers run one
at a time before the others; plus the pod overhead where the caller wants it (quota does).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.api.quantity import QuantityError, format_quantity, parse_quantity
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import codec, keys
from kybernetes.store import StoreError

ResourceTotals = dict[str, Fraction]


CACHE_WAIT = 1.0


async def _fresh_cache(objects: Any, info: ResourceInfo, attrs: Any) -> Any:
    """The watch cache of ``info``, current at least where the store was when the request's
    admission began (``attrs``; None: now), or None to read the store."""
    watch_cache = getattr(objects, "watch_cache", None)
    if watch_cache is None or not watch_cache.enabled:
        return None
    needed = getattr(attrs, "read_revision", 0)
    if not needed:
        try:
            needed = await objects.store.current_revision()
        except StoreError:
            return None  # the store read reports it the usual way
        if attrs is not None:
            attrs.read_revision = needed
    return await watch_cache.fresh_cache(info, needed, CACHE_WAIT)


async def list_namespaced(objects: Any, info: ResourceInfo | None, namespace: str,
                          attrs: Any = None) -> list[dict[str, Any]]:
    """Every object of ``info`` in ``namespace``, decoded (fresh copies the caller may change)."""
    if info is None:
        return []
    prefix = keys.collection_prefix(info, namespace)
    cache = await _fresh_cache(objects, info, attrs)
    if cache is not None:
        return [codec.decode(kv) for kv in cache.range(prefix)]
    result = await objects.store.list(prefix)
    return [codec.decode(kv) for kv in result.items]


async def get_object(objects: Any, info: ResourceInfo, namespace: str | None, name: str,
                     attrs: Any = None) -> dict[str, Any] | None:
    """One object, decoded, or None when it does not exist."""
    cache = await _fresh_cache(objects, info, attrs)
    if cache is None:
        return await objects.get_or_none(info, namespace, name)
    kv = cache.items.get(keys.object_key(info, namespace, name))
    return None if kv is None else codec.decode(kv)


def quantity_value(value: Any) -> Fraction | None:
    try:
        return parse_quantity(value).value
    except QuantityError:
        return None


def show_quantity(value: Any) -> str:
    """A quantity as the real server prints it (its canonical text)."""
    try:
        q = parse_quantity(value)
    except QuantityError:
        return str(value)
    return format_quantity(q.value, q.format)


def show_total(resource: str, value: Fraction) -> str:
    """A summed value in the suffix family people expect for the resource."""
    binary = any(word in resource for word in ("memory", "storage", "hugepages"))
    return format_quantity(value, "BinarySI" if binary and value.denominator == 1 else "DecimalSI")


def container_list(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [c for c in (spec.get(field) or []) if isinstance(c, dict)]


def _amounts(container: dict[str, Any], which: str) -> ResourceTotals:
    resources = container.get("resources") or {}
    out: ResourceTotals = {}
    for name, value in ((resources.get(which) or {}) if isinstance(resources, dict) else {}).items():
        amount = quantity_value(value)
        if amount is not None:
            out[name] = amount
    return out


def _add(total: ResourceTotals, more: ResourceTotals) -> None:
    for name, value in more.items():
        total[name] = total.get(name, Fraction(0)) + value


def pod_totals(pod: dict[str, Any], which: str, *, overhead: bool = False) -> ResourceTotals:
    """A pod's effective ``which`` ("requests" or "limits") per resource name."""
    spec = pod.get("spec") or {}
    total: ResourceTotals = {}
    for c in container_list(spec, "containers"):
        _add(total, _amounts(c, which))
    sidecars: ResourceTotals = {}
    for c in container_list(spec, "initContainers"):
        amounts = _amounts(c, which)
        if c.get("restartPolicy") == "Always":
            _add(sidecars, amounts)
            _add(total, amounts)
            continue
        # A plain init container runs alone beside the sidecars started before it.
        for name, value in amounts.items():
            total[name] = max(total.get(name, Fraction(0)), value + sidecars.get(name, Fraction(0)))
    pod_level = (spec.get("resources") or {}).get(which) if isinstance(spec.get("resources"), dict) else None
    for name, value in (pod_level or {}).items():
        if name in ("cpu", "memory") and quantity_value(value) is not None:
            total[name] = quantity_value(value)  # type: ignore[assignment]
    if overhead:
        for name, value in (spec.get("overhead") or {}).items():
            amount = quantity_value(value)
            if amount is not None and name in total:
                total[name] += amount
    return total
