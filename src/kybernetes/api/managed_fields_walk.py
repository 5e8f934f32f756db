"""Walking objects with their schema: field sets, comparisons, merges and removals.

These are the four operations server-side apply is built from (structured-merge-diff's
``typed`` package does the same in Go):

    to_field_set(obj)      the fields an object sets (what an applier owns)
    compare(old, new)      the fields added, modified and removed between two objects
    merge(live, config)    the live object with an applied configuration laid over it
    remove_items(obj, s)   the object without the fields and items of a set

How a value is walked depends on its schema (an OpenAPI schema object, refs resolved):

    struct   an object with ``properties``: fields are walked one by one
    map      ``additionalProperties``: every key is its own field (labels, annotations)
    list     ``x-kubernetes-list-type``: ``atomic`` (one value), ``set`` (items are scalars,
             each owned on its own) or ``map`` (items identified by ``x-kubernetes-list-map-keys``:
             containers by name, ports by containerPort and protocol)
    scalar   strings, numbers, booleans, int-or-string
    untyped  no schema (unknown fields, preserve-unknown-fields): maps are walked key by key,
             lists are atomic

``x-kubernetes-map-type: atomic`` makes a struct or map one value (label selectors). A list
without a list type whose patch strategy is ``merge`` is keyed by its patch merge key (or a set
without one), as kube-openapi converts such schemas; any other list is atomic. A map-list item
that leaves out a key field takes the field's default when the schema has one (ports default
their protocol to TCP, which the published schemas no longer carry, so it is known here).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.api.fieldpath import (
    FieldSet,
    Path,
    element_text,
    field_element,
    key_element,
    path_text,
    value_element,
)

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

SCALAR, STRUCT, MAP, LIST, UNTYPED = "scalar", "struct", "map", "list", "untyped"
# Key fields whose default the published schemas do not carry.
_KEY_DEFAULTS = {"protocol": "TCP"}
_EMPTY: Mapping[str, Any] = {}


class FieldSetError(ValueError):
    """An object that cannot be walked: duplicate or keyless items in a keyed list."""

    def __init__(self, path: Path, message: str):
        super().__init__(f"{path_text(path)}: {message}" if path else message)


@dataclass(frozen=True, slots=True)
class Shape:
    kind: str
    atomic: bool = False
    keys: tuple[str, ...] = ()   # map-lists: the item keys; () with kind LIST and not atomic: a set


_UNTYPED_SHAPE = Shape(UNTYPED)
_shapes: dict[int, tuple[Any, Shape]] = {}
_MISSING: Any = object()


def _cached(cache: dict[int, tuple[Any, Any]], schema: Mapping[str, Any]) -> Any:
    """What ``cache`` holds for this very schema object, or _MISSING."""
    known = cache.get(id(schema))
    return known[1] if known is not None and known[0] is schema else _MISSING


def _remember(cache: dict[int, tuple[Any, Any]], schema: Mapping[str, Any], value: Any) -> Any:
    if len(cache) > 4096:
        cache.clear()
    cache[id(schema)] = (schema, value)  # the schema is held, so its id stays its own
    return value


def _per_schema(cache: dict[int, tuple[Any, Any]], schema: Mapping[str, Any], build: Any) -> Any:
    """``build(schema)``, worked out once per schema object."""
    known = _cached(cache, schema)
    if known is _MISSING:
        known = _remember(cache, schema, build(schema))
    return known


def shape_of(schema: Mapping[str, Any] | None) -> Shape:
    """How values of ``schema`` are walked (worked out once per schema object)."""
    return _per_schema(_shapes, schema, _shape_of) if schema else _UNTYPED_SHAPE


def _shape_of(schema: Mapping[str, Any]) -> Shape:
    kind = schema.get("type")
    if kind == "array" or "items" in schema:
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or ()
            return Shape(LIST, keys=tuple(k for k in keys if isinstance(k, str)))
        if list_type == "set":
            return Shape(LIST)
        if list_type is None and "merge" in str(schema.get("x-kubernetes-patch-strategy") or ""):
            merge_key = schema.get("x-kubernetes-patch-merge-key")
            return Shape(LIST, keys=(merge_key,) if isinstance(merge_key, str) else ())
        return Shape(LIST, atomic=True)
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if kind == "object" or props is not None or extra is not None:
        atomic = schema.get("x-kubernetes-map-type") == "atomic"
        if isinstance(props, Mapping) and props:
            return Shape(STRUCT, atomic=atomic)
        if isinstance(extra, Mapping) and extra:
            return Shape(MAP, atomic=atomic)
        return Shape(UNTYPED, atomic=atomic)
    if kind in ("string", "integer", "number", "boolean") or schema.get("x-kubernetes-int-or-string"):
        return Shape(SCALAR)
    return Shape(UNTYPED)


def field_schema(schema: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """The schema of one field of a struct or map (None: untyped)."""
    if not schema:
        return None
    props = schema.get("properties")
    if isinstance(props, Mapping) and name in props:
        return props[name]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) and extra else None


def declares(schema: Mapping[str, Any] | None, name: str) -> bool:
    """Whether ``name`` is a named field of a struct (not a key of a map)."""
    props = (schema or _EMPTY).get("properties")
    return isinstance(props, Mapping) and name in props and bool(props)


def item_schema(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    items = (schema or _EMPTY).get("items")
    return items if isinstance(items, Mapping) else None


# How a value is walked: its shape, corrected by what the value is (a value of another type than
# the schema says is one leaf, as structured-merge-diff does when it cannot descend).
_LEAF, _MAPPING, _KEYED = "leaf", "mapping", "keyed"


def _walk_kind(shape: Shape, *values: Any) -> str:
    present = [v for v in values if v is not MISSING and v is not None]
    if shape.kind == SCALAR or shape.atomic:
        return _LEAF
    if shape.kind in (STRUCT, MAP) or (shape.kind == UNTYPED and any(isinstance(v, dict) for v in present)):
        if not all(isinstance(v, dict) for v in present) or not any(present):
            return _LEAF
        return _MAPPING
    if shape.kind == LIST:
        if not all(isinstance(v, list) for v in present) or not any(present):
            return _LEAF
        return _KEYED
    return _LEAF


def item_keys(shape: Shape, item: Mapping[str, Any]) -> dict[str, Any]:
    """A map-list item's key fields, the defaulted ones (protocol: TCP) filled in."""
    keys = {}
    for name in shape.keys:
        if name in item:
            keys[name] = item[name]
        elif name in _KEY_DEFAULTS:
            keys[name] = _KEY_DEFAULTS[name]
    return keys


