"""LimitRanger: a namespace's LimitRange objects default and bound what pods and claims ask for.

    pod CREATE ──admit──► per container: limits from ``default``, requests from ``defaultRequest``
                          where the container names none; annotation kubernetes.io/limit-ranger
               ──validate─► Container items: min/max/maxLimitRequestRatio per container
                            Pod items: the same over the pod's totals
    pvc CREATE/UPDATE ─validate─► PersistentVolumeClaim items: min/max on the storage request

A violation is 403 Forbidden, worded as the real plugin words it, e.g.
``pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2``. As upstream,
pod updates are not checked (containers' resources are immutable), nor are subresources.

LimitRange items are read with the API's defaults for them (a ``max`` without ``default`` makes
the default limit; a ``default`` without ``defaultRequest`` makes the default request; a ``min``
makes the default request when neither does), exactly what the stored object would show.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.apiserver.admission import CREATE, UPDATE, Attributes, forbidden
from kybernetes.apiserver.admission_resources import (
    container_list,
    list_namespaced,
    pod_totals,
    quantity_value,
    show_quantity,
    show_total,
)

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER, POD, CLAIM = "Container", "Pod", "PersistentVolumeClaim"


def effective_item(item: dict[str, Any]) -> dict[str, Any]:
    """A LimitRangeItem with the API server's defaults for it filled in."""
    item = {k: (dict(v) if isinstance(v, dict) else v) for k, v in item.items()}
    if item.get("type") != CONTAINER:
        return item
    default = item.setdefault("default", {})
    request = item.setdefault("defaultRequest", {})
    for name, value in (item.get("max") or {}).items():
        default.setdefault(name, value)
    for name, value in default.items():
        request.setdefault(name, value)
    for name, value in (item.get("min") or {}).items():
        request.setdefault(name, value)
    return item


# -- constraints (each returns a message or None) ------------------------------------------------

def _min(kind: str, name: str, enforced: Any, requests: dict, limits: dict) -> str | None:
    bound = quantity_value(enforced)
    if bound is None:
        return None
    shown = show_quantity(enforced)
    if name not in requests:
        return f"minimum {name} usage per {kind} is {shown}.  No request is specified"
    if (quantity_value(requests[name]) or 0) < bound:
        return f"minimum {name} usage per {kind} is {shown}, but request is {show_quantity(requests[name])}"
    if name in limits and (quantity_value(limits[name]) or 0) < bound:
        return f"minimum {name} usage per {kind} is {shown}, but limit is {show_quantity(limits[name])}"
    return None


def _max(kind: str, name: str, enforced: Any, requests: dict, limits: dict) -> str | None:
    bound = quantity_value(enforced)
    if bound is None:
        return None
    shown = show_quantity(enforced)
    if name not in limits:
        return f"maximum {name} usage per {kind} is {shown}.  No limit is specified"
    if (quantity_value(limits[name]) or 0) > bound:
        return f"maximum {name} usage per {kind} is {shown}, but limit is {show_quantity(limits[name])}"
    if name in requests and (quantity_value(requests[name]) or 0) > bound:
        return f"maximum {name} usage per {kind} is {shown}, but request is {show_quantity(requests[name])}"
    return None


def _max_request(kind: str, name: str, enforced: Any, requests: dict) -> str | None:
    bound = quantity_value(enforced)
    if bound is None:
        return None
    shown = show_quantity(enforced)
    if name not in requests:
        return f"maximum {name} usage per {kind} is {shown}.  No request is specified"
    if (quantity_value(requests[name]) or 0) > bound:
        return f"maximum {name} usage per {kind} is {shown}, but request is {show_quantity(requests[name])}"
    return None


def _ratio(kind: str, name: str, enforced: Any, requests: dict, limits: dict) -> str | None:
    bound = quantity_value(enforced)
    if bound is None:
        return None
    shown = show_quantity(enforced)
    request = quantity_value(requests.get(name)) if name in requests else None
    limit = quantity_value(limits.get(name)) if name in limits else None
    if not request:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"
    if not limit:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"
    ratio = Fraction(limit) / Fraction(request)
    if ratio > bound:
        return f"{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {float(ratio):f}"
    return None


def _check(kind: str, item: dict[str, Any], requests: dict, limits: dict) -> list[str]:
    found: list[str] = []
    for name, value in sorted((item.get("min") or {}).items()):
        found.append(_min(kind, name, value, requests, limits) or "")
    for name, value in sorted((item.get("max") or {}).items()):
        found.append(_max(kind, name, value, requests, limits) or "")
    for name, value in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        found.append(_ratio(kind, name, value, requests, limits) or "")
    return [m for m in found if m]


