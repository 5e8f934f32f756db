"""The ``paths`` of one group/version's OpenAPI v3 document: an operation per verb per resource.

For a namespaced resource ``pods`` in ``v1`` the real server publishes

    /api/v1/pods                                   get (list across namespaces)
    /api/v1/namespaces/{namespace}/pods            get (list), post (create), delete (collection)
    /api/v1/namespaces/{namespace}/pods/{name}     get (read), put (replace), patch, delete
    /api/v1/namespaces/{namespace}/pods/{name}/S   per subresource S, per its verbs

and cluster-scoped resources the same without ``namespaces/{namespace}``. Every operation carries
``x-kubernetes-action`` and ``x-kubernetes-group-version-kind``; clients read them:

- kubectl ``apply``/``create -f``/``replace``/``edit`` look for a ``patch`` operation with the
  kind's GVK and an operation-level query parameter named ``fieldValidation``. Finding one, they
  skip client-side validation and send ``?fieldValidation=Strict`` (cli-runtime's query param
  verifier). Every patch operation therefore lists it inline, never by ``$ref``.
- kubectl ``explain`` finds a resource's kind from the GVK of its collection or item operations.

Operation ids follow the upstream pattern (``patchAppsV1NamespacedDeployment``,
``listCoreV1PodForAllNamespaces``) so generated clients find familiar names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api.registry import ResourceInfo, SubresourceInfo

SchemaRef = Callable[[str, str, str], str]  # (group, version, kind) -> component schema name

STATUS_SCHEMA = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
DELETE_OPTIONS_SCHEMA = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
PATCH_SCHEMA = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"

# Subresources that upgrade to a stream or proxy a connection rather than read/write an object.
CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})

JSON_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def _query(name: str, description: str, schema_type: str = "string", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": schema_type, "uniqueItems": True, **schema}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "uniqueItems": True}}


PRETTY = _query("pretty", "If 'true', the output is indented.")
NAMESPACE = _path_param("namespace", "The namespace the object lives in.")
NAME = _path_param("name", "The name of the object.")

DRY_RUN = _query("dryRun", "When present (only 'All' is valid), run every stage of the request "
                           "except persisting the result.")
FIELD_MANAGER = _query("fieldManager", "The name of the actor making this change, recorded in "
                                       "managedFields.")
FIELD_VALIDATION = _query(
    "fieldValidation", "How to treat unknown or duplicate fields in the body: Ignore drops them, "
                       "Warn (the default) drops them and returns a Warning header for each, "
                       "Strict rejects the request with 400 Bad Request.")
FORCE = _query("force", "Server-side apply only: take ownership of fields other managers own.",
               "boolean")
LIST_PARAMS = [
    _query("allowWatchBookmarks", "Ask for BOOKMARK events on a watch.", "boolean"),
    _query("continue", "The continue token of the previous page of a paginated list."),
    _query("fieldSelector", "Select objects by field values, e.g. metadata.name=x."),
    _query("labelSelector", "Select objects by their labels."),
    _query("limit", "Return at most this many objects; continue with the returned token.", "integer"),
    _query("resourceVersion", "The resource version to list or watch from."),
    _query("resourceVersionMatch", "How resourceVersion is applied to a list: Exact or NotOlderThan."),
    _query("sendInitialEvents", "Start a watch with the current objects, then a bookmark.", "boolean"),
    _query("timeoutSeconds", "End a list or watch after this many seconds.", "integer"),
    _query("watch", "Stream changes (ADDED, MODIFIED, DELETED) instead of listing.", "boolean"),
]
DELETE_PARAMS = [
    DRY_RUN,
    _query("gracePeriodSeconds", "Seconds before the object is deleted; 0 deletes now.", "integer"),
    _query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    _query("propagationPolicy", "Garbage collection of dependents: Orphan, Background or Foreground."),
]
WRITE_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]


def gv_path(group: str, version: str) -> str:
    """The key of a group/version in the /openapi/v3 index: "api/v1" or "apis/apps/v1"."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def operation_prefix(group: str, version: str) -> str:
    """"CoreV1", "AppsV1", "RbacAuthorizationV1", "StableExampleComV1" for operation ids."""
    if not group:
        words = ["core"]
    else:
        trimmed = group.removesuffix(".k8s.io")
        words = [w for w in trimmed.replace("-", ".").split(".") if w]
    return "".join(w[:1].upper() + w[1:] for w in words) + version[:1].upper() + version[1:]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any], types: tuple[str, ...] = JSON_TYPES) -> dict[str, Any]:
    return {t: {"schema": schema} for t in types}