def item_element(shape: Shape, item: Any, path: Path) -> str:
    """The path element of a list item: k:{keys} for map-lists, v:value for sets."""
    if shape.keys:
        if not isinstance(item, dict):
            raise FieldSetError(path, "associative list with keys may not have non-map elements")
        keys = item_keys(shape, item)
        if not keys:
            raise FieldSetError(path, "associative list with keys has an element that omits all key fields "
                                      f"{list(shape.keys)!r} (and doesn't have default values for any key fields)")
        return key_element(keys)
    if isinstance(item, (dict, list)) or item is None:
        raise FieldSetError(path, "associative list without keys has an element that's not a scalar")
    return value_element(item)


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells true from 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and isinstance(b, (dict, list)) == isinstance(a, (dict, list))


def _element_counts(pairs: list[tuple[str, Any]]) -> Counter[str]:
    """How often each element occurs among ``_elements``' pairs (a keyed item listed twice is
    not walked)."""
    return Counter(element for element, _ in pairs)


def _elements(shape: Shape, items: list, path: Path) -> list[tuple[str, Any]]:
    return [(item_element(shape, item, path), item) for item in items]


# -- to_field_set ----------------------------------------------------------------------------------


def to_field_set(obj: Any, schema: Mapping[str, Any] | None, *, allow_duplicates: bool = True) -> FieldSet:
    """The fields ``obj`` sets. An applied configuration may not list a keyed item twice
    (``allow_duplicates=False``); stored objects that do are tolerated, as upstream."""
    out = FieldSet()
    _to_set((), obj, schema, out, allow_duplicates)
    return out


