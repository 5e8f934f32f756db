"""Matching rules shared by several plugins: tolerations against taints, node selectors.

Taints and tolerations (core/v1 helpers): a toleration with an empty key and operator Exists
tolerates everything; an empty effect matches every effect; operator Equal (the default)
compares values, Exists ignores them.

Node selectors (nodeAffinity's nodeSelectorTerms): terms are ORed, the expressions inside a term
ANDed; a term with no expressions matches nothing. Operators In, NotIn, Exists, DoesNotExist,
Gt, Lt on labels, and matchFields on metadata.name (In / NotIn) only.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taint(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.get("effect") not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


class Expression:
    __slots__ = ("key", "operator", "values", "number")

    def __init__(self, expr: Obj):
        self.key = expr.get("key") or ""
        self.operator = expr.get("operator") or ""
        self.values = frozenset(str(v) for v in expr.get("values") or [])
        self.number: int | None = None
        if self.operator in ("Gt", "Lt"):
            try:
                self.number = int(next(iter(self.values)))
            except (StopIteration, ValueError):
                self.number = None

    def matches(self, values: dict[str, str]) -> bool:
        op = self.operator
        present = self.key in values
        if op == "In":
            return present and values[self.key] in self.values
        if op == "NotIn":
            return not present or values[self.key] not in self.values
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return not present
        if op in ("Gt", "Lt") and present and self.number is not None:
            try:
                have = int(values[self.key])
            except ValueError:
                return False
            return have > self.number if op == "Gt" else have < self.number
        return False


class NodeSelectorTerm:
    __slots__ = ("expressions", "fields", "empty")

    def __init__(self, term: Obj):
        self.expressions = [Expression(e) for e in term.get("matchExpressions") or [] if isinstance(e, dict)]
        self.fields = [Expression(e) for e in term.get("matchFields") or []
                       if isinstance(e, dict) and e.get("key") == "metadata.name"]
        bad_fields = [e for e in term.get("matchFields") or [] if not isinstance(e, dict)
                      or e.get("key") != "metadata.name"]
        self.empty = (not self.expressions and not self.fields) or bool(bad_fields)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if self.empty:
            return False
        for e in self.expressions:
            if not e.matches(labels):
                return False
        if self.fields:
            fields = {"metadata.name": name}
            return all(e.matches(fields) for e in self.fields)
        return True


class NodeSelector:
    """A compiled nodeSelectorTerms list (ORed)."""

    __slots__ = ("terms",)

    def __init__(self, terms: list[Obj] | None):
        self.terms = [NodeSelectorTerm(t) for t in terms or [] if isinstance(t, dict)]

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return any(t.matches(name, labels) for t in self.terms)

    def node_names(self) -> set[str] | None:
        """The only node names that can match, when every term pins metadata.name with In."""
        names: set[str] = set()
        for term in self.terms:
            pinned = [e for e in term.fields if e.operator == "In"]
            if not pinned:
                return None
            allowed = set(pinned[0].values)
            for e in pinned[1:]:
                allowed &= e.values
            names |= allowed
        return names if self.terms else None


class RequiredNodeAffinity:
    """A pod's hard node constraints: spec.nodeSelector AND required nodeAffinity."""

    __slots__ = ("node_selector", "required")

    def __init__(self, spec: Obj):
        self.node_selector: dict[str, str] = {str(k): str(v) for k, v in (spec.get("nodeSelector") or {}).items()}
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.required = NodeSelector(required.get("nodeSelectorTerms")) if isinstance(required, dict) else None

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.required is None

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        for k, v in self.node_selector.items():
            if labels.get(k) != v:
                return False
        return self.required is None or self.required.matches(name, labels)
