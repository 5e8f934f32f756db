"""Subresources served by the generic handlers: status, pods/binding, and scale.

- ``status`` (GET/PUT/PATCH) for every kind that has one: reads return the whole object; writes
  change status only (spec and metadata come from the stored object).
- ``pods/{name}/binding`` (and the ``bindings`` resource): the scheduler's POST of a Binding sets
  spec.nodeName once and records the PodScheduled condition; a bound pod answers 409.
- ``scale`` (GET/PUT/PATCH) as autoscaling/v1 Scale over spec.replicas.
- ``serviceaccounts/{name}/token`` (serviceaccount_tokens.py) and ``pods/{name}/eviction``
  (eviction.py): POSTs answered by their own modules.
- ``namespaces/{name}/finalize`` (PUT): spec.finalizers only, as the namespace controller uses it.

- ``pods/{name}/log|exec|attach|portforward``: proxied to the pod's kubelet (streaming*.py).

The proxy subresources answer 405 until they exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver import patching
from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.apiserver.objects import set_type_meta
from kybernetes.apiserver.request_info import RequestInfo
from kybernetes.apiserver.responses import object_response

_STATUS_VERBS = {"get": "_get", "update": "_update", "patch": "_patch"}


async def handle_subresource(handlers, request: web.Request, ri: RequestInfo,
                             info: ResourceInfo) -> web.StreamResponse:
    sub = info.subresource(ri.subresource)
    assert sub is not None  # resolve_resource checked it
    if info.namespaced and ri.namespace is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    if ri.verb not in sub.verbs:
        raise errors.method_not_allowed(
            f"{ri.verb} is not supported on {info.resource}/{ri.subresource}"
        )
    if ri.subresource == "status":
        return await getattr(handlers, _STATUS_VERBS[ri.verb])(request, ri, info, *(
            () if ri.verb == "get" else ("status",)))
    if ri.subresource == "binding" and info.group == "" and info.resource == "pods":
        return await create_binding(handlers, request, ri.namespace, ri.name)
    if ri.subresource == "scale":
        return await handle_scale(handlers, request, ri, info)
    if ri.subresource == "token" and info.group == "" and info.resource == "serviceaccounts":
        from kybernetes.apiserver.serviceaccount_tokens import create_token

        return await create_token(handlers, request, ri.namespace, ri.name)
    if ri.subresource == "finalize" and info.group == "" and info.resource == "namespaces":
        return await finalize_namespace(handlers, request, info, ri.name)
    if ri.subresource == "eviction" and info.group == "" and info.resource == "pods":
        from kybernetes.apiserver.eviction import create_eviction

        return await create_eviction(handlers, request, ri.namespace, ri.name)
    if ri.subresource in ("log", "exec", "attach", "portforward") and info.group == "" and info.resource == "pods":
        from kybernetes.apiserver.streaming_proxy import handle_pod_stream

        return await handle_pod_stream(handlers, request, ri, info)
    raise errors.method_not_allowed(f"{info.resource}/{ri.subresource} is not served by this apiserver yet")


# -- binding -------------------------------------------------------------------------------------


async def create_binding(handlers, request: web.Request, namespace: str | None,
                         pod_name: str) -> web.StreamResponse:
    binding = await bodies.read_object(request)
    bodies.check_type_meta(_BINDING_INFO, binding)
    bodies.check_namespace(_BINDING_INFO, binding, namespace)
    m = binding.get("metadata") or {}
    name = m.get("name") or pod_name
    if pod_name and name != pod_name:
        raise errors.bad_request(f"name in URL does not match name in Binding object ({name} != {pod_name})")
    if not name:
        raise errors.invalid("Binding", "", [errors.Cause("FieldValueRequired", "Required value", "metadata.name")])
    target = binding.get("target") or {}
    node = target.get("name") if isinstance(target, dict) else None
    if not node:
        raise errors.invalid("Binding", name, [errors.Cause("FieldValueRequired", "Required value", "target.name")])
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid("Binding", name, [errors.Cause(
            "FieldValueNotSupported", f'Unsupported value: "{target.get("kind")}": supported values: "Node"',
            "target.kind")])
    pods = handlers.registry.get("", "v1", "pods")
    annotations = m.get("annotations") or {}

    def bind(pod: dict[str, Any]) -> dict[str, Any]:
        pm = pod["metadata"]
        if pm.get("deletionTimestamp"):
            raise errors.conflict("pods/binding", name, "",
                                  f"pod {name} is being deleted, cannot be assigned to a host")
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict("pods/binding", name, "",
                                  f'pod {name} is already assigned to node "{current}"')
        pod.setdefault("spec", {})["nodeName"] = node
        if annotations:
            pm.setdefault("annotations", {}).update(annotations)
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": meta.now_rfc3339()})
        status["conditions"] = conditions
        pm.pop("resourceVersion", None)
        return pod

    from kybernetes.apiserver.handlers import write_context

    await handlers.objects.update(pods, namespace, name, bind, write_context(request), subresource="binding")
    return object_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "code": 201}, 201)


_BINDING_INFO = ResourceInfo(group="", version="v1", resource="bindings", kind="Binding",
                             singular="binding", namespaced=True, verbs=("create",))


# -- namespaces/finalize --------------------------------------------------------------------------


async def finalize_namespace(handlers, request: web.Request, info: ResourceInfo,
                             name: str) -> web.StreamResponse:
    """PUT namespaces/{name}/finalize: change spec.finalizers only (the namespace controller drops
    "kubernetes" here once the namespace is empty). A Terminating namespace left with no finalizers
    of either kind is removed by the update (objects.py)."""
    from kybernetes.apiserver.handlers import write_context

    wanted = await bodies.read_object(request)
    bodies.check_type_meta(info, wanted)
    wm = wanted.get("metadata") or {}
    if wm.get("name") not in (None, "", name):
        raise errors.bad_request(f"name in URL does not match name in Namespace object ({wm.get('name')} != {name})")
    finalizers = (wanted.get("spec") or {}).get("finalizers") or []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        raise errors.invalid("Namespace", name, [errors.Cause(
            "FieldValueInvalid", "Invalid value: spec.finalizers must be a list of strings", "spec.finalizers")])

    def finalize(ns: dict[str, Any]) -> dict[str, Any]:
        spec = ns.setdefault("spec", {})
        if finalizers:
            spec["finalizers"] = list(finalizers)
        else:
            spec.pop("finalizers", None)
        rv = wm.get("resourceVersion")
        if rv:
            ns["metadata"]["resourceVersion"] = rv
        else:
            ns["metadata"].pop("resourceVersion", None)
        return ns

    result, _ = await handlers.objects.update(info, None, name, finalize, write_context(request),
                                              subresource="finalize")
    return object_response(set_type_meta(info, result), 200)


# -- scale ---------------------------------------------------------------------------------------


def _scale_of(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if isinstance(selector, dict):
        parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
        selector = ",".join(parts)
    out_status: dict[str, Any] = {"replicas": int(status.get("replicas") or 0)}
    if selector:
        out_status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in m},
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": out_status,
    }


_SCALE_INFO = ResourceInfo(group="autoscaling", version="v1", resource="scale", kind="Scale",
                           singular="scale", namespaced=True)


async def handle_scale(handlers, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
    if ri.verb == "get":
        obj = await handlers.objects.get(info, ri.namespace, ri.name)
        return object_response(_scale_of(info, obj), 200, neg.media)
    if ri.verb == "update":
        scale = await bodies.read_object(request)
        bodies.check_type_meta(_SCALE_INFO, scale)
    else:
        ctype = bodies.content_type(request)
        patching.check_patch_type(ctype, _SCALE_INFO.group, _SCALE_INFO.version, _SCALE_INFO.kind)
        patch = bodies.decode_json(await bodies.read_raw(request))
        scale = None

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        current = _scale_of(info, obj)
        wanted = scale
        if wanted is None:
            current["metadata"].pop("resourceVersion", None)
            wanted = patching.apply_patch(ctype, current, patch, _SCALE_INFO.group, _SCALE_INFO.version,
                                          _SCALE_INFO.kind)
        wanted_spec = wanted.get("spec") if isinstance(wanted, dict) else None
        replicas = wanted_spec.get("replicas") if isinstance(wanted_spec, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", ri.name, [errors.Cause(
                "FieldValueInvalid", f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                "spec.replicas")], group="autoscaling")
        obj.setdefault("spec", {})["replicas"] = replicas
        wanted_meta = wanted.get("metadata")
        rv = wanted_meta.get("resourceVersion") if isinstance(wanted_meta, dict) else None
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        else:
            obj["metadata"].pop("resourceVersion", None)
        return obj

    result, _ = await handlers.objects.update(info, ri.namespace, ri.name, apply, write_context(request))
    return object_response(_scale_of(info, set_type_meta(info, result)), 200, neg.media)
