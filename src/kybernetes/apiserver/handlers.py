"""The generic REST handlers: one entry point for every /api and /apis resource request.

    request ─► RequestInfo (request_info.py, set by the auth middleware) ─► ResourceInfo (404)
            ─► scope checks ─► verb allowed on the resource (405)
            ─► subresource handlers (subresources.py) | get | list | watch | create | update
               | patch | delete | deletecollection  ─► objects.py / listing.py / deletion.py

Handlers only translate HTTP (query parameters, bodies, negotiation, status codes) into calls of
the object store; the behaviour of objects lives in the modules below them.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.api.selectors import parse_label_selector
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver import deletion, patching, strategies
from kybernetes.apiserver.apply_schema import request_manager
from kybernetes.apiserver.authn import request_user
from kybernetes.apiserver.crd_resource import CustomResourceInfo
from kybernetes.apiserver.crd_strategy import on_read, parse_field_selector_for
from kybernetes.apiserver.field_validation import check_fields
from kybernetes.apiserver.listing import ListOptions, list_body, list_objects
from kybernetes.apiserver.negotiation import Negotiated, parse_accept
from kybernetes.apiserver.objects import ObjectStore, WriteContext, set_type_meta
from kybernetes.apiserver.request_info import (
    RequestInfo,
    WatchRequest,
    parse_request_info,
    resolve_resource,
)
from kybernetes.apiserver.responses import body_response, object_response
from kybernetes.apiserver.table_response import build_table, check_include_object, partial_object_metadata

REQUEST_INFO_KEY = web.RequestKey("request_info", RequestInfo)



def request_info_of(request: web.Request) -> RequestInfo:
    ri = request.get(REQUEST_INFO_KEY)
    if ri is None:
        ri = parse_request_info(request.method, request.path, request.query)
        request[REQUEST_INFO_KEY] = ri
    return ri


def _int_param(query, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: Invalid value: {value!r}: must be an integer") from None


def _bool_param(query, name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    return value.lower() in ("true", "1", "")


def write_context(request: web.Request) -> WriteContext:
    dry_run = request.query.getall("dryRun", [])
    for value in dry_run:
        if value != "All":
            raise errors.bad_request(f'Invalid dry run value "{value}": supported values: "All"')
    ri = request_info_of(request)
    return WriteContext(user=request_user(request), dry_run=bool(dry_run),
                        field_manager=request_manager(request.query, request.headers.get("User-Agent")),
                        track_subresource=ri.subresource if ri.subresource == "scale" else "")


def fresh_copies(obj: dict[str, Any]):
    """A mutation giving a fresh copy of ``obj`` on every call (an orjson round trip when that
    gives back the very same value, as for any JSON body; a deep copy for what YAML can hold)."""
    try:
        data = orjson.dumps(obj)
        if orjson.loads(data) == obj:
            return lambda _old: orjson.loads(data)
    except (TypeError, orjson.JSONEncodeError):
        pass
    return lambda _old: copy.deepcopy(obj)


def list_options(request: web.Request, info: ResourceInfo) -> ListOptions:
    q = request.query
    labels = q.get("labelSelector")
    fields = q.get("fieldSelector")
    return ListOptions(
        label_selector=parse_label_selector(labels) if labels else None,
        field_selector=parse_field_selector_for(fields, info) if fields else None,
        limit=_int_param(q, "limit") or 0,
        continue_token=q.get("continue", ""),
        resource_version=q.get("resourceVersion"),
        resource_version_match=q.get("resourceVersionMatch", ""),
    )


class ResourceHandlers:
    def __init__(self, objects: ObjectStore, registry: Registry, watch_hub: Any = None):
        self.objects = objects
        self.registry = registry
        self.watch_hub = watch_hub
        self.watch_cache: Any = None  # set by server.build_app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ri = request_info_of(request)
        if not ri.is_resource_request:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        info = resolve_resource(self.registry, ri)
        if not info.namespaced and ri.namespace is not None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if ri.subresource == "scale" and isinstance(info, CustomResourceInfo):
            from kybernetes.apiserver.crd_scale import handle_scale

            if info.namespaced and ri.namespace is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            if ri.verb not in ("get", "update", "patch"):
                raise errors.method_not_allowed(f"{ri.verb} is not supported on {info.resource}/scale")
            return await handle_scale(self, request, ri, info)
        if ri.subresource:
            from kybernetes.apiserver.subresources import handle_subresource

            return await handle_subresource(self, request, ri, info)
        verb = ri.verb
        # Writes to a collection path need no name, writes to an object path need one; the real
        # server has no route for the other combinations and answers 405.
        if (verb in ("update", "patch") and not ri.name) or (verb == "create" and ri.name):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if verb not in info.verbs:
            raise errors.method_not_allowed(
                f"{verb} is not supported on resources of kind {info.kind!r}"
                if verb else "the server does not allow this method on the requested resource"
            )
        if info.namespaced and ri.namespace is None and verb not in ("list", "watch"):
            if verb == "create":
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        handler = getattr(self, f"_{verb}", None)
        if handler is None:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        return await handler(request, ri, info)

    # -- reads ---------------------------------------------------------------------------------

    async def _get(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"))
        obj = await self.objects.get(info, ri.namespace, ri.name)
        return self.render_one(request, info, obj, neg)

    def render_one(self, request: web.Request, info: ResourceInfo, obj: dict[str, Any],
                   neg: Negotiated, status: int = 200) -> web.Response:
        if neg.as_table:
            include = check_include_object(request.query.get("includeObject"))
            table = build_table(info, [obj], include_object=include,
                                resource_version=obj["metadata"].get("resourceVersion", ""))
            return object_response(table, status, neg.media)
        if neg.shape == "PartialObjectMetadata":
            return object_response(partial_object_metadata(obj, neg.shape_version), status, neg.media)
        return object_response(obj, status, neg.media)

    async def _list(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"))
        # Custom resources are decoded to get their schema defaults (see crd_strategy.on_read).
        raw = neg.media == "json" and not neg.shape and not isinstance(info, CustomResourceInfo)
        opts = list_options(request, info)
        # The watch cache answers what it can (watch_cache.py); the rest is read from the store.
        source = self.objects.store if self.watch_cache is None else await self.watch_cache.list_source(info, opts)
        page = await list_objects(source, info, ri.namespace, opts, raw=raw)
        if isinstance(info, CustomResourceInfo):
            page.items = [on_read(info, o) for o in page.items]
        if raw:
            memo = source.splice_memo(info) if hasattr(source, "splice_memo") else None
            return body_response(list_body(info, page, memo))
        if neg.as_table:
            include = check_include_object(request.query.get("includeObject"))
            objs = [set_type_meta(info, o) for o in page.items]
            table = build_table(info, objs, include_object=include,
                                resource_version=page.resource_version, continue_token=page.continue_token)
            return object_response(table, 200, neg.media)
        if neg.shape in ("PartialObjectMetadataList", "PartialObjectMetadata"):
            metadata = {"resourceVersion": page.resource_version}
            if page.continue_token:
                metadata["continue"] = page.continue_token
            out = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{neg.shape_version}",
                   "metadata": metadata,
                   "items": [partial_object_metadata(o, neg.shape_version) for o in page.items]}
            return object_response(out, 200, neg.media)
        return object_response(orjson.loads(list_body(info, page)), 200, neg.media)

    async def _watch(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        if self.watch_hub is None:
            raise errors.method_not_allowed("watch is not available on this server")
        neg = parse_accept(request.headers.get("Accept"))
        q = request.query
        opts = list_options(request, info)
        field_selector = opts.field_selector
        if ri.name:
            text = f"metadata.name={ri.name}"
            if q.get("fieldSelector"):
                text = f"{q['fieldSelector']},{text}"
            field_selector = parse_field_selector_for(text, info)
        rv = opts.resource_version or ""
        if rv and rv != "0":
            try:
                if int(rv) < 0:
                    raise ValueError
            except ValueError:
                raise errors.bad_request(f'invalid resourceVersion: "{rv}" is not a non-negative integer') from None
        watch_request = WatchRequest(
            info=info,
            namespace=ri.namespace,
            resource_version=rv,
            label_selector=opts.label_selector,
            field_selector=field_selector,
            timeout_seconds=_int_param(q, "timeoutSeconds"),
            allow_bookmarks=bool(_bool_param(q, "allowWatchBookmarks")),
            send_initial_events=_bool_param(q, "sendInitialEvents"),
            as_table=neg.as_table,
            include_object=check_include_object(q.get("includeObject")),
            name=ri.name,
        )
        return await self.watch_hub.serve(request, watch_request)

    # -- writes --------------------------------------------------------------------------------

    async def read_body_object(self, request: web.Request, info: ResourceInfo,
                               namespace: str | None) -> dict[str, Any]:
        obj, raw, is_json = await bodies.read_object_and_raw(request)
        bodies.check_type_meta(info, obj)
        bodies.check_namespace(info, obj, namespace)
        check_fields(request, info, obj, raw, is_json)
        return obj

    async def _create(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        if info.group == "" and info.resource == "bindings":
            from kybernetes.apiserver.subresources import create_binding

            return await create_binding(self, request, ri.namespace, "")
        if info.verbs == ("create",) or "get" not in info.verbs:
            from kybernetes.apiserver.reviews import handle_review

            return await handle_review(self, request, ri, info)
        neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
        obj = await self.read_body_object(request, info, ri.namespace)
        created = await self.objects.create(info, ri.namespace, obj, write_context(request))
        return object_response(created, 201, neg.media)

    async def _update(self, request: web.Request, ri: RequestInfo, info: ResourceInfo,
                      subresource: str = "") -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
        obj = await self.read_body_object(request, info, ri.namespace)
        bodies.check_name(obj, ri.name)
        create_with = None
        if not subresource and strategies.allows_create_on_update(info):
            create_with = obj
        # The body is copied for every attempt: an attempt changes what it is given.
        result, created = await self.objects.update(
            info, ri.namespace, ri.name, fresh_copies(obj), write_context(request),
            subresource=subresource, create_if_missing=create_with, cached_read=True,
        )
        return object_response(result, 201 if created else 200, neg.media)

    async def _patch(self, request: web.Request, ri: RequestInfo, info: ResourceInfo,
                     subresource: str = "") -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
        ctype = bodies.content_type(request)
        patching.check_patch_type(ctype, info.group, info.version, info.kind)
        if ctype == bodies.APPLY_PATCH:
            from kybernetes.apiserver.apply import handle_apply

            return await handle_apply(self, request, ri, info, subresource)
        patching.check_patch_options(request.query)
        patch = bodies.decode_json(await bodies.read_raw(request))

        def apply(old: dict[str, Any]) -> dict[str, Any]:
            # The stored resourceVersion is not a precondition; one the patch sets is.
            old.get("metadata", {}).pop("resourceVersion", None)
            patched = patching.apply_patch(ctype, old, patch, info.group, info.version, info.kind)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patched object must be a JSON object")
            bodies.check_type_meta(info, patched)
            bodies.check_namespace(info, patched, ri.namespace)
            bodies.check_name(patched, ri.name)
            return patched

        result, _ = await self.objects.update(info, ri.namespace, ri.name, apply, write_context(request),
                                              subresource=subresource, cached_read=True)
        return object_response(result, 200, neg.media)

    async def _delete(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
        opts = deletion.parse_delete_options(await bodies.read_optional_object(request), request.query)
        ctx = write_context(request)
        opts.dry_run = opts.dry_run or ctx.dry_run
        ctx.dry_run = opts.dry_run
        result = await deletion.delete(self.objects, info, ri.namespace, ri.name, opts, ctx)
        return object_response(result, 200, neg.media)

    async def _deletecollection(self, request: web.Request, ri: RequestInfo,
                                info: ResourceInfo) -> web.StreamResponse:
        neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
        opts = deletion.parse_delete_options(await bodies.read_optional_object(request), request.query)
        ctx = write_context(request)
        opts.dry_run = opts.dry_run or ctx.dry_run
        ctx.dry_run = opts.dry_run
        lopts = list_options(request, info)
        lopts.limit = 0
        lopts.continue_token = ""
        result = await deletion.delete_collection(self.objects, info, ri.namespace, lopts, opts, ctx)
        return object_response(result, 200, neg.media)
