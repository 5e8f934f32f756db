"""Tables for custom resources, built from a CRD version's additionalPrinterColumns, the way
apiextensions-apiserver's table convertor builds them.

The columns are Name (format name) followed by each printer column (name, type, format,
description, priority); a version without printer columns gets the default the CRD API fills
in, one "Age" column of type date over .metadata.creationTimestamp. Each cell is the first
result of the column's JSONPath: string columns print it the way Go's fmt prints a value
("map[a:1]", "[x y]", "true"), integer/number/boolean columns keep typed values, date columns
print a human age, and a missing value or a value of the wrong type is null.

Only the JSONPath subset CRDs use is supported: .field, ['field'], [n], [*] and filters like
[?(@.type=="Ready")]. An expression we cannot parse yields null cells rather than an error.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from kybernetes.api.tables.common import NAME_DESCRIPTION, column
from kybernetes.api.tables.duration import parse_time, since

DEFAULT_PRINTER_COLUMNS = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},)

_FIELD = re.compile(r"\.([^.\[\]]+)")
_BRACKET = re.compile(r"\[((?:[^\]'\"]|'[^']*'|\"[^\"]*\")*)\]")
_FILTER = re.compile(r"^\?\(\s*@((?:\.[^.\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)$")


def _columns_or_default(printer_columns: Any) -> list[dict]:
    entries = (
        [c for c in printer_columns or () if isinstance(c, dict)]
        if isinstance(printer_columns, list | tuple)
        else []
    )
    return entries or list(DEFAULT_PRINTER_COLUMNS)


def custom_resource_columns(printer_columns: Any) -> list[dict]:
    """Table columns for a custom resource version's additionalPrinterColumns."""
    columns = [column("Name", NAME_DESCRIPTION, format="name")]
    for entry in _columns_or_default(printer_columns):
        path = str(entry.get("jsonPath", ""))
        description = (
            entry.get("description") or f"Custom resource definition column (in JSONPath format): {path}"
        )
        priority = entry.get("priority")
        columns.append(
            column(
                str(entry.get("name", "")),
                str(description),
                type=str(entry.get("type", "string")),
                format=str(entry.get("format") or ""),
                priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
            )
        )
    return columns


def custom_resource_cells(printer_columns: Any, obj: dict, now: dt.datetime) -> list:
    """The cells of one custom resource, one per column of custom_resource_columns."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    cells: list = [name if isinstance(name, str) else ""]
    for entry in _columns_or_default(printer_columns):
        results = evaluate(str(entry.get("jsonPath", "")), obj)
        if not results:
            cells.append(None)
            continue
        value, type_ = results[0], entry.get("type", "string")
        cells.append(go_text(value) if type_ == "string" else _typed_cell(type_, value, now))
    return cells


def _typed_cell(type_: Any, value: Any, now: dt.datetime) -> Any:
    if value is None or isinstance(value, bool) and type_ != "boolean":
        return None
    if type_ == "integer" and isinstance(value, int | float):
        return int(value)
    if type_ == "number" and isinstance(value, int | float):
        return float(value)
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if type_ == "date" and isinstance(value, str):
        return since(value, now) if parse_time(value) is not None else "<invalid>"
    return None


# -- printing values as Go's fmt does ----------------------------------------------------------


def _go_float(value: float) -> str:
    """Go's %v for a float64: shortest digits, exponent form below 1e-4 or from 1e+06 up."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # where the decimal point falls within the digits
    prefix = "-" if sign else ""
    magnitude = point - 1
    if magnitude < -4 or magnitude >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_text(value: Any) -> str:
    """A decoded JSON value printed like fmt.Fprint prints the unstructured Go value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(f"{k}:{go_text(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
            + "]"
        )
    if isinstance(value, list):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    return str(value)


# -- JSONPath subset ---------------------------------------------------------------------------


def _steps(path: str) -> list[tuple[str, Any]] | None:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text.startswith("..", position):
            return None  # recursive descent is not supported
        field = _FIELD.match(text, position)
        if field:
            steps.append(("field", field.group(1)))
            position = field.end()
            continue
        bracket = _BRACKET.match(text, position)
        if not bracket:
            return None
        steps.append(_bracket_step(bracket.group(1).strip()))
        position = bracket.end()
    return steps if all(kind != "bad" for kind, _ in steps) else None


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return _NO_VALUE


_NO_VALUE = object()


def _bracket_step(inner: str) -> tuple[str, Any]:
    if inner == "*":
        return ("all", None)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    condition = _FILTER.match(inner)
    if condition:
        fields = [f for f in condition.group(1).split(".") if f]
        operator, literal = condition.group(2), condition.group(3)
        value = _literal(literal) if operator else None
        if operator and value is _NO_VALUE:
            return ("bad", None)
        return ("filter", (fields, operator, value))
    return ("bad", None)


def _matches(item: Any, fields: list[str], operator: str | None, wanted: Any) -> bool:
    current = item
    for field in fields:
        if not isinstance(current, dict) or field not in current:
            return False
        current = current[field]
    if operator is None:
        return True
    try:
        if operator == "==":
            return current == wanted
        if operator == "!=":
            return current != wanted
        if (
            isinstance(current, bool)
            or not isinstance(current, int | float)
            or not isinstance(wanted, int | float)
        ):
            return False
        return {
            "<": current < wanted,
            ">": current > wanted,
            "<=": current <= wanted,
            ">=": current >= wanted,
        }[operator]
    except TypeError:
        return False


def evaluate(path: str, obj: Any) -> list:
    """All values the path selects in obj, in order; [] when none or when the path is unsupported."""
    steps = _steps(path)
    if steps is None:
        return []
    current = [obj]
    for kind, argument in steps:
        following: list = []
        for value in current:
            if kind == "field" and isinstance(value, dict) and argument in value:
                following.append(value[argument])
            elif kind == "index" and isinstance(value, list) and -len(value) <= argument < len(value):
                following.append(value[argument])
            elif kind == "all" and isinstance(value, list | dict):
                following.extend(value if isinstance(value, list) else value.values())
            elif kind == "filter" and isinstance(value, list):
                following.extend(item for item in value if _matches(item, *argument))
        current = following
    return current
