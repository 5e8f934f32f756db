"""meta.k8s.io/v1 Tables: what `kubectl get` prints, built on the server.

The columns and cells of each kind come from kybernetes.api.tables; this module wraps them in a
Table with the row objects the client asked for (includeObject):

    None      rows carry no object
    Metadata  rows carry a PartialObjectMetadata (the default: kubectl -A reads NAMESPACE there)
    Object    rows carry the full object (kubectl --sort-by)

The watch hub reuses build_table for one-row Tables of watch events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.tables import custom_resource_cells, custom_resource_columns, table_cells, table_columns

INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")


def check_include_object(value: str | None) -> str:
    if value in (None, ""):
        return "Metadata"
    if value not in INCLUDE_OBJECT_VALUES:
        raise errors.bad_request(
            f'includeObject: Unsupported value: "{value}": supported values: "Metadata", "None", "Object"'
        )
    return value


def partial_object_metadata(obj: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


def _row_object(info: ResourceInfo, obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        if obj.get("kind") != info.kind or obj.get("apiVersion") != info.group_version:
            rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            return {"kind": info.kind, "apiVersion": info.group_version, **rest}
        return obj
    return partial_object_metadata(obj)


def build_table(info: ResourceInfo, objects: list[dict[str, Any]], *, include_object: str = "Metadata",
                resource_version: str = "", continue_token: str = "",
                now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    # A custom resource prints its CRD version's additionalPrinterColumns (crd_resource.py).
    printer_columns = getattr(info, "printer_columns", None) if getattr(info, "crd_name", "") else None
    rows = []
    for obj in objects:
        if printer_columns is not None:
            cells = custom_resource_cells(list(printer_columns), obj, now)
        else:
            cells = table_cells(info.group, info.resource, obj, now)
        row: dict[str, Any] = {"cells": cells}
        row["object"] = _row_object(info, obj, include_object)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": (custom_resource_columns(list(printer_columns)) if printer_columns is not None
                                  else table_columns(info.group, info.resource)),
            "rows": rows}
