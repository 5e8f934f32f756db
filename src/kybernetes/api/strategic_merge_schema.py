"""Where strategic merge patch reads how to merge each field: the official API schemas.

Kubernetes declares, per field of its Go types, how a strategic merge patch treats it: the
``patchStrategy`` (``merge``, ``replace``, ``retainKeys``, or a comma-separated pair) and, for
lists of objects, the ``patchMergeKey`` that identifies an item (containers by ``name``, ports by
``containerPort``, ownerReferences by ``uid``). The published schemas carry the same as
``x-kubernetes-patch-strategy`` and ``x-kubernetes-patch-merge-key`` on the property:

    PodSpec.properties.containers = {"type": "array", "items": {"$ref": ".../Container"},
                                     "x-kubernetes-patch-merge-key": "name",
                                     "x-kubernetes-patch-strategy": "merge"}

This module walks such schemas alongside the object being patched. It stays pure: the schemas
come in as a root schema plus a ``SchemaLookup`` (definition name -> schema) that the caller
builds from wherever it loaded them. Both spellings of a reference are followed (a bare
``$ref`` and a one-element ``allOf`` around a ``$ref``, whose siblings may carry the patch
extensions), so a graph whose refs were already resolved works as well (pass no lookup).
A field the schema does not describe has no strategy: maps merge, lists are replaced, as a JSON
merge patch would do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

STRATEGY_KEY = "x-kubernetes-patch-strategy"
MERGE_KEY_KEY = "x-kubernetes-patch-merge-key"
_REF_PREFIXES = ("#/components/schemas/", "#/$defs/", "#/definitions/")
_MAX_REF_HOPS = 32  # a ref chain longer than this is a broken schema, not a real type
_EMPTY: Mapping[str, Any] = {}


class SchemaLookup(Protocol):
    """Returns the schema of a definition, by name (``io.k8s.api.core.v1.PodSpec``), or None."""

    def __call__(self, name: str, /) -> Mapping[str, Any] | None: ...


def ref_name(ref: str) -> str:
    """The definition name a ``$ref`` points at (its prefix removed)."""
    for prefix in _REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _ref_of(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    if ref is None:
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    return ref if isinstance(ref, str) else None


def _deref(node: Any, lookup: SchemaLookup | None) -> Mapping[str, Any]:
    """The schema a node stands for, following refs (a node without refs is itself)."""
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(node, Mapping):
            return _EMPTY
        ref = _ref_of(node)
        if ref is None or lookup is None:
            return node
        target = lookup(ref_name(ref))
        if target is None:
            return node
        node = target
    return _EMPTY


def _strategies(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class FieldPatchMeta:
    """How one field is patched: its schema, patch strategies and (lists of maps) merge key."""

    schema: PatchSchema
    strategies: frozenset[str] = frozenset()
    merge_key: str = ""

    @property
    def merges(self) -> bool:
        """Lists: merge item by item (by merge key, or as a set of scalars) instead of replacing."""
        return "merge" in self.strategies

    @property
    def replaces(self) -> bool:
        """Maps: the patch value replaces the whole map instead of merging into it."""
        return "replace" in self.strategies


class PatchSchema:
    """One schema node (an object, a map or a list's item) and the lookup for its refs."""

    __slots__ = ("_lookup", "_node")

    def __init__(self, node: Mapping[str, Any] | None, lookup: SchemaLookup | None = None):
        self._node = _deref(node, lookup) if node is not None else _EMPTY
        self._lookup = lookup

    @classmethod
    def unknown(cls) -> PatchSchema:
        """No schema: every field merges like a JSON merge patch."""
        return cls(None)

    @property
    def known(self) -> bool:
        return bool(self._node)

    def field(self, name: str) -> FieldPatchMeta:
        """The patch metadata of a property (or of any value of a map-typed schema)."""
        props = self._node.get("properties")
        if isinstance(props, Mapping) and name in props:
            prop = props[name]
        elif isinstance(self._node.get("additionalProperties"), Mapping):
            prop = self._node["additionalProperties"]
        else:
            return FieldPatchMeta(PatchSchema.unknown())
        if not isinstance(prop, Mapping):
            return FieldPatchMeta(PatchSchema.unknown())
        target = _deref(prop, self._lookup)
        # The extensions sit on the property itself, beside a ref; a resolved graph may have
        # merged them into the target instead.
        strategy = prop.get(STRATEGY_KEY, target.get(STRATEGY_KEY))
        merge_key = prop.get(MERGE_KEY_KEY, target.get(MERGE_KEY_KEY))
        return FieldPatchMeta(PatchSchema(target, self._lookup), _strategies(strategy),
                              merge_key if isinstance(merge_key, str) else "")

    def items(self) -> PatchSchema:
        """The schema of the items of a list-typed schema."""
        items = self._node.get("items")
        if not isinstance(items, Mapping):
            return PatchSchema.unknown()
        return PatchSchema(items, self._lookup)
