"""Authorization: may this user do this verb on this resource (or path)?

    Attributes(user, verb, group, version, resource, subresource, namespace, name, path)
        ──► AuthorizerChain[ SystemMasters, RBAC (authz_rbac.py, wired in server.py) ]
        ──► Decision: ALLOW | DENY | NO_OPINION (+ reason)

The chain asks each authorizer in order: the first ALLOW or DENY decides; when every one has no
opinion the request is denied, as kube-apiserver's union authorizer does. A denial becomes a 403
Forbidden Status whose message is the one Kubernetes prints (``forbidden_error``), so kubectl
and scripts matching on it behave the same.

Authorizers are synchronous: they decide from memory (RBAC reads an index fed by watches), and an
authorization runs on every request.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kybernetes.api.errors import ApiError, forbidden
from kybernetes.apiserver.authn import MASTERS_GROUP, UserInfo


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do. A resource request has ``resource`` set; any other request
    (``/healthz``, ``/openapi/v3``, ``/apis``) is a non-resource request identified by ``path``,
    with the lower-case HTTP method as ``verb``."""

    user: UserInfo
    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)


class Verdict(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no_opinion"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @classmethod
    def allow(cls, reason: str = "") -> Decision:
        return cls(Verdict.ALLOW, reason)

    @classmethod
    def deny(cls, reason: str = "") -> Decision:
        return cls(Verdict.DENY, reason)

    @classmethod
    def no_opinion(cls, reason: str = "") -> Decision:
        return cls(Verdict.NO_OPINION, reason)


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> Decision: ...


class AlwaysAllow:
    def authorize(self, attributes: Attributes) -> Decision:
        return Decision.allow()


class AlwaysDeny:
    def authorize(self, attributes: Attributes) -> Decision:
        return Decision.deny()


class SystemMasters:
    """Members of system:masters may do anything (kube-apiserver's privileged group); no opinion
    about anyone else."""

    def authorize(self, attributes: Attributes) -> Decision:
        if MASTERS_GROUP in attributes.user.groups:
            return Decision.allow()
        return Decision.no_opinion()


class AuthorizerChain:
    """The first authorizer with an opinion decides; nobody with one means deny."""

    def __init__(self, authorizers: Iterable[Authorizer]):
        self.authorizers = list(authorizers)

    def authorize(self, attributes: Attributes) -> Decision:
        reasons: list[str] = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attributes)
            if decision.verdict is not Verdict.NO_OPINION:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision.no_opinion("\n".join(reasons))


def default_authorizer() -> Authorizer:
    """system:masters may do anything, nobody else anything: the chain without RBAC, whose
    authorizer needs a store to read (the server builds SystemMasters + RBAC, server.py)."""
    return AuthorizerChain([SystemMasters()])


def forbidden_message(attributes: Attributes) -> str:
    """``User "x" cannot list resource "pods" in API group "" in the namespace "default"``."""
    user = attributes.user.name
    if not attributes.is_resource_request:
        return f'User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = (f'in the namespace "{attributes.namespace}"' if attributes.namespace
             else "at the cluster scope")
    return (f'User "{user}" cannot {attributes.verb} resource "{resource}" '
            f'in API group "{attributes.group}" {where}')


def forbidden_error(attributes: Attributes, reason: str = "") -> ApiError:
    """The 403 Status the real apiserver sends for a denied request."""
    detail = forbidden_message(attributes)
    if reason:
        detail = f"{detail}: {reason}"
    if not attributes.is_resource_request:
        return forbidden(f"forbidden: {detail}")
    qualified = f"{attributes.resource}.{attributes.group}" if attributes.group else attributes.resource
    subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    return forbidden(f"{subject} is forbidden: {detail}", resource=attributes.resource,
                     name=attributes.name, group=attributes.group)


def ensure_allowed(authorizer: Authorizer, attributes: Attributes) -> None:
    """Raise the 403 ApiError unless ``authorizer`` allows ``attributes``."""
    decision = authorizer.authorize(attributes)
    if not decision.allowed:
        raise forbidden_error(attributes, decision.reason)
