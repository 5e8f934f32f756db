"""Strategic merge patch: how kubectl apply, edit, set image and rollout restart change objects.

A strategic merge patch is a JSON merge patch that knows the type it patches. Maps merge key by
key and ``null`` deletes a key, as in RFC 7386; but where the type says so (see
``strategic_merge_schema``) lists merge item by item instead of being replaced, and the patch
may carry directives:

    {"$patch": "replace" | "delete"}            in a map: replace it with the patch / empty it
    [{"name": "x", "$patch": "delete"}, ...]    in a merged list: remove the item with that key
    [{"$patch": "replace"}, ...]                in a merged list: the patch items are the list
    "$setElementOrder/containers": [...]        the order of the merged list's items
    "$deleteFromPrimitiveList/finalizers": [...]  scalars to remove from a merged scalar list
    "$retainKeys": ["type", "rollingUpdate"]   keys of the map to keep (union types)

kubectl computes such a patch as a three-way diff (last applied, new config, live object) and
kube-apiserver applies it to the live object; this module is that second half, following
apimachinery's pkg/util/strategicpatch (read for its behaviour; the code here is our own).

Patch content that has nothing to merge with (a key the live object lacks, a replaced map, an
added list item) is taken as it is, minus nulls and directives: the real server decodes the
result into its Go types, which silently drops both, and objects here stay plain dicts.

Malformed patches raise ``ApiError`` (400 Bad Request, or 422 for lists of lists), never a
Python exception.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kybernetes.api import errors
from kybernetes.api.strategic_merge_lists import (
    DIRECTIVE,
    check_element_order,
    delete_from_primitive_list,
    element_kind,
    merge_list,
    order_items,
)
from kybernetes.api.strategic_merge_schema import PatchSchema, SchemaLookup

__all__ = ["PatchSchema", "SchemaLookup", "apply_strategic_merge_patch"]

RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

_DROP = object()  # marks patch content that must not appear in the result at all


def apply_strategic_merge_patch(original: Mapping[str, Any], patch: Mapping[str, Any],
                                schema: Mapping[str, Any] | PatchSchema | None,
                                lookup: SchemaLookup | None = None) -> dict[str, Any]:
    """The object ``original`` becomes under the strategic merge patch ``patch``.

    ``schema`` is the schema of the object's kind (e.g. the ``io.k8s.api.apps.v1.Deployment``
    definition), ``lookup`` resolves the refs inside it; with no schema every list is replaced.
    Neither argument is changed."""
    if not isinstance(patch, Mapping):
        raise errors.bad_request("a strategic merge patch must be a JSON object")
    if not isinstance(original, Mapping):
        raise errors.bad_request("a strategic merge patch can only patch a JSON object")
    root = schema if isinstance(schema, PatchSchema) else PatchSchema(schema, lookup)
    return _merge_map(copy.deepcopy(dict(original)), copy.deepcopy(dict(patch)), root)


def _is_directive_key(key: str) -> bool:
    return (key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(SET_ELEMENT_ORDER + "/")
            or key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/"))


def _clean(value: Any) -> Any:
    """Patch content taken as it is: without null map values and directives (_DROP for a map
    that is itself a directive)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _DROP
        out = {}
        for key, item in value.items():
            if item is None or _is_directive_key(key):
                continue
            cleaned = _clean(item)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [c for c in (_clean(v) for v in value) if c is not _DROP]
    return value


def _clean_item(value: Any) -> Any:
    cleaned = _clean(value)
    return {} if cleaned is _DROP else cleaned


def _field_of(key: str, prefix: str, what: str) -> str:
    head, sep, field = key.partition("/")
    if head != prefix or not sep or not field:
        raise errors.bad_request(f"strategic merge patch: invalid patch format of {what}: {key!r}")
    return field


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace":
        del patch[DIRECTIVE]
        return _clean_item(patch)
    if directive == "delete":
        return {}
    raise errors.bad_request(f"strategic merge patch: unknown patch type {directive!r} in map {patch}")


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise errors.bad_request("strategic merge patch: invalid patch format of retainKeys: it must be a list")
    for key, value in patch.items():
        if value is None or key.startswith((SET_ELEMENT_ORDER + "/", DELETE_FROM_PRIMITIVE_LIST + "/")):
            continue
        if key not in keep:
            raise errors.bad_request(f"strategic merge patch: patch content doesn't match retainKeys list: "
                                     f"{key!r} is not in {keep}")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _set_element_order(original: dict[str, Any], patch: dict[str, Any], schema: PatchSchema) -> None:
    """Handle each ``$setElementOrder/<f>`` together with the ``<f>`` list of the same patch."""
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        field = _field_of(key, SET_ELEMENT_ORDER, "setElementOrder list")
        if not isinstance(order, list):
            raise errors.bad_request("strategic merge patch: invalid patch format of setElementOrder list")
        live = original.get(field)
        has_live, has_patch = field in original, field in patch
        wanted = patch.get(field)
        if (has_live and not isinstance(live, list)) or (has_patch and not isinstance(wanted, list)):
            raise errors.bad_request(f"strategic merge patch: {field!r} must be a list to use {key!r}")
        meta = schema.field(field)
        check_element_order(wanted or [], order, meta.merge_key)
        view: list[Any] = live if has_live else []
        if has_live and has_patch:
            if meta.merges:
                merged, view = merge_list(live, wanted, meta.schema.items(), meta.merge_key, _merge_map,
                                          _clean_item)
            else:
                merged = _clean_item(wanted)
        elif has_live:
            merged = live
        elif has_patch:
            merged = _clean_item(wanted)
        else:
            continue
        merge_key = meta.merge_key if element_kind(merged) == "map" else ""
        original[field] = order_items(merged, order, view, merge_key)
        patch.pop(field, None)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: PatchSchema) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if RETAIN_KEYS in patch:
        _retain_keys(original, patch)
    _set_element_order(original, patch, schema)

    for key, value in patch.items():
        deleting = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if deleting:
            key = _field_of(key, DELETE_FROM_PRIMITIVE_LIST, "primitive list")
        if value is None:
            original.pop(key, None)
            continue
        if deleting:
            if not isinstance(value, list):
                raise errors.bad_request("strategic merge patch: invalid patch format of primitive list")
            if isinstance(original.get(key), list):
                original[key] = delete_from_primitive_list(original[key], value)
            continue
        live = original.get(key, _DROP)
        if isinstance(live, dict) and isinstance(value, dict):
            meta = schema.field(key)
            original[key] = _clean_item(value) if meta.replaces else _merge_map(live, value, meta.schema)
        elif isinstance(live, list) and isinstance(value, list):
            meta = schema.field(key)
            if meta.merges:
                original[key] = merge_list(live, value, meta.schema.items(), meta.merge_key, _merge_map,
                                           _clean_item)[0]
            else:
                original[key] = _clean_item(value)
        else:
            # Absent in the live object, or a different type there: the patch value wins.
            cleaned = _clean(value)
            if cleaned is _DROP:
                original.pop(key, None)
            else:
                original[key] = cleaned
    return original
