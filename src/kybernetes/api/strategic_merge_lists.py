"""Strategic merge patch on lists: merging by key, directives in items, and item order.

A list whose field has the ``merge`` strategy is merged, not replaced:

- items that are objects are matched by the field's merge key; a patch item merges into the
  live item with the same key, or is added. Items may carry ``$patch: delete`` (remove every
  live item with that key) or ``$patch: replace`` (the patch's items become the whole list);
- scalar items form a set: the patch's values are added, and ``$deleteFromPrimitiveList/<f>``
  in the parent map removes values.

Order follows what kube-apiserver does (apimachinery strategicpatch, "preserve order" design):
items named in the patch keep the patch's order, live items the patch does not mention keep
theirs, and the two sequences are interleaved by the live order; a ``$setElementOrder/<f>``
list in the parent map fixes the order of the items it names, which takes precedence.

One detail is replicated deliberately. Upstream computes the live order used by
``$setElementOrder`` from the live list *after* item deletions shifted it in place and new
items were appended into the freed slots (Go slices share their backing array). The effect is
visible and covered by apimachinery's own fixtures ("add map and delete map from merging list"),
so ``merge_list`` returns that view too: the merged items, cut to the live list's length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api import errors
from kybernetes.api.strategic_merge_schema import PatchSchema

DIRECTIVE = "$patch"
_MAP = "map"

MergeMap = Callable[[dict[str, Any], dict[str, Any], PatchSchema], dict[str, Any]]
Clean = Callable[[Any], Any]


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return _MAP
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list"


def element_kind(*lists: list[Any]) -> str | None:
    """The one kind of item in the lists; None when they are all empty."""
    found: str | None = None
    for values in lists:
        for value in values:
            kind = _kind(value)
            if kind == "list":
                raise errors.ApiError(422, "Invalid", "strategic merge patch: lists of lists are not supported")
            if found is None:
                found = kind
            elif kind != found:
                raise errors.bad_request(
                    f"strategic merge patch: the items of a list must all be of one type, found {found} and {kind}")
    return found


def same(a: Any, b: Any) -> bool:
    """Equality as JSON values (True is not 1)."""
    return _kind(a) == _kind(b) and a == b


def _key_of(item: Any, merge_key: str) -> Any:
    if not isinstance(item, dict):
        raise errors.bad_request(f"strategic merge patch: expected an object in a list merged by "
                                 f"{merge_key!r}, got {_kind(item)}")
    if merge_key not in item:
        raise errors.bad_request(f"strategic merge patch: map {item} does not contain declared merge key: "
                                 f"{merge_key}")
    return item[merge_key]


def _position(order: list[Any], value: Any, merge_key: str) -> int:
    """Where value is in order (by merge key for objects), or -1."""
    if merge_key:
        wanted = value.get(merge_key) if isinstance(value, dict) else None
        for i, item in enumerate(order):
            if same(item.get(merge_key) if isinstance(item, dict) else None, wanted):
                return i
        return -1
    for i, item in enumerate(order):
        if same(item, value):
            return i
    return -1


def _contains(values: list[Any], value: Any, merge_key: str) -> bool:
    return _position(values, value, merge_key) >= 0


def _sorted_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    def rank(item: Any) -> int:
        at = _position(order, item, merge_key)
        return at if at >= 0 else len(order)

    return sorted(items, key=rank)  # stable: unranked items keep their relative order


def _interleave(server_only: list[Any], patch_items: list[Any], server_order: list[Any],
                merge_key: str) -> list[Any]:
    """Both sequences keep their own order; a live item goes first only when the live order says
    it comes before the patch item it is compared with."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        else:
            left = _position(server_order, server_only[i], merge_key)
            right = _position(server_order, patch_items[j], merge_key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


def order_items(merged: list[Any], patch_order: list[Any], server_order: list[Any],
                merge_key: str) -> list[Any]:
    """Items named in patch_order in that order, interleaved with the others in server order."""
    named = [v for v in merged if _contains(patch_order, v, merge_key)]
    others = [v for v in merged if not _contains(patch_order, v, merge_key)]
    return _interleave(_sorted_by(others, server_order, merge_key), _sorted_by(named, patch_order, merge_key),
                       server_order, merge_key)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(same(value, seen) for seen in out):
            out.append(value)
    return out


def _split_directives(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any], bool]:
    """Apply the ``$patch`` items: returns (live items left, plain patch items, replaced)."""
    plain: list[Any] = []
    replace = False
    survivors = list(original)
    for item in patch:
        if not isinstance(item, dict) or DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            key = _key_of(item, merge_key)
            survivors = [v for v in survivors if not (isinstance(v, dict) and merge_key in v
                                                      and same(v[merge_key], key))]
        elif directive == "replace":
            replace = True  # keep going: other directive items are dropped as well
        elif directive == "merge":
            raise errors.bad_request("strategic merge patch: merging lists cannot yet be specified in the patch")
        else:
            raise errors.bad_request(f"strategic merge patch: unknown patch type {directive!r} in map {item}")
    return survivors, plain, replace


def merge_list(original: list[Any], patch: list[Any], items: PatchSchema, merge_key: str,
               merge_map: MergeMap, clean: Clean) -> tuple[list[Any], list[Any]]:
    """Merge a patch list into a live list with the ``merge`` strategy.

    Returns (merged list, live order view for ``$setElementOrder``; see the module docstring)."""
    if not original and not patch:
        return original, original
    kind = element_kind(original, patch)
    if kind != _MAP:
        merged = _dedupe(original + patch)
        return order_items(merged, patch, original, ""), original
    if not merge_key:
        raise errors.bad_request("strategic merge patch: cannot merge lists of objects without a merge key")
    survivors, plain, replaced = _split_directives(original, patch, merge_key)
    if replaced:
        kept = [clean(v) for v in plain]
        return kept, original
    merged = list(survivors)
    for item in plain:
        key = _key_of(item, merge_key)
        at = next((i for i, v in enumerate(merged) if isinstance(v, dict) and merge_key in v
                   and same(v[merge_key], key)), -1)
        if at >= 0:
            merged[at] = merge_map(merged[at], item, items)
        else:
            merged.append(clean(item))
    result = order_items(merged, plain, survivors, merge_key)
    view = merged[:len(original)] if len(survivors) < len(original) else original
    return result, view


def delete_from_primitive_list(original: list[Any], to_delete: list[Any]) -> list[Any]:
    """``$deleteFromPrimitiveList/<f>``: drop every occurrence of the listed scalars."""
    for value in to_delete:
        if isinstance(value, dict | list):
            raise errors.bad_request("strategic merge patch: invalid patch format of primitive list")
    return [v for v in original if not any(same(v, d) for d in to_delete)]


def check_element_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's items must appear in ``$setElementOrder`` in the same relative order."""
    if not order or not patch_list:
        return
    if merge_key:
        for item in order:
            _key_of(item, merge_key)
        items = [v for v in patch_list if not (isinstance(v, dict) and v.get(DIRECTIVE) == "delete")]
    else:
        items = patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if merge_key:
            matches = same(_key_of(item, merge_key), order[oi][merge_key])
        else:
            matches = same(item, order[oi])
        if matches:
            pi += 1
        oi += 1
    if pi < len(items):
        raise errors.bad_request(f"strategic merge patch: the order in patch list {patch_list} doesn't match "
                                 f"$setElementOrder list {order}")
