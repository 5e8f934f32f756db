"""/openapi/v3: one OpenAPI 3.0 document per group/version, as kube-apiserver serves them.

    GET /openapi/v3                 {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}, ...}}
    GET /openapi/v3/apis/apps/v1    {"openapi": "3.0.0", "info", "paths", "components": {"schemas"}}
    GET /openapi/v2                 a Swagger 2.0 document without definitions (protobuf or JSON)

Why it matters: kubectl ``apply``, ``create -f``, ``replace`` and ``edit`` validate by default
and fail ("failed to download openapi") when there is no OpenAPI at all; with a document whose
``patch`` operations carry the kind's GVK and a ``fieldValidation`` parameter they leave the
validation to the server (``?fieldValidation=Strict``). ``kubectl explain`` renders the schemas.

Documents are built on first request, off the event loop (a thread), and cached per
group/version under a hash of everything they are built from: the group/version's resources in
the registry, custom schemas set for them, the schema release and this generator's version. The
index announces that hash; a request carrying the current ``?hash=`` gets ``Cache-Control:
public, immutable`` (clients cache it for good), a stale one a 301 to the current URL, as the
real server does. Custom resources without a schema get one that keeps unknown fields.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

import kybernetes
from kybernetes.api import errors
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver.openapi_paths import (
    DELETE_OPTIONS_SCHEMA,
    PATCH_SCHEMA,
    STATUS_SCHEMA,
    gv_path,
    resource_paths,
)
from kybernetes.apiserver.openapi_schemas import (
    SchemaLibrary,
    SchemasUnavailableError,
    default_library,
    schema_for,
    schema_source,
)

__all__ = ["OPENAPI_KEY", "OpenApiDocuments", "schema_for", "setup_openapi"]

log = logging.getLogger(__name__)

# Bump when the shape of the generated documents changes: it is part of every hash, and clients
# cache a hashed document for good.
DOCUMENT_FORMAT = "1"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_COMMON_SCHEMAS = (STATUS_SCHEMA, DELETE_OPTIONS_SCHEMA, PATCH_SCHEMA)
_ONE_YEAR = 365 * 24 * 3600


def _reversed_group(group: str) -> str:
    return ".".join(reversed(group.split("."))) if group else "core"


def _json_accepted(accept: str) -> bool:
    if not accept.strip():
        return True
    for clause in accept.split(","):
        media = clause.split(";", 1)[0].strip().lower()
        if media in ("application/json", "application/*", "*/*"):
            return True
    return False


class OpenApiDocuments:
    """The documents of one registry: hashes, lazily built bodies, custom schemas."""

    def __init__(self, registry: Registry, library: SchemaLibrary | None = None):
        self.registry = registry
        self._library = library
        self._custom: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._custom_generation = 0
        self._hashes_at: tuple[int, int] | None = None
        self._hashes: dict[str, str] = {}
        self._bodies: dict[str, tuple[str, bytes]] = {}  # gv path -> (hash, body)
        self._lock = threading.Lock()
        self.build_seconds: dict[str, float] = {}  # gv path -> time the last build took

    # -- schemas --------------------------------------------------------------------------------

    def library(self) -> SchemaLibrary:
        if self._library is None:
            self._library = default_library()
        return self._library

    def _source(self) -> str:
        """Which schema release documents are built from, without loading it."""
        if self._library is not None:
            return self._library.source
        try:
            return schema_source()
        except SchemasUnavailableError as e:
            return f"unavailable: {e}"

    def set_custom_schema(self, group: str, version: str, kind: str, schema: dict[str, Any] | None) -> None:
        """Publish a CRD version's openAPIV3Schema for its kind (None: back to the open default)."""
        key = (group, version, kind)
        if schema is None:
            self._custom.pop(key, None)
        else:
            self._custom[key] = schema
        self._custom_generation += 1

    # -- hashes and the index -------------------------------------------------------------------

    def group_versions(self) -> dict[str, list[ResourceInfo]]:
        out: dict[str, list[ResourceInfo]] = {}
        for group in self.registry.groups():
            for version in group.versions:
                resources = self.registry.resources(group.name, version)
                if resources:
                    out[gv_path(group.name, version)] = resources
        return out

    def hashes(self) -> dict[str, str]:
        """gv path -> the hash of everything its document is built from."""
        stamp = (self.registry.generation, self._custom_generation)
        if self._hashes_at == stamp:
            return self._hashes
        source = self._source()
        all_custom = list(self._custom.items())  # a snapshot: this may run in a builder thread
        hashes: dict[str, str] = {}
        for path, resources in self.group_versions().items():
            custom = sorted((k, v) for k, v in all_custom
                            if any(r.group == k[0] and r.version == k[1] for r in resources))
            material = orjson.dumps([DOCUMENT_FORMAT, kybernetes.__version__, source, path,
                                     [repr(r) for r in resources], repr(custom)])
            hashes[path] = hashlib.sha512(material).hexdigest().upper()
        self._hashes, self._hashes_at = hashes, stamp
        for gone in [p for p in self._bodies if p not in hashes]:
            self._bodies.pop(gone, None)
        return hashes

    def index(self) -> dict[str, Any]:
        return {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={quote(h)}"}
                          for path, h in self.hashes().items()}}

    # -- documents ------------------------------------------------------------------------------

    def cached(self, path: str) -> tuple[str, bytes] | None:
        """The current body of a document if it is already built."""
        want = self.hashes().get(path)
        entry = self._bodies.get(path)
        return entry if entry is not None and entry[0] == want else None

    def document_bytes(self, path: str) -> tuple[str, bytes] | None:
        """(hash, JSON body) of one group/version's document, or None for an unknown one."""
        with self._lock:
            hashes = self.hashes()
            if path not in hashes:
                return None
            entry = self._bodies.get(path)
            if entry is not None and entry[0] == hashes[path]:
                return entry
            started = time.perf_counter()
            body = orjson.dumps(self.build(path))
            self.build_seconds[path] = time.perf_counter() - started
            log.debug("built /openapi/v3/%s (%d bytes) in %.1f ms", path, len(body),
                      self.build_seconds[path] * 1000)
            entry = (hashes[path], body)
            self._bodies[path] = entry
            return entry

    def build(self, path: str) -> dict[str, Any]:
        """The OpenAPI 3.0 document of one group/version (raises SchemasUnavailableError)."""
        resources = self.group_versions().get(path)
        if resources is None:
            raise KeyError(path)
        library = self.library()
        synthetic: dict[str, dict[str, Any]] = {}
        list_items = {(r.group, r.version, r.list_kind): r.kind for r in resources}

        def schema_name(group: str, version: str, kind: str) -> str:
            custom = self._custom.get((group, version, kind))
            name = None if custom is not None else library.name_for(group, version, kind)
            if name is not None:
                return name
            name = f"{_reversed_group(group)}.{version}.{kind}"
            if name not in synthetic:
                item = list_items.get((group, version, kind))
                if item and custom is None:
                    synthetic[name] = _list_schema(group, version, kind, schema_name(group, version, item))
                else:
                    synthetic[name] = _object_schema(group, version, kind, custom)
            return name

        paths: dict[str, Any] = {}
        for info in resources:
            built_in = ((info.group, info.version, info.kind) not in self._custom
                        and library.name_for(info.group, info.version, info.kind) is not None)
            paths.update(resource_paths(info, schema_name, strategic=built_in))
        roots = {*_COMMON_SCHEMAS, *_referenced(paths), *_referenced(list(synthetic.values()))}
        schemas = library.closure(name for name in roots if name not in synthetic)
        schemas.update(synthetic)
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": kybernetes.KUBERNETES_VERSION},
            "paths": paths,
            "components": {"schemas": dict(sorted(schemas.items()))},
        }


