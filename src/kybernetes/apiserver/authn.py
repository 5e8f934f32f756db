"""Authentication: who is making this request?

    request ──► AuthenticatorChain ──► x509 client certificate   (CN = user, O = groups)
                                  ├──► static bearer token file  (token,user,uid,"g1,g2")
                                  └──► service-account JWTs      (sa_authenticator.py, async)
                → UserInfo (+ "system:authenticated")  |  None → 401 Unauthorized

Each authenticator returns a UserInfo, or None when the request carries no credential it
understands *or* carries one it rejects (an unknown bearer token): either way the request is not
authenticated and the server answers 401, as Kubernetes does. The chain asks them in order and
the first identity wins, so a valid client certificate is enough even beside a stale token.

The client certificate was verified by the TLS handshake against the cluster CA (pki.py's
serving_ssl_context requests it); ``getpeercert()`` returns an empty dict for an unverified
peer, so only verified subjects are ever read here.

``authentication_middleware`` wraps any Authenticator for aiohttp: it stores the UserInfo in
``request[USER_KEY]`` (read it with ``request_user(request)``) and answers 401 itself; health and
version paths stay open.
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import orjson
from aiohttp import web

from kybernetes.api.errors import unauthorized

log = logging.getLogger(__name__)

AUTHENTICATED_GROUP = "system:authenticated"
MASTERS_GROUP = "system:masters"
# Paths anyone may read without credentials (Kubernetes grants them to system:unauthenticated).
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The shape of authentication.k8s.io UserInfo (SelfSubjectReview, audit)."""
        out: dict = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


class Authenticator(Protocol):
    def authenticate(self, request: web.BaseRequest) -> UserInfo | None: ...


class TokenFileError(ValueError):
    """A static token file that does not follow Kubernetes' CSV format."""


def _peer_certificate(request: web.BaseRequest) -> dict | None:
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        return ssl_object.getpeercert() or None
    return transport.get_extra_info("peercert") or None


class X509Authenticator:
    """The verified client certificate's subject: CN is the user name, each O a group.

    A connection's certificate is the one its handshake verified, for as long as it lasts, so
    the user is worked out once per TLS connection (parsing the certificate was a noticeable
    part of a small request) and kept beside the connection's ssl object."""

    def __init__(self) -> None:
        self._by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is not None:
            try:
                return self._by_connection[ssl_object]
            except (KeyError, TypeError):
                pass
        cert = _peer_certificate(request)
        user = user_from_subject(cert.get("subject", ())) if cert else None
        if ssl_object is not None:
            try:
                self._by_connection[ssl_object] = user
            except TypeError:  # an ssl object that cannot be referenced weakly: not kept
                pass
        return user


def user_from_subject(subject: Iterable[Iterable[tuple[str, str]]]) -> UserInfo | None:
    """Map ssl's parsed subject (a tuple of RDNs of (attribute, value) pairs) to a user."""
    name = ""
    groups: list[str] = []
    for rdn in subject:
        for attr, value in rdn:
            if attr == "commonName":
                name = value
            elif attr == "organizationName" and value not in groups:
                groups.append(value)
    if not name:  # Kubernetes does not authenticate a certificate without a CN
        return None
    return UserInfo(name=name, groups=tuple(groups))


def parse_token_file(text: str, source: str = "token file") -> dict[str, UserInfo]:
    """Parse Kubernetes' static token CSV: ``token,user,uid[,"group1,group2"]`` per line.
    Extra columns are ignored, blank lines skipped; fewer than three columns is an error."""
    tokens: dict[str, UserInfo] = {}
    reader = csv.reader(io.StringIO(text), skipinitialspace=True, strict=True)
    try:
        for number, record in enumerate(reader, start=1):
            if not record or all(not c.strip() for c in record):
                continue
            if len(record) < 3:
                raise TokenFileError(f"{source}: line {number}: must have at least 3 columns "
                                     f"(token, user name, user uid), found {len(record)}")
            token, name, uid = (c.strip() for c in record[:3])
            if not token:
                log.warning("%s: line %d: empty token ignored", source, number)
                continue
            if not name:
                raise TokenFileError(f"{source}: line {number}: the user name is empty")
            groups = tuple(g.strip() for g in record[3].split(",") if g.strip()) if len(record) > 3 else ()
            if token in tokens:
                log.warning("%s: line %d: duplicate token, the later line wins", source, number)
            tokens[token] = UserInfo(name=name, uid=uid, groups=groups)
    except csv.Error as e:
        raise TokenFileError(f"{source}: {e}") from None
    return tokens


