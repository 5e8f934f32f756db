"""Create-only "review" resources: questions to the server that are answered, never stored.

    selfsubjectaccessreviews   may I do X?           (kubectl auth can-i)
    selfsubjectrulesreviews    what may I do here?   (kubectl auth can-i --list; rules_review.py)
    subjectaccessreviews       may user U do X?
    localsubjectaccessreviews  ... within one namespace
    selfsubjectreviews         who am I?             (kubectl auth whoami)

The answer is the request object with ``status`` filled in, 201 Created, as the real server does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver.authn import UserInfo, request_user
from kybernetes.apiserver.authz import Attributes as AuthzAttributes
from kybernetes.apiserver.request_info import RequestInfo
from kybernetes.apiserver.responses import object_response
from kybernetes.apiserver.rules_review import rules_review


def _user_from_spec(spec: dict[str, Any]) -> UserInfo:
    user = spec.get("user") or ""
    if not user and not spec.get("groups"):
        raise errors.invalid("SubjectAccessReview", "", [errors.Cause(
            "FieldValueInvalid", "Invalid value: \"\": at least one of user or group must be specified",
            "spec.user")], group="authorization.k8s.io")
    return UserInfo(name=user, uid=spec.get("uid") or "", groups=tuple(spec.get("groups") or ()))


def _attributes(user: UserInfo, spec: dict[str, Any], namespace: str | None) -> AuthzAttributes:
    res = spec.get("resourceAttributes")
    if isinstance(res, dict):
        return AuthzAttributes(user=user, verb=res.get("verb", ""), group=res.get("group", ""),
                               version=res.get("version", ""), resource=res.get("resource", ""),
                               subresource=res.get("subresource", ""),
                               namespace=namespace if namespace is not None else res.get("namespace", ""),
                               name=res.get("name", ""))
    non = spec.get("nonResourceAttributes")
    if isinstance(non, dict):
        return AuthzAttributes(user=user, verb=non.get("verb", ""), path=non.get("path", ""))
    raise errors.invalid("SelfSubjectAccessReview", "", [errors.Cause(
        "FieldValueRequired", "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        "spec.resourceAttributes")], group="authorization.k8s.io")


async def handle_review(handlers, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
    obj = await bodies.read_object(request)
    bodies.check_type_meta(info, obj)
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be an object")
    requester = request_user(request) or UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
    authorizer = getattr(handlers, "authorizer", None)
    key = (info.group, info.resource)
    if key == ("authentication.k8s.io", "selfsubjectreviews"):
        obj["status"] = {"userInfo": requester.to_dict()}
        return object_response(_typed(info, obj), 201)
    if key == ("authorization.k8s.io", "selfsubjectrulesreviews") and authorizer is not None:
        return object_response(_typed(info, rules_review(authorizer, requester, spec)), 201)
    if key[0] == "authorization.k8s.io" and key[1].endswith("accessreviews") and authorizer is not None:
        if key[1] == "selfsubjectaccessreviews":
            user = requester
            namespace = None
        else:
            user = _user_from_spec(spec)
            namespace = ri.namespace if key[1] == "localsubjectaccessreviews" else None
        decision = authorizer.authorize(_attributes(user, spec, namespace))
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        if decision.verdict.value == "deny":
            status["denied"] = True
        obj["status"] = status
        return object_response(_typed(info, obj), 201)
    raise errors.method_not_allowed(f"{info.resource}.{info.group} is not served by this apiserver yet")


def _typed(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    obj.setdefault("metadata", {})
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return {"kind": info.kind, "apiVersion": info.group_version, **obj}
