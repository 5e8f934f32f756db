"""Label selectors: the ``?labelSelector=`` string syntax and metav1.LabelSelector objects.

The string grammar is the one kubectl users type: comma-joined requirements, each ``key``,
``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``,
``key>1`` or ``key<1``. Parsing follows apimachinery's labels parser closely enough that the same
inputs fail with the same wording ("unable to parse requirement: ..."), because users read those
messages. A parsed selector is immutable and cheap to match many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .field_errors import go_repr, label_value_errors, qualified_name_errors

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op == EXISTS:
            return present
        if op == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have = int(labels[self.key])
        except ValueError:
            return False
        want = int(self.values[0])
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()
    # A nil metav1.LabelSelector selects nothing; an empty one selects everything.
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector selects every object."""
        return not self.requirements and not self.nothing

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def new_requirement(key: str, operator: str, values: list[str] | tuple[str, ...]) -> Requirement:
    """Build a requirement, checking key, operator arity and values as NewRequirement does."""
    errs: list[str] = []
    key_errs = qualified_name_errors(key)
    if key_errs:
        errs.append(f"key: Invalid value: {go_repr(key)}: {'; '.join(key_errs)}")
    values = list(values)
    shown = go_repr(values)
    if operator in (IN, NOT_IN):
        if not values:
            errs.append(f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty")
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            errs.append(f"values: Invalid value: {shown}: exact-match compatibility requires one single value")
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if values:
            errs.append(f"values: Invalid value: {shown}: values set must be empty for exists and does not exist")
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required")
        for i, v in enumerate(values):
            try:
                int(v)
            except ValueError:
                errs.append(f"values[{i}]: Invalid value: {go_repr(v)}: for 'Gt', 'Lt' operators, "
                            "the value must be an integer")
    else:
        errs.append(f"operator: Unsupported value: {go_repr(operator)}: supported values: \"in\", \"notin\", "
                    "\"=\", \"==\", \"!=\", \"gt\", \"lt\", \"exists\", \"!\"")
    for i, v in enumerate(values):
        v_errs = label_value_errors(v)
        if v_errs:
            errs.append(f"values[{i}]: Invalid value: {go_repr(v)}: {'; '.join(v_errs)}")
    if errs:
        raise ValueError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    unique = tuple(sorted(set(values)))
    return Requirement(key, operator, unique)


# --- the string parser ----------------------------------------------------------------------------

_ID, _END, _COMMA, _OPEN, _CLOSE, _NOT = "id", "end", ",", "(", ")", "!"
_OPERATOR_TOKENS = {"=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS, ">": GREATER_THAN, "<": LESS_THAN}
_SPECIAL = "=!(),<>"


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in _SPECIAL:
            two = text[i:i + 2]
            if two in ("==", "!="):
                tokens.append(("op", two))
                i += 2
            elif c in "=<>":
                tokens.append(("op", c))
                i += 1
            else:
                tokens.append((c, c))
                i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append((word, word) if word in (IN, NOT_IN) else (_ID, word))
        i = j
    tokens.append((_END, ""))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        if values and kind in (IN, NOT_IN):
            return _ID, lit  # keywords are plain words where a key or value is expected
        return kind, lit

    def take(self, values: bool = True) -> tuple[str, str]:
        tok = self.peek(values)
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return tok

    def parse(self) -> list[Requirement]:
        out: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind in (_ID, _NOT):
                try:
                    out.append(self.requirement())
                except ValueError as e:
                    raise ValueError(f"unable to parse requirement: {e}") from None
                kind, lit = self.take()
                if kind == _END:
                    return out
                if kind != _COMMA:
                    raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
                kind2, lit2 = self.peek()
                if kind2 not in (_ID, _NOT):
                    raise ValueError(f"found '{lit2}', expected: identifier after ','")
            elif kind == _END:
                return out
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        operator = ""
        kind, lit = self.take()
        if kind == _NOT:
            operator = DOES_NOT_EXIST
            kind, lit = self.take()
        if kind != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        key_errs = qualified_name_errors(lit)
        if key_errs:
            raise ValueError(f"<nil>: Invalid value: {go_repr(lit)}: {'; '.join(key_errs)}")
        if self.peek()[0] in (_END, _COMMA):
            return new_requirement(lit, operator or EXISTS, [])
        if operator == DOES_NOT_EXIST:
            return new_requirement(lit, operator, [])
        key = lit
        kind, lit = self.take(values=False)
        if kind in (IN, NOT_IN):
            return new_requirement(key, kind, self.value_list())
        if kind == "op":
            return new_requirement(key, _OPERATOR_TOKENS[lit], self.exact_value())
        raise ValueError(f"found '{lit}', expected: {_BINARY_OPERATORS}")

    def value_list(self) -> list[str]:
        kind, lit = self.take()
        if kind != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == _CLOSE:
            self.take()
            return [""]
        if kind not in (_ID, _COMMA):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            kind, lit = self.take()
            if kind == _ID:
                values.append(lit)
                kind2, lit2 = self.peek()
                if kind2 == _CLOSE:
                    self.take()
                    return values
                if kind2 != _COMMA:
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
                self.take()
                if self.peek()[0] == _CLOSE:  # "a,)" carries an empty value
                    self.take()
                    return values + [""]
            elif kind == _COMMA:  # "(,a" or "a,,b": empty values between commas
                values.append("")
                if self.peek()[0] == _CLOSE:
                    self.take()
                    return values
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        kind, lit = self.peek()
        if kind in (_END, _COMMA):
            return [""]
        kind, lit = self.take()
        if kind == _ID:
            return [lit]
        raise ValueError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value; raise a 400 BadRequest ApiError if it is malformed."""
    if not text or not text.strip():
        return EVERYTHING
    try:
        requirements = _Parser(text).parse()
    except ValueError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_SPEC_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_spec(spec: dict[str, Any] | None) -> LabelSelector:
    """Turn a metav1.LabelSelector into a LabelSelector (None selects nothing, {} everything).

    Raises a 400 BadRequest ApiError for a malformed selector.
    """
    if spec is None:
        return NOTHING
    if not isinstance(spec, dict):
        raise bad_request(f"invalid label selector: {go_repr(spec)}")
    requirements: list[Requirement] = []
    try:
        for key, value in sorted((spec.get("matchLabels") or {}).items()):
            requirements.append(new_requirement(key, EQUALS, [str(value)]))
        for expr in spec.get("matchExpressions") or []:
            op = _SPEC_OPERATORS.get(expr.get("operator", ""))
            if op is None:
                raise ValueError(f"{go_repr(expr.get('operator', ''))} is not a valid label selector operator")
            requirements.append(new_requirement(expr.get("key", ""), op, list(expr.get("values") or [])))
    except (ValueError, AttributeError, TypeError) as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(requirements))


def selector_from_set(labels: dict[str, str] | None) -> LabelSelector:
    """Equality on every given label (ReplicationController/Service selectors are plain maps)."""
    if not labels:
        return EVERYTHING
    return LabelSelector(tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted(labels.items())))