def _to_set(path: Path, value: Any, schema: Mapping[str, Any] | None, out: FieldSet,
            allow_duplicates: bool = True) -> None:
    shape = shape_of(schema)
    if shape.kind == SCALAR or shape.atomic:
        out.insert(path)
    elif isinstance(value, dict) and shape.kind in (STRUCT, MAP, UNTYPED):
        for name, sub in value.items():
            child = (*path, field_element(name))
            _to_set(child, sub, field_schema(schema, name), out, allow_duplicates)
            if sub is None or sub == {} or not declares(schema, name):
                out.insert(child)
    elif isinstance(value, list) and shape.kind == LIST:
        items = item_schema(schema)
        pairs = _elements(shape, value, path)
        counts = _element_counts(pairs)
        for element, item in pairs:
            child = (*path, element)
            if counts[element] == 1:
                _to_set(child, item, items, out, allow_duplicates)
            elif not allow_duplicates:
                raise FieldSetError(path, f"duplicate entries for key {element_text(element)}")
            out.insert(child)
    elif value is not None or shape.kind == UNTYPED:
        out.insert(path)  # an untyped scalar or list, or a value of another type than the schema's


# -- compare ---------------------------------------------------------------------------------------


@dataclass
class Comparison:
    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def empty(self) -> bool:
        return self.added.empty() and self.modified.empty() and self.removed.empty()


def compare(old: Any, new: Any, schema: Mapping[str, Any] | None) -> Comparison:
    out = Comparison()
    _compare((), old, new, schema, out)
    return out


def _compare(path: Path, old: Any, new: Any, schema: Mapping[str, Any] | None, out: Comparison) -> None:
    if old is MISSING and new is not MISSING and path:
        _added(path, new, schema, out.added.node(path[:-1]))
        return
    shape = shape_of(schema)
    how = _walk_kind(shape, old, new)
    if how == _LEAF:
        if old is MISSING:
            out.added.insert(path)
        elif new is MISSING:
            out.removed.insert(path)
        elif not same(old, new):
            out.modified.insert(path)
        return
    if how == _MAPPING:
        lhs = old if isinstance(old, dict) else {}
        rhs = new if isinstance(new, dict) else {}
        for name in [*lhs, *(k for k in rhs if k not in lhs)]:
            before, after = lhs.get(name, MISSING), rhs.get(name, MISSING)
            sub = field_schema(schema, name)
            if _unchanged(before, after, sub):
                continue
            _compare((*path, field_element(name)), before, after, sub, out)
    else:
        _compare_items(path, shape, old, new, item_schema(schema), out)
    if old is MISSING:
        out.added.insert(path)
    elif new is MISSING:
        out.removed.insert(path)


class _Fields:
    """What walking values of one schema needs, looked up once per schema object: its shape and
    the schemas of its fields (``field_schema``) and items (``item_schema``)."""

    __slots__ = ("extra", "items", "props", "schema", "shape")

    def __init__(self, schema: Mapping[str, Any] | None):
        self.schema = schema  # held, so the id it is cached under stays its own
        self.shape = shape_of(schema)
        props = (schema or _EMPTY).get("properties")
        self.props = props if isinstance(props, Mapping) else None
        extra = (schema or _EMPTY).get("additionalProperties")
        self.extra = extra if isinstance(extra, Mapping) and extra else None
        self.items = item_schema(schema)

    def field(self, name: str) -> Mapping[str, Any] | None:
        """field_schema(schema, name)."""
        props = self.props
        if props is not None and name in props:
            return props[name]
        return self.extra


_fields: dict[int, tuple[Any, _Fields]] = {}
_UNTYPED_FIELDS = _Fields(None)


def _fields_of(schema: Mapping[str, Any] | None) -> _Fields:
    return _per_schema(_fields, schema, _Fields) if schema else _UNTYPED_FIELDS


def _added(path: Path, new: Any, schema: Mapping[str, Any] | None, parent: FieldSet) -> None:
    """What ``_compare(path, MISSING, new)`` puts into the added set, put into ``parent`` (the
    added set's node of ``path[:-1]``) directly. A value that is all new (the status a kubelet
    writes first, a field a patch adds) is most of what an update walks: this visits it in the
    same order, with the same errors, without diffing it against nothing or inserting every
    path from the root. Walked as _walk_kind says for one value: a non-empty map below a
    struct, map or untyped schema, or a non-empty list below a keyed-list schema; else a leaf."""
    element = path[-1]
    parent.members.add(element)
    fields = _fields_of(schema)
    shape = fields.shape
    if shape.kind == SCALAR or shape.atomic or not new:
        return
    if shape.kind == LIST:
        if not isinstance(new, list):
            return
    elif not isinstance(new, dict) or shape.kind not in (STRUCT, MAP, UNTYPED):
        return
    node = parent.children.get(element)
    if node is None:
        node = parent.children[element] = FieldSet()
    if shape.kind != LIST:
        for name, item in new.items():
            _added((*path, "f:" + name), item, fields.field(name), node)
        return
    pairs = _elements(shape, new, path)
    counts = _element_counts(pairs)
    items = fields.items
    for item_element_, item in pairs:
        if counts[item_element_] == 1:
            _added((*path, item_element_), item, items, node)
        elif counts[item_element_] > 1:  # listed twice: added as one, not walked (as _compare_items)
            node.members.add(item_element_)
            counts[item_element_] = 0