def _resources(container: dict[str, Any]) -> tuple[dict, dict]:
    res = container.get("resources") or {}
    return dict(res.get("requests") or {}), dict(res.get("limits") or {})


def _as_strings(totals: dict[str, Fraction]) -> dict[str, str]:
    return {name: show_total(name, value) for name, value in totals.items()}


class LimitRanger:
    name = "LimitRanger"

    def __init__(self, objects: Any):
        self._objects = objects

    def handles(self, operation: str) -> bool:
        return operation in (CREATE, UPDATE)

    def _kind_of(self, attrs: Attributes) -> str:
        info = attrs.info
        if attrs.subresource or info.group != "" or not attrs.namespace or not isinstance(attrs.obj, dict):
            return ""
        if info.resource == "pods" and attrs.operation == CREATE:
            return POD
        if info.resource == "persistentvolumeclaims":
            return CLAIM
        return ""

    async def _items(self, attrs: Attributes) -> list[dict[str, Any]]:
        info = self._objects.registry.get("", "v1", "limitranges")
        ranges = await list_namespaced(self._objects, info, attrs.namespace or "", attrs)
        ranges.sort(key=lambda r: (r.get("metadata") or {}).get("name") or "")
        return [effective_item(item) for r in ranges
                for item in ((r.get("spec") or {}).get("limits") or []) if isinstance(item, dict)]

    async def admit(self, attrs: Attributes) -> None:
        if self._kind_of(attrs) != POD:
            return
        items = [i for i in await self._items(attrs) if i.get("type") == CONTAINER]
        if not items:
            return
        notes: list[str] = []
        spec = attrs.obj.get("spec") or {}
        for field, what in (("containers", "container"), ("initContainers", "init container")):
            for container in container_list(spec, field):
                notes += _apply_defaults(container, items, what)
        if notes:
            annotations = attrs.obj.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
            attrs.mutated = True

    async def validate(self, attrs: Attributes) -> None:
        kind = self._kind_of(attrs)
        if not kind:
            return
        items = await self._items(attrs)
        if not items:
            return
        found: list[str] = []
        if kind == CLAIM:
            requests = ((attrs.obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
            for item in items:
                if item.get("type") != CLAIM:
                    continue
                for name, value in sorted((item.get("min") or {}).items()):
                    found.append(_min(CLAIM, name, value, requests, {}) or "")
                for name, value in sorted((item.get("max") or {}).items()):
                    found.append(_max_request(CLAIM, name, value, requests) or "")
        else:
            spec = attrs.obj.get("spec") or {}
            for item in items:
                if item.get("type") == CONTAINER:
                    for c in container_list(spec, "containers") + container_list(spec, "initContainers"):
                        found += _check(CONTAINER, item, *_resources(c))
                elif item.get("type") == POD:
                    requests = _as_strings(pod_totals(attrs.obj, "requests"))
                    limits = _as_strings(pod_totals(attrs.obj, "limits"))
                    found += _check(POD, item, requests, limits)
        found = [m for m in found if m]
        if found:
            raise forbidden(attrs, found)


def _apply_defaults(container: dict[str, Any], items: list[dict[str, Any]], what: str) -> list[str]:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    set_limits: list[str] = []
    set_requests: list[str] = []
    # The API's own pod defaulting asks for what a container limits when it names no request
    # (upstream does it on decoding, before any admission): do it here if it was not done.
    limits_given = resources.get("limits") or {}
    if limits_given:
        requests = resources.setdefault("requests", {})
        for name, value in limits_given.items():
            requests.setdefault(name, value)
    for item in items:
        for name, value in (item.get("default") or {}).items():
            limits = resources.setdefault("limits", {})
            if name not in limits and name not in set_limits:
                limits[name] = show_quantity(value)
                set_limits.append(name)
        for name, value in (item.get("defaultRequest") or {}).items():
            requests = resources.setdefault("requests", {})
            if name not in requests and name not in set_requests:
                requests[name] = show_quantity(value)
                set_requests.append(name)
    for key in ("limits", "requests"):
        if key in resources and not resources[key]:
            del resources[key]
    notes = []
    cname = container.get("name") or ""
    if set_requests:
        notes.append(", ".join(sorted(set_requests)) + f" request for {what} {cname}")
    if set_limits:
        notes.append(", ".join(sorted(set_limits)) + f" limit for {what} {cname}")
    return notes
