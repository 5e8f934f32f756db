"""Shared pieces of the per-group printers: a Table spec, column builders, safe field access,
and the label, selector and container formatting every printer uses.

Objects reaching the printers are plain dicts and may be minimal or even malformed (a list where
a map belongs). Every read goes through ``dig``/``as_*`` so a missing or mistyped field yields
an empty value, never an exception: one odd object must not break ``kubectl get`` for a list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.tables.duration import since

CellsFn = Callable[[dict, dt.datetime], list]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """The columns of one resource and the function that fills a row for one object."""

    columns: tuple[dict, ...]
    cells: CellsFn


def column(name: str, description: str, type: str = "string", priority: int = 0, format: str = "") -> dict:
    """One meta.k8s.io/v1 TableColumnDefinition."""
    return {"name": name, "type": type, "format": format, "description": description, "priority": priority}


NAME_DESCRIPTION = (
    "Name of the object, unique within its namespace (or the cluster for cluster-scoped kinds)."
)
AGE_DESCRIPTION = "Time since the server created the object (metadata.creationTimestamp)."
CONTAINERS_DESCRIPTION = "Names of each container in the template."
IMAGES_DESCRIPTION = "Images referenced by each container in the template."


def name_column(priority: int = 0) -> dict:
    return column("Name", NAME_DESCRIPTION, format="name", priority=priority)


def age_column() -> dict:
    return column("Age", AGE_DESCRIPTION)


# -- safe access -------------------------------------------------------------------------------


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def opt_int(value: Any) -> int | None:
    """An int field that may be unset (a Go *int32): None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return as_int(value)


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]...; None as soon as a step is missing or not a map."""
    current = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def meta_name(obj: dict) -> str:
    return as_str(dig(obj, "metadata", "name"))


def age(obj: dict, now: dt.datetime) -> str:
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def is_deleting(obj: dict) -> bool:
    return dig(obj, "metadata", "deletionTimestamp") is not None


def condition(obj: dict, type_: str) -> dict | None:
    """The first status.conditions entry of a type, as printers look them up."""
    for entry in as_list(dig(obj, "status", "conditions")):
        if isinstance(entry, dict) and entry.get("type") == type_:
            return entry
    return None


def go_bool(value: Any) -> str:
    """A *bool printed like the printers' printBoolPtr: True, False or <unset>."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return "<unset>"


# -- formatting --------------------------------------------------------------------------------


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted key=value pairs joined by commas, "<none>" when empty."""
    pairs = as_dict(labels)
    if not pairs:
        return "<none>"
    return ",".join(f"{key}={value}" for key, value in sorted(pairs.items(), key=lambda kv: str(kv[0])))


def selector_string(selector: Any) -> str | None:
    """A metav1.LabelSelector rendered as labels.Selector.String(); None when it is invalid.

    Requirements are sorted by key (stably), In/NotIn values sorted; an empty or absent selector
    renders as the empty string.
    """
    if selector is None:
        return ""
    if not isinstance(selector, dict):
        return None
    requirements: list[tuple[str, str]] = []
    for key, value in as_dict(selector.get("matchLabels")).items():
        requirements.append((str(key), f"{key}={value}"))
    for expression in as_list(selector.get("matchExpressions")):
        if not isinstance(expression, dict):
            return None
        key, operator = as_str(expression.get("key")), expression.get("operator")
        values = [str(v) for v in as_list(expression.get("values"))]
        if operator in ("In", "NotIn"):
            if not values:
                return None
            word = "in" if operator == "In" else "notin"
            requirements.append((key, f"{key} {word} ({','.join(sorted(values))})"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                return None
            requirements.append((key, key if operator == "Exists" else f"!{key}"))
        else:
            return None
    requirements.sort(key=lambda item: item[0])
    return ",".join(text for _, text in requirements)


def format_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid."""
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def layout_containers(containers: Any) -> tuple[str, str]:
    """Container names and images, each joined by commas (the printers' layoutContainerCells)."""
    entries = [as_dict(c) for c in as_list(containers)]
    return ",".join(as_str(c.get("name")) for c in entries), ",".join(as_str(c.get("image")) for c in entries)


def int_or_string(value: Any) -> str:
    """An IntOrString rendered like intstr.String()."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return as_str(value)


def more_list(items: list[str], total: int, limit: int, empty: str) -> str:
    """Up to `limit` items joined by commas, then " + N more..." like the printers' list helpers."""
    text = ",".join(items[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty
