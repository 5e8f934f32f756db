"""Pruning and defaulting of custom resources by a structural schema, as kube-apiserver does.

A CRD version's schema is *structural*: every field has a type, and the fields an object may
hold are exactly its ``properties`` (or any key, when ``additionalProperties`` gives a schema for
the values). The server relies on that in three steps it takes on every write (and the defaulting
one on every read):

    prune(schema, obj)      drop fields the schema does not know, unless a level says
                            ``x-kubernetes-preserve-unknown-fields: true``. apiVersion, kind and
                            metadata are kept at the root and in ``x-kubernetes-embedded-resource``
                            objects; metadata keeps only ObjectMeta's fields. Returns the paths
                            dropped: ``fieldValidation=Strict`` rejects them as unknown fields.
    apply_defaults(schema, obj)
                            set ``default`` values of missing properties (and of nulls where null
                            is not allowed), top-down, so a defaulted object gets its own
                            children's defaults too.
    prune_nulls(schema, obj)
                            drop null values the schema does not allow and has no default for
                            (so they read as absent: "Required value" rather than a type error).

All three change ``obj`` in place and ignore values of the wrong type (validation reports them).
"""

from __future__ import annotations

import copy
from typing import Any

# The fields of ObjectMeta (k8s.io/apimachinery meta/v1): what metadata keeps when pruned.
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
})

_TYPE_META = ("apiVersion", "kind")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def prune(schema: dict[str, Any] | None, obj: Any) -> list[str]:
    """Remove unknown fields from a whole custom resource, in place; the paths removed."""
    pruned: list[str] = []
    if not isinstance(obj, dict) or not isinstance(schema, dict):
        return pruned  # no schema: nothing is known to be unknown
    _prune_object(schema, obj, "", pruned, resource_root=True)
    return pruned


def unknown_fields(schema: dict[str, Any] | None, obj: Any) -> list[str]:
    """The paths ``prune`` would remove, leaving ``obj`` as it is."""
    return prune(schema, copy.deepcopy(obj))


def _prune_metadata(metadata: Any, path: str, pruned: list[str]) -> None:
    if not isinstance(metadata, dict):
        return
    for key in list(metadata):
        if key not in OBJECT_META_FIELDS:
            del metadata[key]
            pruned.append(_child(path, key))


def _prune_object(schema: dict[str, Any], value: dict[str, Any], path: str, pruned: list[str],
                  *, resource_root: bool) -> None:
    props = _properties(schema)
    extra = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key in list(value):
        item_path = _child(path, key)
        if resource_root and key in _TYPE_META:
            continue
        if resource_root and key == "metadata":
            _prune_metadata(value[key], item_path, pruned)
            continue
        if key in props:
            _prune_value(props[key], value[key], item_path, pruned)
        elif isinstance(extra, dict):
            _prune_value(extra, value[key], item_path, pruned)
        elif not preserve and extra is not True:
            del value[key]
            pruned.append(item_path)


def _prune_value(schema: Any, value: Any, path: str, pruned: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        _prune_object(schema, value, path, pruned,
                      resource_root=bool(schema.get("x-kubernetes-embedded-resource")))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _prune_value(items, item, f"{path}[{i}]", pruned)


# -- defaults ------------------------------------------------------------------------------------


def _null_not_allowed(schema: Any, value: Any) -> bool:
    return value is None and isinstance(schema, dict) and not schema.get("nullable")


def apply_defaults(schema: dict[str, Any] | None, value: Any) -> None:
    """Fill in schema defaults, in place, from the top down."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = _properties(schema)
        for key, prop in props.items():
            if not isinstance(prop, dict) or "default" not in prop:
                continue
            if key not in value or _null_not_allowed(prop, value[key]):
                value[key] = copy.deepcopy(prop["default"])
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                apply_defaults(props[key], item)
            elif isinstance(extra, dict):
                if _null_not_allowed(extra, item) and "default" in extra:
                    value[key] = item = copy.deepcopy(extra["default"])
                apply_defaults(extra, item)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return
        for i, item in enumerate(value):
            if _null_not_allowed(items, item) and "default" in items:
                value[i] = item = copy.deepcopy(items["default"])
            apply_defaults(items, item)


def prune_nulls(schema: dict[str, Any] | None, value: Any) -> None:
    """Drop object fields that are null where the schema allows no null and has no default."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = _properties(schema)
        extra = schema.get("additionalProperties")
        for key in list(value):
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if not isinstance(sub, dict):
                continue
            if value[key] is None:
                if not sub.get("nullable") and "default" not in sub and not _any_type(sub):
                    del value[key]
                continue
            prune_nulls(sub, value[key])
    elif isinstance(value, list):
        items = schema.get("items")
        for item in value:
            prune_nulls(items, item)


def _any_type(schema: dict[str, Any]) -> bool:
    """A schema that accepts anything (no type, unknown fields kept): null is a value there."""
    return not schema.get("type") and bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def normalize(schema: dict[str, Any] | None, obj: dict[str, Any]) -> list[str]:
    """What a write does before validation: prune, default, drop disallowed nulls. Returns the
    pruned paths."""
    pruned = prune(schema, obj)
    apply_defaults(schema, obj)
    prune_nulls(schema, obj)
    return pruned
