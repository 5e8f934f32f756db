"""RBAC's matching: does one PolicyRule cover a request, does one subject name a user?

These are the pure parts of the RBAC authorizer (authz_rbac.py), kept apart so they can be
tested as tables. The semantics are Kubernetes':

    verbs            the request's verb, or "*"
    apiGroups        the request's group, or "*"
    resources        "pods", "pods/log" (the combined resource/subresource), "*" (everything,
                     subresources included) or "*/scale" (that subresource of any resource)
    resourceNames    empty: any object; else the request must name one of them, so a list,
                     watch or create without a name never matches a rule limited to names
    nonResourceURLs  for requests without a resource: the exact path, "*", or a prefix ending
                     in "*" ("/healthz*", "/apis/*")

A subject names a user when it is the User of that name, a Group the user is in, or the
ServiceAccount whose user name is system:serviceaccount:<namespace>:<name> (a RoleBinding's
subject without a namespace means the binding's own namespace).

Rules are compiled once, when the index is built, into sets: a request checks membership only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.apiserver.authz import Attributes

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _strings(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


@dataclass(frozen=True)
class CompiledRule:
    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    urls: tuple[str, ...]  # exact paths
    url_prefixes: tuple[str, ...]  # "/apis/*" -> "/apis/"; "*" -> ""
    # The rule as written (its string lists, in order), for listing a user's rules
    # (SelfSubjectRulesReview); not part of matching.
    policy: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    def allows(self, attrs: Attributes) -> bool:
        verbs = self.verbs
        if attrs.verb not in verbs and "*" not in verbs:
            return False
        if attrs.is_resource_request:
            return self._allows_resource(attrs)
        return self._allows_path(attrs.path)

    def _allows_resource(self, attrs: Attributes) -> bool:
        if attrs.group not in self.groups and "*" not in self.groups:
            return False
        resources = self.resources
        if "*" not in resources:
            sub = attrs.subresource
            combined = f"{attrs.resource}/{sub}" if sub else attrs.resource
            if combined not in resources and not (sub and f"*/{sub}" in resources):
                return False
        return not self.names or attrs.name in self.names

    def _allows_path(self, path: str) -> bool:
        if path in self.urls:
            return True
        return any(path.startswith(prefix) for prefix in self.url_prefixes)


def compile_rule(rule: Any) -> CompiledRule | None:
    """A PolicyRule as stored; None for something that is not one (it then grants nothing)."""
    if not isinstance(rule, dict):
        return None
    exact: list[str] = []
    prefixes: list[str] = []
    for url in _strings(rule.get("nonResourceURLs")):
        if url.endswith("*"):
            prefixes.append(url[:-1])
        else:
            exact.append(url)
    return CompiledRule(verbs=_strings(rule.get("verbs")), groups=_strings(rule.get("apiGroups")),
                        resources=_strings(rule.get("resources")), names=_strings(rule.get("resourceNames")),
                        urls=tuple(sorted(exact)), url_prefixes=tuple(sorted(prefixes)),
                        policy=policy_lists(rule))


POLICY_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def policy_lists(rule: dict[str, Any]) -> dict[str, list[str]]:
    """A stored PolicyRule's string lists, in their order, without anything that is not a string."""
    out: dict[str, list[str]] = {}
    for name in POLICY_FIELDS:
        value = rule.get(name)
        if isinstance(value, list):
            out[name] = [v for v in value if isinstance(v, str)]
    return out


def compile_rules(rules: Any) -> tuple[CompiledRule, ...]:
    if not isinstance(rules, list):
        return ()
    compiled = (compile_rule(r) for r in rules)
    return tuple(r for r in compiled if r is not None)


def subject_key(subject: Any, binding_namespace: str) -> tuple[str, str] | None:
    """("user", name) or ("group", name) for a binding's subject; a ServiceAccount becomes the
    user it authenticates as. None for a subject that can name nobody."""
    if not isinstance(subject, dict):
        return None
    kind, name = subject.get("kind"), subject.get("name")
    if not isinstance(name, str) or not name:
        return None
    if kind == "User":
        return ("user", name)
    if kind == "Group":
        return ("group", name)
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not isinstance(namespace, str) or not namespace:
            return None
        return ("user", f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}")
    return None


def subject_text(key: tuple[str, str]) -> str:
    """How an allow reason names the subject: ``User "jane"``, ``Group "devs"``,
    ``ServiceAccount "robot/default"`` (Kubernetes' wording)."""
    kind, name = key
    if kind == "group":
        return f'Group "{name}"'
    if name.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace, _, account = name[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
        if account:
            return f'ServiceAccount "{account}/{namespace}"'
    return f'User "{name}"'
