"""Impersonation: ``kubectl --as=jane --as-group=devs`` acts as someone else, if allowed to.

    authn (the requester) ──► impersonation ──► authz, admission, handlers (the impersonated user)

A request may carry ``Impersonate-User``, ``Impersonate-Group`` (repeatable), ``Impersonate-Uid``
and ``Impersonate-Extra-<key>`` (repeatable). Each is one thing the *requester* must be allowed
to impersonate, checked with the ordinary authorizer as the verb "impersonate" on:

    Impersonate-User: jane                        users "jane"                  (group "")
    Impersonate-User: system:serviceaccount:ns:x  serviceaccounts "x" in ns     (group "")
    Impersonate-Group: devs                       groups "devs"                 (group "")
    Impersonate-Uid: 1234                         uids "1234"                   (authentication.k8s.io)
    Impersonate-Extra-scopes: view                userextras/scopes "view"      (authentication.k8s.io)

The first refusal answers 403 with the Status Kubernetes sends (``users "jane" is forbidden:
User "bob" cannot impersonate resource "users" in API group "" at the cluster scope``). When all
are allowed, the request continues as the impersonated user alone (none of the requester's
groups): ``system:authenticated`` is added unless the groups asked for already say
(un)authenticated, a service account without asked-for groups gets its two fixed groups, and the
impersonation headers are taken off the request so nothing further on acts on them again.

Groups, extras or a uid without a user are a 400 Bad Request (upstream answers 500 for it). An
empty ``Impersonate-User`` on its own asks for nothing, as on Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from kybernetes.api.errors import bad_request
from kybernetes.api.field_errors import dns1123_label_errors, dns1123_subdomain_errors
from kybernetes.apiserver.authn import AUTHENTICATED_GROUP, USER_KEY, UserInfo, request_user
from kybernetes.apiserver.authz import Attributes, Authorizer, ensure_allowed

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
AUTHENTICATION_GROUP = "authentication.k8s.io"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Impersonation:
    """What the headers ask for, in header order (the order the checks run in)."""

    user: str
    groups: tuple[str, ...]
    uid: str
    extra: tuple[tuple[str, str], ...]  # (key, value), one per value


def is_impersonation_header(name: str) -> bool:
    lower = name.lower()
    return lower in ("impersonate-user", "impersonate-group", "impersonate-uid") or lower.startswith(EXTRA_PREFIX)


def extra_key(header_name: str) -> str:
    """The extra's key: the rest of the header name, lower case, %-decoded (kept as sent when the
    escapes are malformed, as Kubernetes does)."""
    encoded = header_name[len(EXTRA_PREFIX):].lower()
    if _BAD_ESCAPE.search(encoded):
        return encoded
    return unquote(encoded, errors="replace")


def _utf8(header: str, value: str) -> str:
    """A header value that names someone must be text: bytes that are not UTF-8 are a 400."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(f"the {header} header is not valid UTF-8") from None
    return value


def _encodable(value: str) -> str:
    """A kept header's value, with bytes that were not UTF-8 replaced (copying a request needs
    every header encodable)."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def parse_impersonation(headers) -> Impersonation | None:
    """None when the request asks to impersonate nobody; 400 for groups/extras/uid alone."""
    user = _utf8(USER_HEADER, headers.get(USER_HEADER, ""))
    groups = tuple(_utf8(GROUP_HEADER, g) for g in headers.getall(GROUP_HEADER, ()))
    uid = _utf8(UID_HEADER, headers.get(UID_HEADER, ""))
    extra = tuple((_utf8(name, extra_key(name)), _utf8(name, value)) for name, value in headers.items()
                  if name.lower().startswith(EXTRA_PREFIX))
    if not user:
        if groups or uid or extra:
            asked = [*(f'group "{g}"' for g in groups), *(f'extra "{k}"="{v}"' for k, v in extra)]
            if uid:
                asked.append(f'uid "{uid}"')
            raise bad_request(f"requested {', '.join(asked)} without impersonating a user "
                              f"(the {USER_HEADER} header is missing or empty)")
        return None
    return Impersonation(user=user, groups=groups, uid=uid, extra=extra)


def split_service_account(user: str) -> tuple[str, str] | None:
    """(namespace, name) for a well-formed ``system:serviceaccount:<ns>:<name>``, else None (the
    name is then an ordinary user's)."""
    if not user.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = user[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if dns1123_label_errors(namespace) or dns1123_subdomain_errors(name):
        return None
    return namespace, name


def checks(requester: UserInfo, asked: Impersonation) -> list[Attributes]:
    """One authorization question per thing asked for, in Kubernetes' order."""
    def impersonate(resource: str, name: str, *, group: str = "", version: str = "", namespace: str = "",
                    subresource: str = "") -> Attributes:
        return Attributes(user=requester, verb="impersonate", group=group, version=version, resource=resource,
                          subresource=subresource, namespace=namespace, name=name)

    account = split_service_account(asked.user)
    if account is not None:
        out = [impersonate("serviceaccounts", account[1], namespace=account[0])]
    else:
        out = [impersonate("users", asked.user)]
    out += [impersonate("groups", group) for group in asked.groups]
    out += [impersonate("userextras", value, group=AUTHENTICATION_GROUP, version="v1", subresource=key)
            for key, value in asked.extra]
    if asked.uid:
        out.append(impersonate("uids", asked.uid, group=AUTHENTICATION_GROUP, version="v1"))
    return out


def impersonated_user(asked: Impersonation) -> UserInfo:
    """The identity the request continues with."""
    groups = list(asked.groups)
    account = split_service_account(asked.user)
    if account is not None and not groups:
        groups = [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{account[0]}"]
    if asked.user == ANONYMOUS:
        if UNAUTHENTICATED_GROUP not in groups:
            groups.append(UNAUTHENTICATED_GROUP)
    elif AUTHENTICATED_GROUP not in groups and UNAUTHENTICATED_GROUP not in groups:
        groups.append(AUTHENTICATED_GROUP)
    extra: dict[str, tuple[str, ...]] = {}
    for key, value in asked.extra:
        extra[key] = (*extra.get(key, ()), value)
    return UserInfo(name=asked.user, uid=asked.uid, groups=tuple(groups), extra=extra)


def _mentions_impersonation(raw_headers) -> bool:
    # Every request passes here: look at the raw names' first letter before lower-casing any.
    for name, _ in raw_headers:
        if name[:1] in (b"I", b"i") and name[:12].lower() == b"impersonate-":
            return True
    return False


def impersonate(request: web.Request, authorizer: Authorizer) -> web.Request:
    """The request to continue with: itself when it impersonates nobody, else a copy without the
    impersonation headers whose user is the impersonated one. Raises 400/403 ApiErrors."""
    if not _mentions_impersonation(request.raw_headers):
        return request
    headers = request.headers
    asked = parse_impersonation(headers)
    if asked is None:
        return request
    requester = request_user(request) or UserInfo(name=ANONYMOUS, groups=(UNAUTHENTICATED_GROUP,))
    for attributes in checks(requester, asked):
        ensure_allowed(authorizer, attributes)
    kept = CIMultiDict((name, _encodable(value)) for name, value in headers.items()
                       if not is_impersonation_header(name))
    acting = request.clone(headers=kept)
    acting[USER_KEY] = impersonated_user(asked)
    return acting


def impersonation_middleware(authorizer: Authorizer):
    """aiohttp middleware, placed between authentication and authorization."""

    @web.middleware
    async def impersonation(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(impersonate(request, authorizer))

    return impersonation
