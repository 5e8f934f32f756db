"""Bearer tokens signed by this apiserver's service-account key -> the service account's identity.

    Authorization: Bearer <jwt>
        ──► iss is one of ours?          no: not our token, let the next authenticator try
        ──► signature, exp/nbf/iat (sa_signing.TokenVerifier)
        ──► aud ∩ the audiences asked for (the apiserver's own, or a TokenReview's spec.audiences)
        ──► the service account still exists with the uid in the token; so do the pod / secret /
            node it is bound to (deleted more than a minute ago, or recreated with another uid:
            the token is dead)
        ──► UserInfo("system:serviceaccount:<ns>:<name>", uid,
                     groups system:serviceaccounts, system:serviceaccounts:<ns>,
                     extra pod-name/pod-uid/node-name/node-uid/credential-id)

A token we issued that fails any check makes the request unauthenticated (401), as the real
server's union authenticator does when the only authenticator that recognises a token rejects it.
The checks against live objects read the store, so this authenticator is asynchronous
(``authenticate_async``; authn.AuthenticatorChain awaits it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from kybernetes.api import meta
from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.sa_claims import (
    EXTRA_CREDENTIAL_ID,
    EXTRA_NODE_NAME,
    EXTRA_NODE_UID,
    EXTRA_POD_NAME,
    EXTRA_POD_UID,
    ObjectRef,
    ServiceAccountClaims,
    audiences_of,
    groups_of,
    parse_claims,
    user_name,
)
from kybernetes.apiserver.sa_issuer import TokenAuthority
from kybernetes.apiserver.sa_signing import InvalidToken, unverified_claims

log = logging.getLogger(__name__)

# An object deleted less than this long ago still vouches for its tokens (graceful shutdown).
DELETED_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenIdentity:
    user: UserInfo
    audiences: tuple[str, ...]


def bearer_token(request: web.BaseRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def user_info(claims: ServiceAccountClaims) -> UserInfo:
    extra: dict[str, tuple[str, ...]] = {}
    if claims.pod is not None:
        extra[EXTRA_POD_NAME] = (claims.pod.name,)
        extra[EXTRA_POD_UID] = (claims.pod.uid,)
    if claims.node is not None:
        extra[EXTRA_NODE_NAME] = (claims.node.name,)
        if claims.node.uid:
            extra[EXTRA_NODE_UID] = (claims.node.uid,)
    if claims.jti:
        extra[EXTRA_CREDENTIAL_ID] = (f"JTI={claims.jti}",)
    return UserInfo(name=user_name(claims.namespace, claims.service_account.name),
                    uid=claims.service_account.uid, groups=groups_of(claims.namespace), extra=extra)


class ServiceAccountTokenAuthenticator:
    def __init__(self, authority: TokenAuthority, objects: Any):
        self.authority = authority
        self.objects = objects  # apiserver.objects.ObjectStore (for the live-object checks)

    async def authenticate_async(self, request: web.BaseRequest) -> UserInfo | None:
        token = bearer_token(request)
        if token is None:
            return None
        try:
            identity = await self.authenticate_token(token)
        except InvalidToken as e:
            log.debug("service-account token rejected: %s", e)
            return None
        return identity.user if identity is not None else None

    def recognises(self, token: str) -> bool:
        claims = unverified_claims(token)
        return claims is not None and claims.get("iss") in self.authority.issuers

    async def authenticate_token(self, token: str, audiences: tuple[str, ...] | list[str] = (),
                                 ) -> TokenIdentity | None:
        """None when the token is not ours; InvalidToken when it is ours but not valid."""
        if not self.recognises(token):
            return None
        now = self.authority.clock.wall()
        claims = self.authority.verifier.verify(token, now)
        wanted = tuple(audiences) or self.authority.audiences
        token_audiences = audiences_of(claims)
        granted = tuple(a for a in wanted if a in token_audiences)
        if not granted:
            raise InvalidToken(f"token audiences {list(token_audiences)!r} is invalid for the target "
                               f"audiences {list(wanted)!r}")
        parsed = parse_claims(claims)
        await self._check_live_objects(parsed, now)
        return TokenIdentity(user_info(parsed), granted)

    async def _check_live_objects(self, claims: ServiceAccountClaims, now) -> None:
        ns = claims.namespace
        await self._check(("", "v1", "serviceaccounts"), ns, claims.service_account, "service account",
                          now, f"{ns}/{claims.service_account.name}")
        if claims.pod is not None:
            await self._check(("", "v1", "pods"), ns, claims.pod, "pod", now, f"{ns}/{claims.pod.name}")
        if claims.secret is not None:
            await self._check(("", "v1", "secrets"), ns, claims.secret, "secret", now,
                              f"{ns}/{claims.secret.name}")
        if claims.node is not None and claims.pod is None:
            # A token bound to a node directly lives as long as the node; the node of a pod-bound
            # token is information only (the pod check already decides).
            await self._check(("", "v1", "nodes"), None, claims.node, "node", now, claims.node.name)

    async def _check(self, gvr: tuple[str, str, str], namespace: str | None, ref: ObjectRef, what: str,
                     now, shown: str) -> None:
        info = self.objects.registry.get(*gvr)
        obj = await self.objects.get_or_none(info, namespace, ref.name) if info is not None else None
        if obj is None:
            raise InvalidToken(f"{what} {shown} has been deleted")
        m = obj.get("metadata") or {}
        if ref.uid and m.get("uid") != ref.uid:
            raise InvalidToken(f"{what} UID ({m.get('uid', '')}) does not match claim ({ref.uid})")
        deleting = m.get("deletionTimestamp")
        if deleting:
            try:
                since = meta.parse_rfc3339(deleting)
            except ValueError:
                return
            if since < now - DELETED_GRACE:
                raise InvalidToken(f"{what} {shown} has been deleted")