def _responses(schema: dict[str, Any], *codes: str) -> dict[str, Any]:
    out = {code: {"description": _CODE_TEXT[code], "content": _json_content(schema)} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


_CODE_TEXT = {"200": "OK", "201": "Created", "202": "Accepted"}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


class _Operations:
    """Builds the operations of one resource; ``schema`` maps a GVK to a component name."""

    def __init__(self, info: ResourceInfo, schema: SchemaRef, strategic: bool):
        self.info = info
        self.schema = schema
        self.patch_types = PATCH_TYPES if strategic else tuple(
            t for t in PATCH_TYPES if t != "application/strategic-merge-patch+json")
        self.prefix = operation_prefix(info.group, info.version)
        self.scope = "Namespaced" if info.namespaced else ""
        self.gvk = _gvk(info.group, info.version, info.kind)
        self.kind_ref = _ref(schema(info.group, info.version, info.kind))

    def _op(self, verb: str, action: str, suffix: str, gvk: dict[str, str], responses: dict[str, Any],
            parameters: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
            ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "tags": [self.prefix[:1].lower() + self.prefix[1:]],
            "description": f"{action} {suffix}",
            "operationId": f"{verb}{self.prefix}{suffix}",
        }
        if parameters:
            op["parameters"] = list(parameters)
        if body is not None:
            op["requestBody"] = body
        op["responses"] = responses
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = gvk
        return op

    def _write_body(self, ref: dict[str, Any]) -> dict[str, Any]:
        return {"content": {"*/*": {"schema": ref}}, "required": True}

    def _patch_body(self) -> dict[str, Any]:
        return {"content": {t: {"schema": _ref(PATCH_SCHEMA)} for t in self.patch_types}, "required": True}

    def _delete_body(self) -> dict[str, Any]:
        return {"content": {"*/*": {"schema": _ref(DELETE_OPTIONS_SCHEMA)}}}

    def collection(self) -> dict[str, Any]:
        info, verbs = self.info, self.info.verbs
        ops: dict[str, Any] = {}
        if "list" in verbs:
            list_ref = _ref(self.schema(info.group, info.version, info.list_kind))
            ops["get"] = self._op("list", "list", f"{self.scope}{info.kind}", self.gvk,
                                  _responses(list_ref, "200"), LIST_PARAMS)
        if "create" in verbs:
            ops["post"] = self._op("create", "post", f"{self.scope}{info.kind}", self.gvk,
                                   _responses(self.kind_ref, "200", "201", "202"), WRITE_PARAMS,
                                   self._write_body(self.kind_ref))
        if "deletecollection" in verbs:
            ops["delete"] = self._op("delete", "deletecollection", f"Collection{self.scope}{info.kind}",
                                     self.gvk, _responses(_ref(STATUS_SCHEMA), "200"),
                                     [*DELETE_PARAMS, *LIST_PARAMS], self._delete_body())
        return ops

    def all_namespaces(self) -> dict[str, Any]:
        info = self.info
        if not info.namespaced or "list" not in info.verbs:
            return {}
        list_ref = _ref(self.schema(info.group, info.version, info.list_kind))
        return {"get": self._op("list", "list", f"{info.kind}ForAllNamespaces", self.gvk,
                                _responses(list_ref, "200"), LIST_PARAMS)}

    def item(self) -> dict[str, Any]:
        info, verbs = self.info, self.info.verbs
        suffix = f"{self.scope}{info.kind}"
        ops: dict[str, Any] = {}
        if "get" in verbs:
            ops["get"] = self._op("read", "get", suffix, self.gvk, _responses(self.kind_ref, "200"))
        if "update" in verbs:
            ops["put"] = self._op("replace", "put", suffix, self.gvk,
                                  _responses(self.kind_ref, "200", "201"), WRITE_PARAMS,
                                  self._write_body(self.kind_ref))
        if "patch" in verbs:
            ops["patch"] = self._op("patch", "patch", suffix, self.gvk,
                                    _responses(self.kind_ref, "200", "201"),
                                    [*WRITE_PARAMS, FORCE], self._patch_body())
        if "delete" in verbs:
            ops["delete"] = self._op("delete", "delete", suffix, self.gvk,
                                     _responses(_ref(STATUS_SCHEMA), "200", "202"), DELETE_PARAMS,
                                     self._delete_body())
        return ops

    def subresource(self, sub: SubresourceInfo) -> dict[str, Any]:
        suffix = f"{self.scope}{self.info.kind}{sub.name[:1].upper()}{sub.name[1:]}"
        gvk = _gvk(sub.group, sub.version, sub.kind)
        ops: dict[str, Any] = {}
        if sub.name in CONNECT_SUBRESOURCES or sub.name == "log":
            text = {"description": "OK", "content": {"*/*": {"schema": {"type": "string"}}}}
            for verb, method in (("get", "get"), ("create", "post"), ("update", "put"),
                                 ("patch", "patch"), ("delete", "delete")):
                if verb not in sub.verbs:
                    continue
                if sub.name == "log":
                    ops[method] = self._op("read", "get", suffix, gvk, {"200": text, "401": {"description": "Unauthorized"}})
                else:
                    ops[method] = self._op("connect", "connect", method.capitalize() + suffix, gvk,
                                           {"200": text, "401": {"description": "Unauthorized"}})
            return ops
        ref = _ref(self.schema(sub.group, sub.version, sub.kind))
        if "get" in sub.verbs:
            ops["get"] = self._op("read", "get", suffix, gvk, _responses(ref, "200"))
        if "create" in sub.verbs:
            ops["post"] = self._op("create", "post", suffix, gvk, _responses(ref, "200", "201", "202"),
                                   WRITE_PARAMS, self._write_body(ref))
        if "update" in sub.verbs:
            ops["put"] = self._op("replace", "put", suffix, gvk, _responses(ref, "200", "201"),
                                  WRITE_PARAMS, self._write_body(ref))
        if "patch" in sub.verbs:
            ops["patch"] = self._op("patch", "patch", suffix, gvk, _responses(ref, "200", "201"),
                                    [*WRITE_PARAMS, FORCE], self._patch_body())
        return ops


def resource_paths(info: ResourceInfo, schema: SchemaRef, *, strategic: bool = True) -> dict[str, Any]:
    """The path items of one resource, keyed by path template."""
    base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    ops = _Operations(info, schema, strategic)
    scope_params = [NAMESPACE, PRETTY] if info.namespaced else [PRETTY]
    collection_path = (f"{base}/namespaces/{{namespace}}/{info.resource}" if info.namespaced
                       else f"{base}/{info.resource}")
    item_path = f"{collection_path}/{{name}}"
    paths: dict[str, Any] = {}

    def add(path: str, operations: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
        if operations:
            paths[path] = {**operations, "parameters": parameters}

    add(f"{base}/{info.resource}", ops.all_namespaces(), [PRETTY])
    add(collection_path, ops.collection(), scope_params)
    add(item_path, ops.item(), [NAME, *scope_params])
    for sub in info.subresources:
        add(f"{item_path}/{sub.name}", ops.subresource(sub), [NAME, *scope_params])
    return paths
