"""POST serviceaccounts/{name}/token: TokenRequest (authentication.k8s.io/v1), the way pods and
``kubectl create token`` get service-account credentials.

    TokenRequest{spec: audiences, expirationSeconds, boundObjectRef}
        ──► validate (422: expirationSeconds in [600, 2^32])
        ──► the service account (404) ──► the bound object, if any:
              Pod     must run as this service account (400); its node, when scheduled, is named too
              Secret  / Node   any
            its uid must be the one in the reference (409: deleted and recreated meanwhile)
        ──► claims (sa_claims.build_claims) signed by the TokenAuthority (sa_issuer.py)
        ──► 201 TokenRequest with status.token and status.expirationTimestamp

The objects are read as admission reads them (admission_resources.get_object): from the watch
cache once it is current where the store was when the request began.

Nothing is stored: a token is valid because of its signature, and dies with its expiry or with
the objects it names (sa_authenticator.py checks them on every use).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from kybernetes.api import errors, meta
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import body as bodies
from kybernetes.apiserver.admission_resources import get_object
from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.apiserver.responses import object_response
from kybernetes.apiserver.sa_claims import (
    DEFAULT_EXPIRATION_SECONDS,
    MAX_EXPIRATION_SECONDS,
    MIN_EXPIRATION_SECONDS,
    ObjectRef,
    build_claims,
)
from kybernetes.apiserver.sa_issuer import TokenAuthority

TOKEN_AUTHORITY_KEY = web.AppKey("service_account_token_authority", TokenAuthority)

GROUP = "authentication.k8s.io"
TOKEN_REQUEST_INFO = ResourceInfo(group=GROUP, version="v1", resource="tokenrequests", kind="TokenRequest",
                                  singular="tokenrequest", namespaced=True, verbs=("create",))

# boundObjectRef kinds a token may be bound to (all in the core group), by the resource to read.
_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _invalid(field: str, message: str, reason: str = "FieldValueInvalid") -> errors.ApiError:
    return errors.invalid("TokenRequest", "", [errors.Cause(reason, message, field)], group=GROUP)


def validated_spec(spec: Any) -> tuple[list[str], int, dict[str, Any] | None]:
    """(audiences, expirationSeconds, boundObjectRef) of a TokenRequest spec, or a typed error."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be an object")
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise errors.bad_request("spec.audiences must be a list of strings")
    expiration = spec.get("expirationSeconds")
    if expiration is None:
        expiration = DEFAULT_EXPIRATION_SECONDS
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise errors.bad_request(f"spec.expirationSeconds must be an integer, not {expiration!r}")
    if expiration < MIN_EXPIRATION_SECONDS:
        raise _invalid("spec.expirationSeconds",
                       f"Invalid value: {expiration}: may not specify a duration less than 10 minutes")
    if expiration > MAX_EXPIRATION_SECONDS:
        raise _invalid("spec.expirationSeconds",
                       f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds")
    ref = spec.get("boundObjectRef")
    if ref is not None and not isinstance(ref, dict):
        raise errors.bad_request("spec.boundObjectRef must be an object")
    return audiences, expiration, ref or None


class _Reads:
    """The revision a request's reads must be current at (admission_resources._fresh_cache
    reads the store's current revision into it once, on the first read)."""

    read_revision = 0


async def _read(objects, resource: str, namespace: str | None, name: str, reads: _Reads,
                *, required: bool = True) -> dict[str, Any] | None:
    """An object the token names (404 when it is missing and ``required``), read as admission
    reads: from the watch cache once it is current where the store was when the request began,
    else from the store. Either way nothing written before the request is missed, and a token
    costs no reader-thread round trips (the service account, the pod and its node: three)."""
    info = objects.registry.get("", "v1", resource)
    obj = await get_object(objects, info, namespace, name, reads)
    if obj is None and required:
        raise errors.not_found(info.resource, name, info.group)
    return obj


async def _bound_objects(objects, namespace: str, sa_name: str, ref: dict[str, Any], reads: _Reads,
                         ) -> tuple[ObjectRef | None, ObjectRef | None, ObjectRef | None]:
    """(pod, secret, node) named in the token, from boundObjectRef."""
    kind = ref.get("kind") or ""
    api_version = ref.get("apiVersion") or ""
    group, _, version = api_version.rpartition("/")
    name = ref.get("name") or ""
    if group or kind not in _BINDABLE:
        raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    if not isinstance(name, str) or not name:
        raise _invalid("spec.boundObjectRef.name", "Required value", "FieldValueRequired")
    obj = await _read(objects, _BINDABLE[kind], None if kind == "Node" else namespace, name, reads)
    uid = obj["metadata"].get("uid", "")
    wanted_uid = ref.get("uid") or ""
    if wanted_uid and wanted_uid != uid:
        raise errors.conflict(kind, name, "", f"the UID in the bound object reference ({wanted_uid}) does "
                              f"not match the UID in record ({uid}). The object might have been deleted "
                              "and then recreated")
    here = ObjectRef(name, uid)
    if kind == "Secret":
        return None, here, None
    if kind == "Node":
        return None, None, here
    running_as = (obj.get("spec") or {}).get("serviceAccountName") or "default"
    if running_as != sa_name:
        raise errors.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with '
                                 f'serviceaccount "{running_as}"')
    node = None
    node_name = (obj.get("spec") or {}).get("nodeName")
    if node_name:
        # The node is named for information (audit, authorizers); a missing node is no error.
        node_obj = await _read(objects, "nodes", None, node_name, reads, required=False)
        if node_obj is not None:
            node = ObjectRef(node_name, node_obj["metadata"].get("uid", ""))
    return here, None, node


async def create_token(handlers, request: web.Request, namespace: str, sa_name: str) -> web.StreamResponse:
    from kybernetes.apiserver.handlers import write_context

    write_context(request)  # refuses bad dryRun values like every other write
    authority = request.app.get(TOKEN_AUTHORITY_KEY)
    if authority is None:
        raise errors.method_not_allowed("this apiserver has no service-account signing key")
    neg = parse_accept(request.headers.get("Accept"), allow_shapes=False)
    token_request = await bodies.read_object(request)
    bodies.check_type_meta(TOKEN_REQUEST_INFO, token_request)
    m = token_request.get("metadata") or {}
    if m.get("namespace") not in (None, "", namespace):
        raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                 "sent on the request")
    if m.get("name") not in (None, "", sa_name):
        raise errors.bad_request(f"the name of the object ({m.get('name')}) does not match the name on "
                                 f"the URL ({sa_name})")
    audiences, expiration, ref = validated_spec(token_request.get("spec"))
    objects = handlers.objects
    reads = _Reads()
    sa = await _read(objects, "serviceaccounts", namespace, sa_name, reads)
    pod = secret = node = None
    if ref is not None:
        pod, secret, node = await _bound_objects(objects, namespace, sa_name, ref, reads)
    audiences = audiences or list(authority.audiences)
    now = authority.clock.wall()
    claims = build_claims(issuer=authority.issuer, audiences=audiences, namespace=namespace,
                          service_account=ObjectRef(sa_name, sa["metadata"].get("uid", "")), now=now,
                          expiration_seconds=expiration, pod=pod, secret=secret, node=node)
    token = authority.signer.sign(claims)
    expires = now.replace(microsecond=0) + timedelta(seconds=expiration)
    spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": expiration,
                            "boundObjectRef": ref}
    out = {
        "kind": "TokenRequest", "apiVersion": f"{GROUP}/v1",
        "metadata": {"name": sa_name, "namespace": namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": meta.format_rfc3339(expires)},
    }
    return object_response(out, 201, neg.media)