_TYPE_META = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}


def _component_ref(name: str) -> dict[str, Any]:
    return {"allOf": [{"$ref": f"#/components/schemas/{name}"}]}


def _object_schema(group: str, version: str, kind: str, custom: dict[str, Any] | None) -> dict[str, Any]:
    """A custom resource's kind: its CRD schema if set, else any object (unknown fields kept)."""
    schema = dict(custom) if custom else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema["properties"] = {**_TYPE_META, "metadata": _component_ref(OBJECT_META),
                            **(schema.get("properties") or {})}
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return schema


def _list_schema(group: str, version: str, kind: str, item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {**_TYPE_META,
                       "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                       "metadata": _component_ref(LIST_META)},
        "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}],
    }


def _referenced(node: Any) -> set[str]:
    """Component names named by any $ref inside ``node`` (paths of a document)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                found.add(ref.removeprefix("#/components/schemas/"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


OPENAPI_KEY = web.AppKey("openapi_documents", OpenApiDocuments)


def _json_response(body: bytes, etag: str, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(body=body, headers={"ETag": f'"{etag}"', **(headers or {})})
    resp.content_type = "application/json"
    return resp


def _not_modified(request: web.Request, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in request.headers.get("If-None-Match", "").split(",")]
    return etag in tags or "*" in tags


# kubectl reads /openapi/v2 (protobuf only) for one thing: client-side validation of a kind whose
# group/version document has no PATCH operation to learn server-side validation from (the
# create-only reviews, bindings, evictions, token requests). A kind the v2 document doesn't
# define is not validated client-side (the server validates it on create); without any v2
# document, `kubectl create -f` of such a kind fails with "failed to download openapi".
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # asked for with "@v1.0"
V2_DOCUMENT = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": kybernetes.KUBERNETES_VERSION},
               "paths": {}, "definitions": {}}


def _proto_string(field: int, value: str) -> bytes:
    raw = value.encode()
    return bytes([field << 3 | 2, len(raw)]) + raw  # every string here is shorter than 128 bytes


# gnostic openapi_v2.Document: 1 swagger, 2 info (Info: 1 title, 2 version)
_INFO = _proto_string(1, V2_DOCUMENT["info"]["title"]) + _proto_string(2, V2_DOCUMENT["info"]["version"])
V2_DOCUMENT_PROTOBUF = _proto_string(1, "2.0") + bytes([2 << 3 | 2, len(_INFO)]) + _INFO


def setup_openapi(app: web.Application, registry: Registry, library: SchemaLibrary | None = None,
                  ) -> OpenApiDocuments:
    """Register /openapi/v3, /openapi/v3/{group/version} and a 404 /openapi/v2 on ``app``.

    Call it before any catch-all route. ``library`` defaults to the installed release's schemas."""
    docs = OpenApiDocuments(registry, library)
    app[OPENAPI_KEY] = docs

    async def get_index(request: web.Request) -> web.StreamResponse:
        body = orjson.dumps(docs.index())
        etag = hashlib.sha512(body).hexdigest().upper()
        if _not_modified(request, etag):
            return web.Response(status=304, headers={"ETag": f'"{etag}"'})
        return _json_response(body, etag)

    async def get_document(request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"].strip("/")
        current = docs.hashes().get(path)
        if current is None:
            raise errors.ApiError(404, "NotFound", f"the server could not find the OpenAPI v3 document {path!r}")
        if not _json_accepted(request.headers.get("Accept", "")):
            raise errors.not_acceptable("only application/json is supported for OpenAPI v3 documents")
        wanted = request.query.get("hash")
        if wanted and wanted != current:
            return web.Response(status=301, headers={"Location": f"/openapi/v3/{path}?hash={quote(current)}"})
        entry = docs.cached(path)
        if entry is None:
            try:
                # A cold build takes tens of milliseconds: keep it off the event loop.
                entry = await asyncio.to_thread(docs.document_bytes, path)
            except SchemasUnavailableError as e:
                raise errors.service_unavailable(f"OpenAPI v3 schemas are unavailable: {e}") from e
            if entry is None:  # the group/version went away meanwhile
                raise errors.ApiError(404, "NotFound", f"the server could not find the OpenAPI v3 document {path!r}")
        etag, body = entry
        headers = {"Vary": "Accept"}
        if wanted:
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = formatdate(time.time() + _ONE_YEAR, usegmt=True)
        if _not_modified(request, etag):
            return web.Response(status=304, headers={"ETag": f'"{etag}"', **headers})
        return _json_response(body, etag, headers)

    async def get_v2(request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        if "com.github.proto-openapi.spec.v2" in accept or "application/vnd.kubernetes.protobuf" in accept:
            return web.Response(body=V2_DOCUMENT_PROTOBUF, headers={"Content-Type": V2_PROTOBUF})
        if _json_accepted(accept):
            return web.json_response(V2_DOCUMENT)
        raise errors.not_acceptable("the OpenAPI v2 document is served as protobuf or JSON")

    app.router.add_get("/openapi/v3", get_index)
    app.router.add_get("/openapi/v3/{path:.+}", get_document)
    app.router.add_get("/openapi/v2", get_v2)
    return docs
