"""Field sets: which fields of an object a manager owns, in Kubernetes' FieldsV1 format.

Server-side apply records, per manager, a set of paths into the object. A path is a sequence of
elements, each written the way ``metadata.managedFields[].fieldsV1`` writes them:

    f:<name>        a field of a struct, or a key of a map        f:spec, f:app
    k:<json>        an item of a list keyed by its map keys       k:{"name":"nginx"}
    v:<json>        an item of a list that is a set of values     v:"example.com/finalizer"
    i:<index>       an item of a list known only by position      i:0

A set is a trie (``FieldSet``): ``members`` are the elements that are themselves in the set and
``children`` the elements below which more of the set lies. FieldsV1 is that trie as JSON, with
``".": {}`` marking a node that is both a member and has children:

    {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
     "f:spec": {"f:containers": {"k:{\\"name\\":\\"c\\"}": {".": {}, "f:image": {}}}}}

Elements are plain strings in that serialized form (key JSON with sorted keys, compact), so equal
paths are equal strings and sets are dictionaries of strings. Serialization orders elements as
structured-merge-diff does (fields, then keys, then values, then indexes), so the FieldsV1 we
write is byte-for-byte what the real server writes. This module knows nothing about schemas;
walking objects with a schema is managed_fields_walk.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

Path = tuple[str, ...]

_MEMBER = "."


class FieldPathError(ValueError):
    """A FieldsV1 document or path element that cannot be read."""


# Values orjson writes exactly as json.dumps(..., ensure_ascii=False) does (every code point of a
# string was checked); floats are not among them (NaN, exponents).
_PLAIN = frozenset({str, int, bool, type(None)})


def _canonical(value: Any) -> str:
    """Compact JSON with sorted keys, non-ASCII as is. Every list item of every compared object
    gets one (key_element), so the usual case -- a flat map of strings and integers -- is
    written by orjson, ~20x faster than json; anything else (floats, nested values, integers
    beyond 64 bits, lone surrogates) by json, as before."""
    values = value.values() if type(value) is dict else (value,)
    if all(type(v) in _PLAIN for v in values):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # an integer beyond 64 bits, a lone surrogate, a key that is no string
            pass
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def field_element(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    return "k:" + _canonical(keys)


def value_element(value: Any) -> str:
    return "v:" + _canonical(value)


def index_element(index: int) -> str:
    return f"i:{index}"


def _check_element(element: str) -> None:
    if len(element) < 2 or element[1] != ":" or element[0] not in "fkvi":
        raise FieldPathError(f"unknown path element {element!r}: expected f:, k:, v: or i:")
    if element[0] in "kv":
        try:
            decoded = json.loads(element[2:])
        except ValueError as e:
            raise FieldPathError(f"path element {element!r} does not hold JSON: {e}") from None
        if element[0] == "k" and not isinstance(decoded, dict):
            raise FieldPathError(f"key path element {element!r} must hold a JSON object")
    elif element[0] == "i" and not element[2:].isdigit():
        raise FieldPathError(f"index path element {element!r} must hold a number")


# -- ordering and printing (as structured-merge-diff) ----------------------------------------------


def _value_rank(value: Any) -> tuple:
    """The order of values in structured-merge-diff: numbers, strings, bools, lists, maps, null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value.encode())
    if isinstance(value, list):
        return (3, tuple(_value_rank(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k.encode(), _value_rank(v)) for k, v in sorted(value.items())))
    return (5,)


def element_sort_key(element: str) -> tuple:
    """Where an element sorts among its siblings (serialization order). Every FieldsV1 written
    sorts every node's elements, the same few hundred element strings over and over, so the keys
    of short elements are kept (a key depends on nothing but its string)."""
    key = _sort_keys.get(element)
    if key is None:
        key = _element_sort_key(element)
        if len(element) <= _SORT_KEY_MAX_ELEMENT:
            if len(_sort_keys) >= _SORT_KEYS_KEPT:
                _sort_keys.clear()
            _sort_keys[element] = key
    return key


_SORT_KEYS_KEPT = 16384
_SORT_KEY_MAX_ELEMENT = 256
_sort_keys: dict[str, tuple] = {}


def _element_sort_key(element: str) -> tuple:
    kind, body = element[0], element[2:]
    if kind == "f":
        return (0, body.encode())
    if kind == "k":
        keys = json.loads(body)
        return (1, tuple((k.encode(), _value_rank(v)) for k, v in sorted(keys.items())))
    if kind == "v":
        return (2, _value_rank(json.loads(body)))
    return (3, int(body) if body.isdigit() else 0)


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_value_text(v)}" for k, v in value.items())
    return str(value)


