"""Which EndpointSlices a Service should have, given the ones it has (the slice reconciler).

Pure: in go the Service, its desired endpoints and its existing managed slices; out come the
slices to create, update and delete. Kubernetes' rules, simplified where nothing can tell:

- Endpoints are grouped by their port list (a named targetPort can resolve differently per pod,
  so one Service may need slices with different ports); each group fills slices of at most
  ``max_per_slice`` (100) endpoints.
- Existing slices are kept where they still fit: an endpoint that is still wanted stays in its
  slice (updated in place if its conditions changed), one no longer wanted is removed, an empty
  slice is deleted. New endpoints fill slices already being updated, then slices with room, and
  only then new slices, so churn stays low.
- A slice about to be deleted is reused for one about to be created (an update instead of a
  delete plus a create).
- A Service selecting nothing keeps one empty "placeholder" slice, so consumers can tell "no
  endpoints" from "not processed yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.meta import deep_copy

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"

PortKey = tuple[tuple[str, int, str, str], ...]


def port_key(ports: list[Obj] | None) -> PortKey:
    return tuple(sorted((p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "",
                         p.get("appProtocol") or "") for p in ports or []))


def endpoint_key(endpoint: Obj) -> tuple[Any, ...]:
    ref = endpoint.get("targetRef") or {}
    return (tuple(sorted(endpoint.get("addresses") or [])), ref.get("namespace") or "", ref.get("name") or "")


@dataclass
class DesiredGroup:
    """The endpoints that share one port list."""

    ports: list[Obj]
    endpoints: dict[tuple[Any, ...], Obj] = field(default_factory=dict)


@dataclass
class SliceChanges:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete)


def slice_labels(service: Obj) -> dict[str, str]:
    meta = service.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in RESERVED_LABELS}
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    labels[SERVICE_NAME_LABEL] = meta.get("name") or ""
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def owner_reference(service: Obj) -> Obj:
    meta = service.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Service", "name": meta.get("name"), "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def new_slice(service: Obj, address_type: str, ports: list[Obj]) -> Obj:
    meta = service.get("metadata") or {}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta.get('name')}-", "namespace": meta.get("namespace"),
                         "labels": slice_labels(service), "ownerReferences": [owner_reference(service)]},
            "addressType": address_type, "endpoints": [], "ports": deep_copy(ports)}


def is_placeholder(slice_: Obj) -> bool:
    return not slice_.get("endpoints") and not slice_.get("ports")


def reconcile_slices(service: Obj, address_type: str, desired: dict[PortKey, DesiredGroup],
                     existing: list[Obj], max_per_slice: int = 100) -> SliceChanges:
    changes = SliceChanges()
    labels = slice_labels(service)
    remaining = {k: dict(group.endpoints) for k, group in desired.items()}
    updated_by_port: dict[PortKey, list[Obj]] = {}
    unchanged_by_port: dict[PortKey, list[Obj]] = {}
    for current in sorted(existing, key=lambda s: (s.get("metadata") or {}).get("name") or ""):
        key = port_key(current.get("ports"))
        wanted = remaining.get(key, {})
        kept, changed = [], False
        for endpoint in current.get("endpoints") or []:
            want = wanted.pop(endpoint_key(endpoint), None)
            if want is None:
                changed = True
                continue
            changed = changed or want != endpoint
            kept.append(want)
        if not kept:
            changes.delete.append(current)
            continue
        meta = current.get("metadata") or {}
        stale_meta = (meta.get("labels") or {}) != labels or meta.get("ownerReferences") != [owner_reference(service)]
        if changed or stale_meta:
            slice_ = deep_copy(current)
            slice_["endpoints"] = kept
            slice_["metadata"]["labels"] = dict(labels)
            slice_["metadata"]["ownerReferences"] = [owner_reference(service)]
            changes.update.append(slice_)
            updated_by_port.setdefault(key, []).append(slice_)
        else:
            unchanged_by_port.setdefault(key, []).append(current)
    for key, wanted in remaining.items():
        pending = [wanted[k] for k in sorted(wanted)]
        for slice_ in updated_by_port.get(key, []):  # fill slices already being written first
            room = max(max_per_slice - len(slice_["endpoints"]), 0)
            slice_["endpoints"].extend(pending[:room])
            pending = pending[room:]
        for current in unchanged_by_port.get(key, []):
            if not pending:
                break
            room = max_per_slice - len(current.get("endpoints") or [])
            if room > 0:
                slice_ = deep_copy(current)
                slice_["endpoints"].extend(pending[:room])
                pending = pending[room:]
                changes.update.append(slice_)
        while pending:
            slice_ = new_slice(service, address_type, desired[key].ports)
            slice_["endpoints"], pending = pending[:max_per_slice], pending[max_per_slice:]
            changes.create.append(slice_)
    if len(existing) == len(changes.delete) and not changes.create:
        placeholder = next((s for s in changes.delete if is_placeholder(s)
                            and (s.get("metadata") or {}).get("labels") == labels), None)
        if placeholder is not None:
            changes.delete.remove(placeholder)  # already there: keep it instead of churning
        else:
            changes.create.append(new_slice(service, address_type, []))
    _reuse_deleted(changes)
    return changes


def _reuse_deleted(changes: SliceChanges) -> None:
    """Turn a delete plus a create into one update of the slice that would have been deleted."""
    while changes.create and changes.delete:
        fresh, old = changes.create.pop(0), changes.delete.pop(0)
        reused = deep_copy(old)
        reused["metadata"]["labels"] = fresh["metadata"]["labels"]
        reused["metadata"]["ownerReferences"] = fresh["metadata"]["ownerReferences"]
        reused["endpoints"], reused["ports"] = fresh["endpoints"], fresh["ports"]
        changes.update.append(reused)


def stamp_trigger_time(changes: SliceChanges, trigger_time: str | None) -> None:
    """Written slices carry the last-change-trigger-time (or lose a stale one)."""
    for slice_ in (*changes.create, *changes.update):
        annotations = slice_["metadata"].get("annotations") or {}
        if trigger_time:
            annotations[TRIGGER_TIME] = trigger_time
        else:
            annotations.pop(TRIGGER_TIME, None)
        if annotations:
            slice_["metadata"]["annotations"] = annotations
        else:
            slice_["metadata"].pop("annotations", None)
