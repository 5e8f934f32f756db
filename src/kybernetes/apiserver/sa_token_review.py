"""POST /apis/authentication.k8s.io/v1/tokenreviews: "whose token is this?", answered by the same
authenticators that guard this server (webhook token authenticators of other servers ask it).

    TokenReview{spec: token, audiences}
        ──► every bearer-token authenticator in the chain, in order:
              service-account JWTs (audience-aware: the token must carry one of spec.audiences,
                                    default the apiserver's own; status.audiences is the overlap)
              static token file    (audience-agnostic: valid for the apiserver's audiences only)
        ──► 201 TokenReview with status {authenticated, user, audiences, error}

Never stored. A token nobody recognises is ``authenticated: false`` (not an HTTP error).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver.authn import UserInfo, with_authenticated_group
from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.apiserver.responses import object_response
from kybernetes.apiserver.sa_signing import InvalidToken

AUTHENTICATOR_KEY = web.AppKey("authenticator", object)
TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"

TOKEN_REVIEW_INFO = ResourceInfo(group="authentication.k8s.io", version="v1", resource="tokenreviews",
                                 kind="TokenReview", singular="tokenreview", namespaced=False,
                                 verbs=("create",))


def _flatten(authenticator: Any) -> list[Any]:
    nested = getattr(authenticator, "authenticators", None)
    if nested is None:
        return [authenticator]
    out: list[Any] = []
    for a in nested:
        out.extend(_flatten(a))
    return out


async def review_token(authenticator: Any, token: str, audiences: list[str],
                       api_audiences: tuple[str, ...]) -> dict[str, Any]:
    """The status of a TokenReview of ``token`` against ``authenticator`` (a chain or one)."""
    failures: list[str] = []
    for candidate in _flatten(authenticator):
        user: UserInfo | None = None
        granted: list[str] = []
        audience_aware = getattr(candidate, "authenticate_token", None)
        if audience_aware is not None:
            try:
                identity = await audience_aware(token, audiences)
            except InvalidToken as e:
                failures.append(str(e))
                continue
            if identity is None:
                continue
            user, granted = identity.user, list(identity.audiences)
        else:
            lookup = getattr(candidate, "lookup", None)
            if lookup is None:
                continue
            user = lookup(token)
            if user is None:
                continue
            granted = [a for a in (audiences or api_audiences) if a in api_audiences]
            if not granted:
                failures.append("token audiences is invalid for the target audiences")
                continue
        user = with_authenticated_group(user)
        return {"authenticated": True, "user": user.to_dict(), "audiences": granted}
    status: dict[str, Any] = {"user": {}}
    if failures:
        status["error"] = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
    return status


async def handle_token_review(request: web.Request, api_audiences: tuple[str, ...]) -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    write_context(request)
    neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
    review = await bodies.read_object(request)
    bodies.check_type_meta(TOKEN_REVIEW_INFO, review)
    spec = review.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be an object")
    token = spec.get("token")
    if not token or not isinstance(token, str):
        raise errors.bad_request("token is required for TokenReview in authentication")
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise errors.bad_request("spec.audiences must be a list of strings")
    authenticator = request.app.get(AUTHENTICATOR_KEY)
    status = await review_token(authenticator, token, audiences, api_audiences)
    out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"creationTimestamp": None, **(review.get("metadata") or {})},
           "spec": spec, "status": status}
    return object_response(out, 201, neg.media)