def element_text(element: str) -> str:
    """How a conflict prints one element: .name, [name="c",...], [="v"], [0]."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        keys = json.loads(body)
        return "[" + ",".join(f"{k}={_value_text(v)}" for k, v in sorted(keys.items())) + "]"
    if kind == "v":
        return f"[={_value_text(json.loads(body))}]"
    return f"[{body}]"


def path_text(path: Path) -> str:
    """A path as conflicts print it: ``.spec.template.spec.containers[name="c"].image``."""
    return "".join(element_text(e) for e in path)


# -- the set ---------------------------------------------------------------------------------------


class FieldSet:
    """A set of paths as a trie. Operations return new sets and never change their inputs."""

    __slots__ = ("children", "members")

    def __init__(self, members: set[str] | None = None, children: dict[str, FieldSet] | None = None):
        self.members: set[str] = members if members is not None else set()
        self.children: dict[str, FieldSet] = children if children is not None else {}

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        out = cls()
        for path in paths:
            out.insert(path)
        return out

    def insert(self, path: Path) -> None:
        """Add a path (in place: for building a set)."""
        if not path:
            return
        node = self
        for element in path[:-1]:
            node = node.children.setdefault(element, FieldSet())
        node.members.add(path[-1])

    def node(self, path: Path) -> FieldSet:
        """The node at ``path``, made where missing (in place: for building a set)."""
        node = self
        for element in path:
            node = node.children.setdefault(element, FieldSet())
        return node

    def has(self, path: Path) -> bool:
        node = self
        for element in path[:-1]:
            node = node.children.get(element)
            if node is None:
                return False
        return bool(path) and path[-1] in node.members

    def child(self, element: str) -> FieldSet:
        """The paths below ``element`` (what SMD calls WithPrefix), possibly empty."""
        return self.children.get(element) or FieldSet()

    def empty(self) -> bool:
        return not self.members and all(c.empty() for c in self.children.values())

    def __bool__(self) -> bool:
        return not self.empty()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.to_fields_v1() == other.to_fields_v1()

    def __repr__(self) -> str:
        return f"FieldSet({[path_text(p) for p in self.paths()]})"

    def copy(self) -> FieldSet:
        return FieldSet(set(self.members), {e: c.copy() for e, c in self.children.items()})

    def paths(self) -> Iterator[Path]:
        """Every member path, in serialization order (parents before their children)."""
        elements = sorted(set(self.members) | set(self.children), key=element_sort_key)
        for element in elements:
            if element in self.members:
                yield (element,)
            child = self.children.get(element)
            if child is not None:
                for sub in child.paths():
                    yield (element, *sub)

    def union(self, other: FieldSet) -> FieldSet:
        children = {e: c.copy() for e, c in self.children.items()}
        for element, child in other.children.items():
            children[element] = children[element].union(child) if element in children else child.copy()
        return FieldSet(self.members | other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for element, child in self.children.items():
            if element in other.children:
                both = child.intersection(other.children[element])
                if not both.empty():
                    children[element] = both
        return FieldSet(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """The paths of self that are not paths of other (a parent leaving keeps its children)."""
        children = {}
        for element, child in self.children.items():
            rest = child.difference(other.children[element]) if element in other.children else child.copy()
            if not rest.empty():
                children[element] = rest
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, but a member of other also takes away everything below it."""
        children = {}
        for element, child in self.children.items():
            if element in other.members:
                continue
            rest = (child.recursive_difference(other.children[element])
                    if element in other.children else child.copy())
            if not rest.empty():
                children[element] = rest
        return FieldSet(self.members - other.members, children)

    # -- FieldsV1 --------------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        return self._emit(include_self=False) or {}

    def _emit(self, include_self: bool) -> dict[str, Any] | None:
        """The node's FieldsV1, or None when the set below it is empty (found on the way up, not
        by asking every child ``empty()`` first, which walked each subtree once per level)."""
        out: dict[str, Any] = {}
        for element in sorted(set(self.members) | set(self.children), key=element_sort_key):
            child = self.children.get(element)
            sub = child._emit(include_self=element in self.members) if child is not None else None
            if sub is not None:
                out[element] = sub
            elif element in self.members:
                out[element] = {}
        if not out:
            return None
        return {_MEMBER: {}, **out} if include_self else out

    @classmethod
    def from_fields_v1(cls, doc: Any) -> FieldSet:
        """Read FieldsV1 JSON; FieldPathError when it is not a trie of known path elements."""
        if not isinstance(doc, dict):
            raise FieldPathError("FieldsV1 must be a JSON object")
        out = cls()
        for element, sub in doc.items():
            if element == _MEMBER:
                continue
            _check_element(element)
            if not isinstance(sub, dict):
                raise FieldPathError(f"FieldsV1 value under {element!r} must be a JSON object")
            if not sub:
                out.members.add(element)
                continue
            if _MEMBER in sub:
                out.members.add(element)
            child = cls.from_fields_v1(sub)
            if not child.empty():
                out.children[element] = child
        return out
