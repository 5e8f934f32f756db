"""Authorization: the chain's decisions and the exact 403 the real apiserver sends."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.authz import (
    AlwaysAllow,
    AlwaysDeny,
    Attributes,
    AuthorizerChain,
    Decision,
    SystemMasters,
    Verdict,
    default_authorizer,
    ensure_allowed,
    forbidden_error,
)

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))


def list_pods(user=ALICE) -> Attributes:
    return Attributes(user=user, verb="list", version="v1", resource="pods", namespace="default",
                      path="/api/v1/namespaces/default/pods")


class _Recorder:
    def __init__(self, decision: Decision):
        self.decision, self.seen = decision, []

    def authorize(self, attributes):
        self.seen.append(attributes)
        return self.decision


def test_first_opinion_decides_and_later_authorizers_are_not_asked():
    silent, deny, allow = _Recorder(Decision.no_opinion()), _Recorder(Decision.deny("no")), _Recorder(Decision.allow())
    assert AuthorizerChain([silent, deny, allow]).authorize(list_pods()) == Decision.deny("no")
    assert len(silent.seen) == 1 and len(deny.seen) == 1 and allow.seen == []
    assert AuthorizerChain([silent, allow, deny]).authorize(list_pods()).allowed


def test_nobody_with_an_opinion_is_a_denial_carrying_the_reasons():
    chain = AuthorizerChain([_Recorder(Decision.no_opinion("rbac: no rule")), _Recorder(Decision.no_opinion())])
    decision = chain.authorize(list_pods())
    assert decision.verdict is Verdict.NO_OPINION and not decision.allowed
    assert decision.reason == "rbac: no rule"
    assert not AuthorizerChain([]).authorize(list_pods()).allowed


def test_system_masters_may_do_anything_and_others_nothing_by_default():
    chain = default_authorizer()
    assert chain.authorize(list_pods(ADMIN)).allowed
    assert not chain.authorize(list_pods(ALICE)).allowed
    assert SystemMasters().authorize(list_pods(ALICE)).verdict is Verdict.NO_OPINION
    assert AlwaysAllow().authorize(list_pods()).allowed
    assert AlwaysDeny().authorize(list_pods(ADMIN)).verdict is Verdict.DENY


def test_forbidden_message_for_a_namespaced_list_matches_kubernetes():
    with pytest.raises(ApiError) as info:
        ensure_allowed(default_authorizer(), list_pods())
    status = info.value.to_status()
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    assert status["message"] == ('pods is forbidden: User "alice" cannot list resource "pods" '
                                 'in API group "" in the namespace "default"')
    assert status["details"] == {"kind": "pods"}


@pytest.mark.parametrize("attrs,message,details", [
    (Attributes(ALICE, "get", "apps", "v1", "deployments", "scale", "prod", "web"),
     'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments/scale" '
     'in API group "apps" in the namespace "prod"',
     {"name": "web", "group": "apps", "kind": "deployments"}),
    (Attributes(ALICE, "create", "", "v1", "namespaces"),
     'namespaces is forbidden: User "alice" cannot create resource "namespaces" in API group "" '
     "at the cluster scope",
     {"kind": "namespaces"}),
    (Attributes(ALICE, "get", path="/metrics"),
     'forbidden: User "alice" cannot get path "/metrics"', None),
])
def test_forbidden_messages(attrs, message, details):
    status = forbidden_error(attrs).to_status()
    assert status["message"] == message
    assert status.get("details") == details


def test_a_denial_reason_is_appended():
    err = forbidden_error(list_pods(), "node authorizer: not this node's pod")
    assert err.message.endswith('in the namespace "default": node authorizer: not this node\'s pod')


def test_ensure_allowed_passes_quietly_when_allowed():
    assert ensure_allowed(default_authorizer(), list_pods(ADMIN)) is None
