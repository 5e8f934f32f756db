"""The scale subresource of custom resources: autoscaling/v1 Scale over a CRD's JSON paths.

A CRD version that declares ``subresources.scale`` names where its objects keep the replica
counts: ``specReplicasPath`` (e.g. .spec.replicas, what ``kubectl scale`` changes),
``statusReplicasPath`` (e.g. .status.replicas) and optionally ``labelSelectorPath`` (a string in
the serialized label selector form, for the HPA). Reading gives a Scale built from those paths
(0 where a path holds nothing); writing a Scale sets spec replicas at its path, creating the
objects on the way, and the write then goes through the object store like any update (schema
validation included).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.tables.custom import evaluate
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver.crd_resource import CustomResourceInfo
from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.apiserver.objects import set_type_meta
from kybernetes.apiserver.patching import json_patch, merge_patch
from kybernetes.apiserver.request_info import RequestInfo
from kybernetes.apiserver.responses import object_response

_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def _first(path: str, obj: dict[str, Any]) -> Any:
    found = evaluate(path, obj) if path else []
    return found[0] if found else None


def _replicas(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def scale_of(info: CustomResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    assert info.scale is not None
    m = obj.get("metadata") or {}
    status: dict[str, Any] = {"replicas": _replicas(_first(info.scale.status_replicas, obj))}
    selector = _first(info.scale.label_selector, obj)
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in _METADATA if k in m},
        "spec": {"replicas": _replicas(_first(info.scale.spec_replicas, obj))},
        "status": status,
    }


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a simple .a.b.c JSON path, creating the objects on the way."""
    parts = [p for p in path.split(".") if p]
    target = obj
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


async def handle_scale(handlers, request: web.Request, ri: RequestInfo,
                       info: CustomResourceInfo) -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
    if ri.verb == "get":
        obj = await handlers.objects.get(info, ri.namespace, ri.name)
        return object_response(scale_of(info, obj), 200, neg.media)
    if ri.verb == "update":
        scale = await bodies.read_object(request)
        if scale.get("kind") not in (None, "", "Scale") or \
                scale.get("apiVersion") not in (None, "", "autoscaling/v1"):
            raise errors.bad_request(
                f"the API version in the data ({scale.get('apiVersion')}) does not match the expected API "
                "version (autoscaling/v1)")
        patch, ctype = None, ""
    else:
        ctype = bodies.content_type(request)
        if ctype not in (bodies.MERGE_PATCH, bodies.JSON_PATCH):
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: application/json-patch+json, application/merge-patch+json")
        patch = bodies.decode_json(await bodies.read_raw(request))
        scale = None

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        wanted = scale
        if wanted is None:
            current = scale_of(info, obj)
            current["metadata"].pop("resourceVersion", None)
            if ctype == bodies.MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request("a merge patch must be a JSON object")
                wanted = merge_patch(current, patch)
            else:
                wanted = json_patch(current, patch)
        if not isinstance(wanted, dict):
            raise errors.bad_request("the Scale must be a JSON object")
        spec = wanted.get("spec")
        replicas = spec.get("replicas") if isinstance(spec, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", ri.name, [errors.Cause(
                "FieldValueInvalid", f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                "spec.replicas")], group="autoscaling")
        set_path(obj, info.scale.spec_replicas, replicas)
        metadata = wanted.get("metadata")
        rv = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        else:
            obj["metadata"].pop("resourceVersion", None)
        return obj

    result, _ = await handlers.objects.update(info, ri.namespace, ri.name, apply, write_context(request))
    return object_response(scale_of(info, set_type_meta(info, result)), 200, neg.media)
