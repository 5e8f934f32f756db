"""Server-side Table columns and cells for every built-in kind (meta.k8s.io/v1 Table).

kubectl has no printers of its own for built-in kinds: ``kubectl get`` prints exactly the
columns and cells the server returns. This package reproduces the real server's printers
(kubernetes pkg/printers/internalversion/printers.go): the same columns in the same order, with
the same names, types, formats and priorities (priority 1 = only with ``-o wide``), and cells
formatted as the real printers format them. Like the real server we always produce the wide
cells; kubectl drops the priority > 0 columns itself.

    table_columns(group, resource)           -> list of TableColumnDefinition dicts
    table_cells(group, resource, obj, now)   -> list of cells, one per column
    human_duration(seconds)                  -> "5m", "3h2m", "2d3h" (apimachinery HumanDuration)
    table_row_conditions(group, resource, obj) -> TableRow "conditions" (pods: Completed), or []
    custom_resource_columns / custom_resource_cells  -> tables for CRs (additionalPrinterColumns)

Resources without a printer upstream (roles, clusterroles, limitranges,
customresourcedefinitions, and anything unknown) get the generic apiserver's default table:
"Name" (string, format name) and "Created At" (type date), the latter an RFC 3339 UTC
timestamp string, exactly as k8s.io/apiserver's default table convertor prints them.

One module per API group; each exports ``TABLES``: {(group, resource): TableSpec}.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables import (
    admissionregistration,
    apiregistration,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    events,
    flowcontrol,
    networking,
    pods,
    policy,
    rbac,
    scheduling,
    storage,
    volumes,
)
from kybernetes.api.tables.common import NAME_DESCRIPTION, TableSpec, column, dig
from kybernetes.api.tables.custom import custom_resource_cells, custom_resource_columns
from kybernetes.api.tables.duration import human_duration, rfc3339

__all__ = [
    "custom_resource_cells",
    "custom_resource_columns",
    "has_printer",
    "human_duration",
    "table_cells",
    "table_columns",
    "table_row_conditions",
]

_REGISTRY: dict[tuple[str, str], TableSpec] = {}
for _module in (
    pods,
    core,
    volumes,
    events,
    apps,
    batch,
    networking,
    rbac,
    storage,
    autoscaling,
    policy,
    admissionregistration,
    coordination,
    scheduling,
    certificates,
    flowcontrol,
    apiregistration,
):
    _REGISTRY.update(_module.TABLES)


def _default_cells(obj: dict, now: dt.datetime) -> list:
    name = dig(obj, "metadata", "name")
    return [name if isinstance(name, str) else "", rfc3339(dig(obj, "metadata", "creationTimestamp"))]


DEFAULT_TABLE = TableSpec(
    (
        column("Name", NAME_DESCRIPTION, format="name"),
        column("Created At", "Time the server created the object (metadata.creationTimestamp).", type="date"),
    ),
    _default_cells,
)


def _spec(group: str, resource: str) -> TableSpec:
    return _REGISTRY.get((group, resource.lower()), DEFAULT_TABLE)


def has_printer(group: str, resource: str) -> bool:
    """Whether the resource has its own printer (False means the default Name/Created At table)."""
    return (group, resource.lower()) in _REGISTRY


def table_columns(group: str, resource: str) -> list[dict]:
    """The Table column definitions for a resource (fresh dicts; callers may change them)."""
    return [dict(c) for c in _spec(group, resource).columns]


def table_cells(group: str, resource: str, obj: dict, now: dt.datetime) -> list:
    """The cells of one object's row, one per column of table_columns(group, resource)."""
    if not isinstance(obj, dict):
        obj = {}
    return _spec(group, resource).cells(obj, now)


def table_row_conditions(group: str, resource: str, obj: dict) -> list[dict]:
    """Conditions for the row's optional "conditions" field (omit it when empty).

    Only pods have them upstream: a Succeeded or Failed pod's row is marked Completed.
    """
    if (group, resource.lower()) == ("", "pods") and isinstance(obj, dict):
        return pods.pod_row_conditions(obj)
    return []