def _unchanged(old: Any, new: Any, schema: Mapping[str, Any] | None) -> bool:
    """Whether comparing these two values would find nothing, known without walking them: equal
    values of one type (serialized alike, so true is not 1). Most of an update is such values.
    Walking equal values finds nothing, but it can fail, on a keyed list with an item it cannot
    key: below a schema with keyed lists only the lists are looked at (``_walkable``), and a
    value that would fail is walked, to fail the same way."""
    if type(old) is not type(new) or old is MISSING:
        return False
    if not isinstance(old, (dict, list)):
        return old == new
    if old != new:
        return False
    try:
        if orjson.dumps(old) != orjson.dumps(new):
            return False
    except TypeError:
        return False
    return not _has_keyed_lists(schema) or _walkable(old, schema)


def _walkable(value: Any, schema: Mapping[str, Any] | None) -> bool:
    """Whether ``_compare`` of ``value`` against an equal copy of it gets through without a
    FieldSetError. It goes where that walk goes (the children _unchanged does not skip, and the
    items of keyed lists listed once), but keys the items of keyed lists and nothing else."""
    if not _has_keyed_lists(schema):
        return True  # (a walk below such a schema never keys an item)
    shape = shape_of(schema)
    how = _walk_kind(shape, value)
    if how == _LEAF:
        return True
    if how == _MAPPING:
        return all(_walkable(item, field_schema(schema, name)) for name, item in value.items()
                   if isinstance(item, (dict, list)))
    try:
        pairs = _elements(shape, value, ())
    except FieldSetError:
        return False
    counts = _element_counts(pairs)
    items = item_schema(schema)
    return all(_walkable(item, items) for element, item in pairs
               if counts[element] == 1 and isinstance(item, (dict, list)))


_keyed: dict[int, tuple[Any, bool]] = {}


def _has_keyed_lists(schema: Mapping[str, Any] | None) -> bool:
    """Whether a value of this schema may hold a map-list or set anywhere (cached per schema)."""
    if not schema:
        return False
    known = _cached(_keyed, schema)
    if known is not _MISSING:
        return known
    _remember(_keyed, schema, True)  # while it is worked out (a schema that holds itself)
    shape = shape_of(schema)
    if shape.kind == SCALAR or shape.atomic:
        found = False
    elif shape.kind == LIST:
        found = True
    else:
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        found = (isinstance(props, Mapping) and any(_has_keyed_lists(p) for p in props.values()
                                                    if isinstance(p, Mapping))
                 or isinstance(extra, Mapping) and _has_keyed_lists(extra))
    return _remember(_keyed, schema, found)


def _compare_items(path: Path, shape: Shape, old: Any, new: Any, items: Mapping[str, Any] | None,
                   out: Comparison) -> None:
    lhs: dict[str, list] = {}
    rhs: dict[str, list] = {}
    for element, item in _elements(shape, old if isinstance(old, list) else [], path):
        lhs.setdefault(element, []).append(item)
    for element, item in _elements(shape, new if isinstance(new, list) else [], path):
        rhs.setdefault(element, []).append(item)
    for element in [*lhs, *(e for e in rhs if e not in lhs)]:
        before, after = lhs.get(element, []), rhs.get(element, [])
        child = (*path, element)
        if len(before) <= 1 and len(after) <= 1:
            _compare(child, before[0] if before else MISSING, after[0] if after else MISSING, items, out)
        elif len(before) >= 2 and len(after) >= 2:
            if not same(before, after):
                out.modified.insert(child)
        elif len(before) >= 2:
            if after:
                _compare(child, MISSING, after[0], items, out)
            out.removed.insert(child)
        else:
            if before:
                _compare(child, before[0], MISSING, items, out)
            out.added.insert(child)


