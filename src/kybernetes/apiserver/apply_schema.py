"""What field tracking needs to know about a resource: its schema, reset fields, manager names.

    managed_schema(info)        the schema field sets are walked with: the official schema of a
                                built-in kind, or a CRD version's structural schema (with the
                                standard ObjectMeta grafted in, since CRD schemas leave metadata
                                out)
    track_options(info, sub)    TrackOptions for a write through the main resource or a
                                subresource: the main resource of a kind with a status
                                subresource does not track status, the status subresource tracks
                                nothing but status and metadata
    request_manager(request)    ?fieldManager=, else the User-Agent before its first "/"
                                (kubectl/v1.32.0 ... -> "kubectl"), else "unknown"

objects.py calls track_update on create/update/patch; apply.py calls managed_fields.apply.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kybernetes.api import errors, managed_fields, meta
from kybernetes.api.fieldpath import FieldSet
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.openapi_schemas import SchemasUnavailableError, default_library, schema_for

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_STATUS_ONLY = FieldSet.of(("f:spec",))
_NO_STATUS = FieldSet.of(("f:status",))
# Struct fields of built-in kinds that Go holds by value (not pointer): an empty typed object
# already has them, so writes never "add" them as a whole (see managed_fields.py).
VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy",
                           "resources", "jobTemplate"})
_crd_cache: dict[int, tuple[Any, dict[str, Any]]] = {}


def _custom_schema(info: Any) -> dict[str, Any] | None:
    base = getattr(info, "schema", None)
    cached = _crd_cache.get(id(info))
    if cached is not None and cached[0] is base:
        return cached[1]
    schema: dict[str, Any] = dict(base) if isinstance(base, Mapping) else {"type": "object"}
    props = dict(schema.get("properties") or {})
    try:
        props["metadata"] = default_library().resolved(_OBJECT_META) or {"type": "object"}
    except SchemasUnavailableError:
        props.setdefault("metadata", {"type": "object"})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    schema["properties"] = props
    if not isinstance(base, Mapping) or not base.get("properties"):
        # No schema for the rest: every other field is untyped (maps walked, lists atomic).
        schema["x-kubernetes-preserve-unknown-fields"] = True
    if len(_crd_cache) > 256:
        _crd_cache.clear()
    _crd_cache[id(info)] = (base, schema)
    return schema


_builtin_schemas: dict[tuple[str, str, str], Mapping[str, Any]] = {}


def managed_schema(info: ResourceInfo) -> Mapping[str, Any] | None:
    if getattr(info, "crd_name", ""):
        return _custom_schema(info)
    key = (info.group, info.version, info.kind)
    known = _builtin_schemas.get(key)  # the library's schemas never change once loaded
    if known is not None:
        return known
    try:
        schema = schema_for(info.group, info.version, info.kind)
    except SchemasUnavailableError:
        return None
    if schema is not None:
        _builtin_schemas[key] = schema
    return schema


_now_second: list[Any] = [None, ""]


def _now() -> str:
    """meta.now_rfc3339(), worked out once a second (every write asks for it)."""
    second = int(time.time())
    if second != _now_second[0]:
        _now_second[:] = [second, meta.format_rfc3339(datetime.fromtimestamp(second, UTC))]
    return _now_second[1]


def track_options(info: ResourceInfo, subresource: str = "") -> managed_fields.TrackOptions:
    ignored = None
    if subresource == "status":
        ignored = _STATUS_ONLY
    elif not subresource and info.has_status:
        ignored = _NO_STATUS
    builtin = not getattr(info, "crd_name", "")
    return managed_fields.TrackOptions(
        schema=managed_schema(info), api_version=info.group_version, now=_now(),
        subresource=subresource, ignored=ignored,
        value_structs=VALUE_STRUCTS if builtin else frozenset())


def check_manager(manager: str) -> None:
    """422 for a fieldManager that is too long or not printable (as PatchOptions validation)."""
    causes = managed_fields.field_manager_causes(manager)
    if causes:
        raise errors.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                              + ", ".join(f"{c.field}: {c.message}" for c in causes),
                              group="meta.k8s.io", kind="PatchOptions", causes=causes)


def request_manager(query: Mapping[str, str], user_agent: str | None) -> str:
    given = query.get("fieldManager") or ""
    if given:
        check_manager(given)
        return given
    return managed_fields.manager_from_user_agent(user_agent) or "unknown"
