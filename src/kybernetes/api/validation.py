"""Validation: the checks a real apiserver runs before storing an object, with its wording.

``validate_create(info, obj)`` and ``validate_update(info, obj, old)`` return a list of Causes
(empty when valid); the apiserver turns a non-empty list into a 422 Invalid. Object metadata is
checked here for every kind (name syntax per kind, namespace by scope, labels, annotations,
finalizers, immutable identity on update) by validation_meta; kinds with more rules have a module
of their own (validation_pod, validation_workloads, validation_core, validation_networking,
validation_rbac, validation_storage, validation_policy, validation_records, validation_quota) registered in
``KIND_VALIDATORS``.
Call after defaulting, as the real server does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    validation_core,
    validation_networking,
    validation_policy,
    validation_quota,
    validation_rbac,
    validation_records,
    validation_storage,
    validation_workloads,
)
from .errors import Cause
from .field_errors import invalid
from .registry import ResourceInfo
from .validation_meta import validate_object_meta, validate_object_meta_update
from .validation_pod import validate_pod, validate_pod_update

CreateCheck = Callable[[dict[str, Any]], list[Cause]]
UpdateCheck = Callable[[dict[str, Any], dict[str, Any]], list[Cause]]


KIND_VALIDATORS: dict[tuple[str, str], tuple[CreateCheck | None, UpdateCheck | None]] = {
    ("", "pods"): (validate_pod, validate_pod_update),
    **validation_core.VALIDATORS,
    **validation_workloads.VALIDATORS,
    **validation_networking.VALIDATORS,
    **validation_rbac.VALIDATORS,
    **validation_storage.VALIDATORS,
    **validation_policy.VALIDATORS,
    **validation_records.VALIDATORS,
    **validation_quota.VALIDATORS,
}


_MALFORMED = (AttributeError, TypeError, ValueError, KeyError, IndexError)
_META_STRINGS = ("name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp")
_META_MAPS = ("labels", "annotations")


def _shape_causes(obj: dict[str, Any]) -> list[Cause]:
    """Type errors a real server reports at decode time, caught before the detailed checks."""
    meta = obj.get("metadata")
    if meta is None:
        return []
    if not isinstance(meta, dict):
        return [invalid("metadata", meta, "must be an object")]
    causes = [invalid(f"metadata.{f}", meta[f], "must be a string")
              for f in _META_STRINGS if meta.get(f) is not None and not isinstance(meta[f], str)]
    for f in _META_MAPS:
        value = meta.get(f)
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            causes.append(invalid(f"metadata.{f}", value, "must be a map of string keys to string values"))
    for f in ("finalizers", "ownerReferences"):
        if meta.get(f) is not None and not isinstance(meta[f], list):
            causes.append(invalid(f"metadata.{f}", meta[f], "must be a list"))
    return causes


def _checked(check: Callable[..., list[Cause]], *args: Any) -> list[Cause]:
    """Run a kind check; a value of the wrong JSON type deep inside becomes a cause, not a crash."""
    try:
        return check(*args)
    except _MALFORMED as e:
        return [invalid("", type(e).__name__, f"malformed object: {e}")]


def validate_create(info: ResourceInfo, obj: Any) -> list[Cause]:
    """Every problem with a new object (empty list when it may be stored)."""
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be a JSON object")]
    causes = _shape_causes(obj)
    if causes:
        return causes
    causes = _checked(validate_object_meta, info, obj)
    create, _ = KIND_VALIDATORS.get((info.group, info.resource), (None, None))
    if create is not None:
        causes += _checked(create, obj)
    return causes


def validate_update(info: ResourceInfo, obj: Any, old: dict[str, Any]) -> list[Cause]:
    """Every problem with replacing ``old`` by ``obj`` (the new object is checked in full too)."""
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be a JSON object")]
    causes = _shape_causes(obj)
    if causes:
        return causes
    if not isinstance(old, dict) or not isinstance(old.get("metadata", {}), dict):
        old = {}
    causes = _checked(validate_object_meta, info, obj) + _checked(validate_object_meta_update, obj, old)
    create, update = KIND_VALIDATORS.get((info.group, info.resource), (None, None))
    if create is not None:
        causes += _checked(create, obj)
    if update is not None:
        causes += _checked(update, obj, old)
    return causes
