"""What a CustomResourceDefinition serves: one CustomResourceInfo per served version.

A CustomResourceInfo is a ResourceInfo (so routing, storage keys, discovery, watch and lists
treat custom resources like any other kind) that also carries what only a CRD knows: the
version's structural schema, printer columns, selectable fields, the scale subresource's JSON
paths. All versions of one CRD share one CustomResourceState, where the CRD controller marks the
CRD as terminating (creates are refused from then on).

    infos_for(crd)  ->  [CustomResourceInfo v1, CustomResourceInfo v1beta1, ...]   preferred first

Versions are ordered as Kubernetes orders them (GA before beta before alpha, higher numbers
first, then anything else alphabetically); the first is the group's preferred version.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.api.registry import ALL_VERBS, ResourceInfo, SubresourceInfo

CRD_GROUP = "apiextensions.k8s.io"
CRD_RESOURCE = "customresourcedefinitions"
STATUS_VERBS = ("get", "patch", "update")

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple:
    """Sort key of a version, highest priority first (v2 < v1 < v1beta2 < v1alpha1 < "foo")."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = int(match.group(1)), match.group(2), int(match.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


def is_crd(info: ResourceInfo) -> bool:
    return info.group == CRD_GROUP and info.resource == CRD_RESOURCE


@dataclass
class CustomResourceState:
    """Mutable facts about a CRD shared by the infos of all its versions."""

    crd_name: str
    terminating: bool = False


@dataclass(frozen=True)
class ScalePaths:
    spec_replicas: str
    status_replicas: str
    label_selector: str = ""


@dataclass(frozen=True, slots=True)
class CustomResourceInfo(ResourceInfo):
    crd_name: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)
    selectable_fields: tuple[str, ...] = ()
    scale: ScalePaths | None = None
    state: CustomResourceState | None = field(default=None, compare=False, repr=False)
    # A digest of everything above, so equal infos mean "nothing to re-register".
    fingerprint: str = ""


def is_custom_resource(info: ResourceInfo) -> bool:
    return isinstance(info, CustomResourceInfo)


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(v for v in values or () if isinstance(v, str))


def served_versions(crd: dict[str, Any]) -> list[dict[str, Any]]:
    spec = crd.get("spec") or {}
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict) and v.get("served")]
    return sorted(versions, key=lambda v: version_priority(str(v.get("name", ""))))


def storage_version(crd: dict[str, Any]) -> str:
    for v in (crd.get("spec") or {}).get("versions") or ():
        if isinstance(v, dict) and v.get("storage"):
            return str(v.get("name", ""))
    return ""


def infos_for(crd: dict[str, Any], names: dict[str, Any], state: CustomResourceState) -> list[CustomResourceInfo]:
    """The resources a CRD serves under its accepted ``names`` (status.acceptedNames)."""
    spec = crd.get("spec") or {}
    group = str(spec.get("group", ""))
    storage = storage_version(crd)
    out = []
    for version in served_versions(crd):
        name = str(version.get("name", ""))
        subresources = version.get("subresources") or {}
        subs: list[SubresourceInfo] = []
        scale = None
        scale_spec = subresources.get("scale") if isinstance(subresources, dict) else None
        if isinstance(scale_spec, dict):
            scale = ScalePaths(str(scale_spec.get("specReplicasPath", "")),
                               str(scale_spec.get("statusReplicasPath", "")),
                               str(scale_spec.get("labelSelectorPath") or ""))
            subs.append(SubresourceInfo("scale", "Scale", "autoscaling", "v1", STATUS_VERBS))
        if isinstance(subresources, dict) and isinstance(subresources.get("status"), dict):
            subs.append(SubresourceInfo("status", str(names.get("kind", "")), group, name, STATUS_VERBS))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        columns = tuple(c for c in version.get("additionalPrinterColumns") or () if isinstance(c, dict))
        selectable = tuple(str(f.get("jsonPath", "")).lstrip(".")
                           for f in version.get("selectableFields") or () if isinstance(f, dict))
        fingerprint = hashlib.sha256(orjson.dumps(
            [names, spec.get("scope"), version, storage], option=orjson.OPT_SORT_KEYS)).hexdigest()
        out.append(CustomResourceInfo(
            group=group,
            version=name,
            resource=str(names.get("plural", "")),
            kind=str(names.get("kind", "")),
            singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
            namespaced=spec.get("scope") == "Namespaced",
            verbs=ALL_VERBS,
            short_names=_strings(names.get("shortNames")),
            categories=_strings(names.get("categories")),
            subresources=tuple(sorted(subs, key=lambda s: s.name)),
            storage_version=storage,
            has_generation=True,
            crd_name=str((crd.get("metadata") or {}).get("name", "")),
            schema=schema if isinstance(schema, dict) else None,
            printer_columns=columns,
            selectable_fields=selectable,
            scale=scale,
            state=state,
            fingerprint=fingerprint,
        ))
    return out
