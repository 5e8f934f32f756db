"""Reading what admission plugins need from the store, and adding up a pod's resources.

LimitRanger and ResourceQuota both read objects of a namespace straight from the store (there is
no informer cache inside the apiserver yet) and both need "what does this pod ask for", computed
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

ResourceTotals = dict[str, Fraction]


async def list_namespaced(objects: Any, info: ResourceInfo | None, namespace: str) -> list[dict[str, Any]]:
    """Every object of ``info`` in ``namespace``, decoded, straight from the store."""
    if info is None:
        return []
    result = await objects.store.list(keys.collection_prefix(info, namespace))
    return [codec.decode(kv) for kv in result.items]


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