def _bearer_token(request: web.BaseRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class TokenFileAuthenticator:
    """Bearer tokens from a static file (kube-apiserver's --token-auth-file)."""

    def __init__(self, tokens: dict[str, UserInfo]):
        self._tokens = dict(tokens)

    @classmethod
    def from_file(cls, path: Path) -> TokenFileAuthenticator:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as e:
            raise TokenFileError(f"cannot read token file {path}: {e.strerror}") from None
        return cls(parse_token_file(text, str(path)))

    def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        token = _bearer_token(request)
        if token is None:
            return None
        return self.lookup(token)

    def lookup(self, token: str) -> UserInfo | None:
        # Compare against every entry in constant time so timing does not reveal a prefix.
        found = None
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = user
        return found


class AnonymousAdmin:
    """Everyone is a cluster admin. Only for tests over plain HTTP (ApiServerConfig.anonymous_admin)."""

    user = UserInfo(name="system:admin", groups=(MASTERS_GROUP, AUTHENTICATED_GROUP))

    def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        return self.user


class AuthenticatorChain:
    """Ask each authenticator in order; the first identity wins, and gets system:authenticated."""

    def __init__(self, authenticators: Iterable[Authenticator]):
        self.authenticators = list(authenticators)

    def authenticate(self, request: web.BaseRequest) -> UserInfo | None:
        """Only the synchronous members; the middleware uses authenticate_async (all of them)."""
        for authenticator in self.authenticators:
            if not hasattr(authenticator, "authenticate"):
                continue
            user = authenticator.authenticate(request)
            if user is not None:
                return with_authenticated_group(user)
        return None

    async def authenticate_async(self, request: web.BaseRequest) -> UserInfo | None:
        for authenticator in self.authenticators:
            user = await authenticate_request(authenticator, request)
            if user is not None:
                return with_authenticated_group(user)
        return None


async def authenticate_request(authenticator, request: web.BaseRequest) -> UserInfo | None:
    """Ask any authenticator: one that must read the store (service-account tokens check that
    the account still exists) has ``async authenticate_async``; the others answer synchronously."""
    asynchronous = getattr(authenticator, "authenticate_async", None)
    if asynchronous is not None:
        return await asynchronous(request)
    return authenticator.authenticate(request)


def with_authenticated_group(user: UserInfo) -> UserInfo:
    if AUTHENTICATED_GROUP in user.groups or user.name == "system:anonymous":
        return user
    return replace(user, groups=(*user.groups, AUTHENTICATED_GROUP))


def build_authenticator(*, client_ca_file: Path | None = None, token_auth_file: Path | None = None,
                        anonymous_admin: bool = False) -> Authenticator:
    """The chain an apiserver configured with these flags uses."""
    if anonymous_admin:
        return AnonymousAdmin()
    chain: list[Authenticator] = []
    if client_ca_file is not None:
        chain.append(X509Authenticator())
    if token_auth_file is not None:
        chain.append(TokenFileAuthenticator.from_file(token_auth_file))
    return AuthenticatorChain(chain)


def is_public_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)


def unauthorized_response() -> web.Response:
    return web.Response(status=401, body=orjson.dumps(unauthorized().to_status()),
                        content_type="application/json")


# Where the identity is kept on the request: the plain key "user", which the REST handlers read
# read with request_user(request).
USER_KEY = web.RequestKey("user", object)


def request_user(request: web.Request) -> UserInfo | None:
    return request.get(USER_KEY)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def authentication_middleware(authenticator: Authenticator):
    """aiohttp middleware: ``request_user(request)`` is the UserInfo (None on public paths without
    credentials); a request to any other path without a valid identity gets a 401 Status."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = await authenticate_request(authenticator, request)
        if user is None and not is_public_path(request.path):
            return unauthorized_response()
        request[USER_KEY] = user
        return await handler(request)

    return authenticate
