"""Object metadata validation shared by every kind: name syntax per kind, namespace by scope,
labels, annotations, owner references, finalizers, and identity fields that never change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import Cause
from .field_errors import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    forbidden,
    immutable,
    invalid,
    label_value_errors,
    path_segment_errors,
    qualified_name_errors,
    required,
    too_long,
)
from .registry import ResourceInfo

NameCheck = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

_RBAC = "rbac.authorization.k8s.io"
# How each kind's metadata.name is checked; everything else is a DNS-1123 subdomain.
NAME_CHECKS: dict[tuple[str, str], NameCheck] = {
    ("", "namespaces"): dns1123_label_errors,
    ("", "services"): dns1035_label_errors,
    (_RBAC, "roles"): path_segment_errors,
    (_RBAC, "rolebindings"): path_segment_errors,
    (_RBAC, "clusterroles"): path_segment_errors,
    (_RBAC, "clusterrolebindings"): path_segment_errors,
    ("autoscaling", "horizontalpodautoscalers"): path_segment_errors,
}


def name_check(info: ResourceInfo) -> NameCheck:
    return NAME_CHECKS.get((info.group, info.resource), dns1123_subdomain_errors)


def validate_labels(labels: Any, path: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of string keys to string values")]
    causes = []
    for key, value in labels.items():
        for msg in qualified_name_errors(key):
            causes.append(invalid(path, key, msg))
        if not isinstance(value, str):
            causes.append(invalid(path, value, "label values must be strings"))
            continue
        for msg in label_value_errors(value):
            causes.append(invalid(path, value, msg))
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of string keys to string values")]
    causes = []
    total = 0
    for key, value in annotations.items():
        for msg in qualified_name_errors(key.lower()):
            causes.append(invalid(path, key, msg))
        total += len(key.encode()) + len(str(value).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _owner_references(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if refs is None:
        return causes
    if not isinstance(refs, list):
        return [invalid(path, refs, "must be a list")]
    controllers = 0
    for i, ref in enumerate(refs):
        p = f"{path}[{i}]"
        if not isinstance(ref, dict):
            causes.append(invalid(p, ref, "must be an object"))
            continue
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                causes.append(invalid(f"{p}.{field}", ref.get(field, ""), f"{field} must not be empty"))
        controllers += bool(ref.get("controller"))
    if controllers > 1:
        causes.append(invalid(path, "", "Only one reference can have Controller set to true"))
    return causes


def validate_object_meta(info: ResourceInfo, obj: dict[str, Any]) -> list[Cause]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [required("metadata.name", "name or generateName is required")]
    causes: list[Cause] = []
    check = name_check(info)
    name, generate = meta.get("name") or "", meta.get("generateName") or ""
    if generate:
        # A generated name ends in random characters, so a trailing '-' in the prefix is fine.
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        causes += [invalid("metadata.generateName", generate, m) for m in check(masked)]
    if not name and not generate:
        causes.append(required("metadata.name", "name or generateName is required"))
    elif name:
        causes += [invalid("metadata.name", name, m) for m in check(name)]
    namespace = meta.get("namespace") or ""
    if info.namespaced:
        if not namespace:
            causes.append(required("metadata.namespace"))
        else:
            causes += [invalid("metadata.namespace", namespace, m) for m in dns1123_label_errors(namespace)]
    elif namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(invalid("metadata.generation", generation, "must be greater than or equal to 0"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += _owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        causes += [invalid(f"metadata.finalizers[{i}]", finalizer, m)
                   for m in qualified_name_errors(str(finalizer))]
    return causes


def validate_object_meta_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    meta, old_meta = obj.get("metadata") or {}, old.get("metadata") or {}
    causes = []
    for field in ("name", "namespace", "uid", "creationTimestamp"):
        if (meta.get(field) or "") != (old_meta.get(field) or ""):
            causes.append(immutable(f"metadata.{field}", meta.get(field) or ""))
    return causes
