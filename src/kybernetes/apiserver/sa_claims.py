"""The claims of a service-account token, as Kubernetes writes and reads them.

    {"iss": issuer, "sub": "system:serviceaccount:<ns>:<name>", "aud": [...],
     "exp": .., "iat": .., "nbf": .., "jti": "<uuid>",
     "kubernetes.io": {"namespace": ns,
                       "serviceaccount": {"name", "uid"},
                       "pod": {"name", "uid"}        when bound to a pod,
                       "secret": {"name", "uid"}     when bound to a secret,
                       "node": {"name", "uid"}}}    when bound to a node, or the bound pod's node

Pure data: building the claims for a TokenRequest and reading them back when a token is
presented. Whether the objects named still exist is the authenticator's question.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kybernetes.apiserver.sa_signing import InvalidToken

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
PRIVATE_CLAIM = "kubernetes.io"

USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

# UserInfo.extra keys the real authenticator sets for bound tokens.
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def user_name(namespace: str, name: str) -> str:
    return f"{USER_PREFIX}{namespace}:{name}"


def groups_of(namespace: str) -> tuple[str, ...]:
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")


@dataclass(frozen=True)
class ObjectRef:
    """A named object with its uid, as the private claim carries it."""

    name: str
    uid: str

    def to_claim(self) -> dict[str, str]:
        return {"name": self.name, "uid": self.uid}


@dataclass(frozen=True)
class ServiceAccountClaims:
    """What a valid token says about who holds it."""

    namespace: str
    service_account: ObjectRef
    pod: ObjectRef | None = None
    secret: ObjectRef | None = None
    node: ObjectRef | None = None
    jti: str = ""
    audiences: tuple[str, ...] = ()


def build_claims(*, issuer: str, audiences: list[str], namespace: str, service_account: ObjectRef,
                 now: datetime, expiration_seconds: int, pod: ObjectRef | None = None,
                 secret: ObjectRef | None = None, node: ObjectRef | None = None) -> dict[str, Any]:
    issued = int(now.timestamp())
    private: dict[str, Any] = {"namespace": namespace}
    if node is not None:
        private["node"] = node.to_claim()
    if pod is not None:
        private["pod"] = pod.to_claim()
    if secret is not None:
        private["secret"] = secret.to_claim()
    private["serviceaccount"] = service_account.to_claim()
    return {
        "aud": list(audiences),
        "exp": issued + expiration_seconds,
        "iat": issued,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        PRIVATE_CLAIM: private,
        "nbf": issued,
        "sub": user_name(namespace, service_account.name),
    }


def _ref(private: dict[str, Any], key: str) -> ObjectRef | None:
    value = private.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value.get("name"):
        raise InvalidToken(f"token could not be validated: malformed {key} claim")
    return ObjectRef(value["name"], str(value.get("uid") or ""))


def audiences_of(claims: dict[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return tuple(aud)
    return ()


def parse_claims(claims: dict[str, Any]) -> ServiceAccountClaims:
    """Read the private claim of a verified token (InvalidToken when it lacks what we need)."""
    private = claims.get(PRIVATE_CLAIM)
    if not isinstance(private, dict):
        raise InvalidToken("token could not be validated: no kubernetes.io claim")
    namespace = private.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidToken("token could not be validated: no namespace claim")
    sa = _ref(private, "serviceaccount")
    if sa is None:
        raise InvalidToken("token could not be validated: no serviceaccount claim")
    jti = claims.get("jti")
    return ServiceAccountClaims(namespace=namespace, service_account=sa, pod=_ref(private, "pod"),
                                secret=_ref(private, "secret"), node=_ref(private, "node"),
                                jti=jti if isinstance(jti, str) else "", audiences=audiences_of(claims))