# -- merge -----------------------------------------------------------------------------------------


def merge(live: Any, config: Any, schema: Mapping[str, Any] | None) -> Any:
    """``config`` laid over ``live``: config's values win, live keeps what config leaves out."""
    return copy.deepcopy(_merge((), live, config, schema))


def _merge(path: Path, live: Any, config: Any, schema: Mapping[str, Any] | None) -> Any:
    if config is MISSING:
        return live
    if live is MISSING:
        return config
    shape = shape_of(schema)
    how = _walk_kind(shape, live, config)
    if how == _LEAF:
        return config
    if how == _MAPPING:
        lhs = live if isinstance(live, dict) else {}
        rhs = config if isinstance(config, dict) else {}
        out = {}
        for name in [*lhs, *(k for k in rhs if k not in lhs)]:
            merged = _merge((*path, field_element(name)), lhs.get(name, MISSING), rhs.get(name, MISSING),
                            field_schema(schema, name))
            if merged is not MISSING:
                out[name] = merged
        return out
    return _merge_items(path, shape, live if isinstance(live, list) else [],
                        config if isinstance(config, list) else [], item_schema(schema))


def _merge_items(path: Path, shape: Shape, live: list, config: list, items: Mapping[str, Any] | None) -> list:
    """Items of both lists, merged by key, keeping the order of each list where they agree (the
    order structured-merge-diff produces: shared items in the config's order, live-only items
    where they were, config-only items after the shared item they follow)."""
    left = _elements(shape, live, path)
    right = _elements(shape, config, path)
    right_items: dict[str, Any] = {}
    for element, item in right:
        if element in right_items:
            raise FieldSetError((*path, element), "duplicate entries for key in the applied configuration")
        right_items[element] = item
    left_items: dict[str, Any] = {}
    for element, item in left:
        left_items[element] = item if element not in left_items else MISSING
    shared = [e for e, _ in right if e in left_items]
    next_shared = shared.pop(0) if shared else None
    out: list = []
    done: set[str] = set()
    li = ri = 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            element = left[li][0]
            if element == right[ri][0]:
                done.add(element)
                out.append(_merge((*path, element), left_items[element], right_items[element], items))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in right_items and next_shared is not None and next_shared != element:
                li += 1
                continue
        if li < len(left):
            element, item = left[li]
            if element not in right_items:
                out.append(item)
                li += 1
                continue
            if element in done:
                li += 1
        if ri < len(right):
            element = right[ri][0]
            done.add(element)
            out.append(_merge((*path, element), left_items.get(element, MISSING), right_items[element], items))
            ri += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
    return [item for item in out if item is not MISSING]


# -- remove_items, ensure_named_fields_are_members -------------------------------------------------


def remove_items(obj: Any, remove: FieldSet, schema: Mapping[str, Any] | None) -> Any:
    """A copy of ``obj`` without the members of ``remove`` (each with everything below it)."""
    return copy.deepcopy(_remove((), obj, remove, schema))


def _remove(path: Path, value: Any, remove: FieldSet, schema: Mapping[str, Any] | None) -> Any:
    shape = shape_of(schema)
    how = _walk_kind(shape, value)
    if how == _LEAF or remove.empty():
        return value
    if how == _MAPPING:
        out = {}
        for name, sub in value.items():
            element = field_element(name)
            if element in remove.members:
                continue
            if element in remove.children:
                sub = _remove((*path, element), sub, remove.children[element], field_schema(schema, name))
                if sub is MISSING:
                    continue
            out[name] = sub
        return out if out else MISSING
    items = item_schema(schema)
    kept = []
    for element, item in _elements(shape, value, path):
        if element in remove.members:
            continue
        if element in remove.children:
            item = _remove((*path, element), item, remove.children[element], items)
            if item is MISSING:
                item = {}
        kept.append(item)
    return kept if kept else MISSING


def ensure_named_fields_are_members(fields: FieldSet, schema: Mapping[str, Any] | None) -> FieldSet:
    """The set with every named struct field that has paths below it made a member too."""
    out = FieldSet(set(fields.members), {})
    for element, child in fields.children.items():
        if element.startswith("f:"):
            name = element[2:]
            if declares(schema, name):
                out.members.add(element)
            sub = field_schema(schema, name)
        else:
            sub = item_schema(schema)
        out.children[element] = ensure_named_fields_are_members(child, sub)
    return out
