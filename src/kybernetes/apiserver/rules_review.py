"""SelfSubjectRulesReview: what may I do in this namespace? (``kubectl auth can-i --list``)

    POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews  {"spec": {"namespace": "x"}}
        ──► rules_for(authorizer chain, requesting user, "x")
              SystemMasters   nothing: it allows system:masters without rules
              RBAC            the rules of every binding naming the user (authz_rbac.py); for
                              system:masters that is cluster-admin's "*" on everything
              AlwaysAllow     "*" everything;  AlwaysDeny: nothing
              anything else   nothing known: incomplete, with an evaluationError
        ◄── 201 {"status": {"resourceRules", "nonResourceRules", "incomplete", "evaluationError"?}}

This is the chain Kubernetes resolves rules over: its system:masters authorizer is not a rule
resolver either, so an admin sees "*" once (from the bootstrap cluster-admin binding), as on a
real cluster. The answer is the union over the chain, as Kubernetes' union rule resolver gives it: not
de-duplicated or compacted (kubectl compacts it for its table). A rule is listed as a resource
rule when it names resources and as a non-resource rule when it names URLs. An RBAC binding whose
role does not exist is reported in evaluationError; like Kubernetes' RBAC resolver it leaves
``incomplete`` false (only an authorizer that cannot list rules at all makes the list incomplete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import errors
from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.authz import AlwaysAllow, AlwaysDeny, AuthorizerChain, SystemMasters

EVERYTHING_RESOURCES = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
EVERYTHING_PATHS = {"verbs": ["*"], "nonResourceURLs": ["*"]}


@dataclass
class RulesList:
    """SubjectRulesReviewStatus in the making."""

    resource_rules: list[dict[str, Any]] = field(default_factory=list)
    non_resource_rules: list[dict[str, Any]] = field(default_factory=list)
    incomplete: bool = False
    errors: list[str] = field(default_factory=list)

    def add_policy(self, policy: dict[str, list[str]]) -> None:
        """One PolicyRule (its string lists), as ResourceRule and/or NonResourceRule."""
        verbs = list(policy.get("verbs") or [])
        if policy.get("resources"):
            rule: dict[str, Any] = {"verbs": verbs}
            for name in ("apiGroups", "resources", "resourceNames"):
                if policy.get(name):
                    rule[name] = list(policy[name])
            self.resource_rules.append(rule)
        if policy.get("nonResourceURLs"):
            self.non_resource_rules.append({"verbs": verbs, "nonResourceURLs": list(policy["nonResourceURLs"])})

    def add_everything(self) -> None:
        self.resource_rules.append({k: list(v) for k, v in EVERYTHING_RESOURCES.items()})
        self.non_resource_rules.append({k: list(v) for k, v in EVERYTHING_PATHS.items()})

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resourceRules": self.resource_rules, "nonResourceRules": self.non_resource_rules,
                               "incomplete": self.incomplete}
        if self.errors:
            out["evaluationError"] = aggregate_message(self.errors)
        return out


def aggregate_message(messages: list[str]) -> str:
    """One error as itself, several as ``[a, b]`` (how Kubernetes prints an aggregate error)."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def rules_for(authorizer: Any, user: UserInfo, namespace: str, into: RulesList | None = None) -> RulesList:
    """What ``authorizer`` (usually the server's chain) lets ``user`` do in ``namespace``."""
    out = into if into is not None else RulesList()
    if isinstance(authorizer, AuthorizerChain):
        for member in authorizer.authorizers:
            rules_for(member, user, namespace, out)
    elif isinstance(authorizer, SystemMasters):
        pass  # allows without rules; RBAC's cluster-admin binding lists system:masters' "*"
    elif isinstance(authorizer, AlwaysAllow):
        out.add_everything()
    elif isinstance(authorizer, AlwaysDeny):
        pass
    elif callable(getattr(authorizer, "rules_for", None)):
        rules, problems = authorizer.rules_for(user, namespace)
        for rule in rules:
            out.add_policy(rule.policy)
        out.errors.extend(problems)
    else:
        out.incomplete = True
        out.errors.append(f"{type(authorizer).__name__} does not support user rule resolution")
    return out


def rules_review(authorizer: Any, user: UserInfo, spec: dict[str, Any]) -> dict[str, Any]:
    """The SelfSubjectRulesReview answer's body (without kind/apiVersion): Kubernetes answers with
    an empty spec and the status only."""
    namespace = spec.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise errors.bad_request("spec.namespace must be a string")
    if not namespace:
        raise errors.bad_request("no namespace on request")
    return {"metadata": {}, "spec": {}, "status": rules_for(authorizer, user, namespace).status()}
