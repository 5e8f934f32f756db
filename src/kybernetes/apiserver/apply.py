"""PATCH with Content-Type application/apply-patch+yaml: server-side apply.

    PATCH .../deployments/web?fieldManager=kubectl&force=false&fieldValidation=Strict
    body: the configuration (YAML, or JSON, which is YAML), with apiVersion, kind and name

    no fieldManager                     422 PatchOptions invalid (as kube-apiserver)
    apiVersion / kind not the URL's     400
    metadata.managedFields in the body  400 "metadata.managedFields must be nil"
    object missing                      created from the configuration: 201
    object present                      configuration merged in: 200
    another manager's field changed     409 Conflict, one FieldManagerConflict cause per field,
                                        unless force=true, which takes the fields over

The merge and the ownership bookkeeping are kybernetes.api.managed_fields; this module reads the
request and drives ObjectStore.update, so apply goes through the same defaulting, admission,
validation, dry run and storage as every other write.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors, managed_fields
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver.apply_schema import check_manager, track_options
from kybernetes.apiserver.field_validation import check_fields
from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.apiserver.responses import object_response

_TRUE = ("true", "1", "")


def _options(query) -> tuple[str, bool]:
    manager = query.get("fieldManager") or ""
    if not manager:
        raise errors.ApiError(
            422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
            "is required for apply patch", group="meta.k8s.io", kind="PatchOptions",
            causes=[errors.Cause("FieldValueRequired", "Required value: is required for apply patch",
                                 "fieldManager")])
    check_manager(manager)
    force = query.get("force")
    return manager, force is not None and force.lower() in _TRUE


async def read_configuration(request: web.Request, info: ResourceInfo) -> dict[str, Any]:
    raw = await bodies.read_raw(request)
    if not raw.strip():
        raise errors.bad_request("the request body is empty; an apply configuration was expected")
    config = bodies.decode_yaml(raw)
    if not isinstance(config, dict):
        raise errors.bad_request("an apply configuration must be an object")
    api_version = config.get("apiVersion")
    if api_version != info.group_version:
        raise errors.bad_request("Incorrect version specified in apply patch. Specified patch version: "
                                 f"{api_version or ''}, expected: {info.group_version}")
    if config.get("kind") != info.kind:
        group_version = api_version if "/" in str(api_version) else f"/{api_version}"
        raise errors.bad_request(f"invalid object type: {group_version}, Kind={config.get('kind') or ''}")
    if not isinstance(config.get("metadata"), dict):
        raise errors.bad_request("metadata must be an object with the name of the object")
    if config["metadata"].get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    is_json = raw.lstrip()[:1] in (b"{", b"[")
    check_fields(request, info, config, raw, is_json)
    return config


async def handle_apply(handlers, request: web.Request, ri, info: ResourceInfo,
                       subresource: str = "") -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
    manager, force = _options(request.query)
    config = await read_configuration(request, info)
    bodies.check_namespace(info, config, ri.namespace)
    bodies.check_name(config, ri.name)
    ctx = write_context(request)
    ctx.field_manager = manager
    ctx.applied = True
    opts = track_options(info, subresource)

    def apply(live: dict[str, Any]) -> dict[str, Any]:
        # The stored resourceVersion is no precondition; one in the configuration is.
        live.get("metadata", {}).pop("resourceVersion", None)
        new, _changed = managed_fields.apply(live, config, manager, force, opts)
        return new

    create_with = None
    if not subresource:
        create_with, _ = managed_fields.apply(None, config, manager, force, opts)
    result, created = await handlers.objects.update(info, ri.namespace, ri.name, apply, ctx,
                                                    subresource=subresource, create_if_missing=create_with)
    return object_response(result, 201 if created else 200, neg.media)
