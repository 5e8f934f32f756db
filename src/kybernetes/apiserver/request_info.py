"""What a request is about: verb, group, version, namespace, resource, name, subresource.

Parsing follows Kubernetes' RequestInfoFactory so that authorization, metrics and the handlers
all see the same words the real server would:

    /api/v1/pods                                  list pods (all namespaces)
    /api/v1/namespaces/ns1/pods/p1/status         get pod p1's status in ns1
    /api/v1/namespaces/ns1                        the namespace ns1 itself (cluster scoped)
    /api/v1/namespaces/ns1/status                 ... and its status subresource
    /apis/apps/v1/namespaces/ns1/deployments?watch=true
    /api/v1/watch/namespaces/ns1/pods             the legacy watch prefix

Parsing is pure; resolving the resource against the registry (404 for unknown ones) is separate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.registry import Registry, ResourceInfo

# Subresources of a namespace: after /namespaces/{name}/ these are not a namespaced resource.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str  # get list watch create update patch delete deletecollection, or an HTTP verb
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    namespace: str | None = None
    resource: str = ""
    name: str = ""
    subresource: str = ""
    # Extra path parts after the subresource (e.g. pods/p/proxy/some/path).
    rest: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchRequest:
    """A watch the watch hub serves (built by the REST handlers, consumed by watch.py)."""

    info: ResourceInfo
    namespace: str | None
    resource_version: str
    label_selector: Any  # kybernetes.api.selectors.LabelSelector (has .matches(labels))
    field_selector: Any  # kybernetes.api.field_selectors.FieldSelector (has .matches(obj))
    timeout_seconds: int | None
    allow_bookmarks: bool
    send_initial_events: bool | None
    as_table: bool
    include_object: str  # "None" | "Metadata" | "Object" (for Table watches)
    name: str = ""  # set for a watch of one object (metadata.name field selector or URL name)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def parse_request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Split an HTTP request into RequestInfo; never raises (non-resource paths say so)."""
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p != ""]
    non_resource = RequestInfo(False, path, method.lower())
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix = parts[0]
    parts = parts[1:]
    if prefix == "apis":
        if len(parts) < 2:  # /apis/{group} is discovery, not a resource
            return non_resource
        group, version, parts = parts[0], parts[1], parts[2:]
    else:
        group, version, parts = "", parts[0], parts[1:]
    if not parts:  # /api/v1, /apis/g/v: discovery
        return non_resource

    verb = _METHOD_VERBS.get(method, "")
    if method in ("GET", "HEAD"):
        verb = "get"
    elif method == "DELETE":
        verb = "delete"
    legacy_watch = False
    if parts[0] == "watch":
        legacy_watch = True
        verb = "watch"
        parts = parts[1:]
        if not parts:
            return non_resource

    namespace: str | None = None
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]

    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 else ""
    rest = tuple(parts[3:])
    if resource == "namespaces" and namespace is not None and parts[0] == "namespaces":
        # /api/v1/namespaces/{name}[/status]: the namespace object itself, cluster scoped.
        namespace = None

    if not verb:
        verb = method.lower()
    if verb == "get" and not name and not legacy_watch:
        verb = "watch" if _truthy(query.get("watch")) else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    elif legacy_watch and name:
        # /api/v1/watch/namespaces/ns/pods/name: a watch of one object.
        verb = "watch"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, name,
                       subresource, rest)


def not_found_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def resolve_resource(registry: Registry, ri: RequestInfo) -> ResourceInfo:
    """The ResourceInfo a request names, or 404 as the real server answers unknown paths."""
    if ri.api_prefix == "api" and ri.group:
        raise not_found_resource()
    if ri.api_prefix == "apis" and not ri.group:
        raise not_found_resource()
    info = registry.get(ri.group, ri.version, ri.resource)
    if info is None:
        raise not_found_resource()
    if ri.subresource and info.subresource(ri.subresource) is None:
        raise not_found_resource()
    return info
