"""RBAC matching as tables: one rule against one request, subjects against users, and the index's
decisions over roles and bindings (no server)."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.authz import Attributes, Verdict
from kybernetes.apiserver.authz_rbac import RbacIndex
from kybernetes.apiserver.authz_rbac_rules import compile_rule, subject_key
from kybernetes.apiserver.rbac_aggregation import aggregated_rules
from kybernetes.apiserver.rbac_bootstrap import reconciled_binding, reconciled_role
from kybernetes.apiserver.rbac_bootstrap_policy import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES

JANE = UserInfo("jane", groups=("devs", "system:authenticated"))
ROBOT = UserInfo("system:serviceaccount:apps:robot",
                 groups=("system:serviceaccounts", "system:serviceaccounts:apps", "system:authenticated"))


def res(verb: str, resource: str, *, group: str = "", sub: str = "", ns: str = "apps", name: str = "",
        user: UserInfo = JANE) -> Attributes:
    return Attributes(user=user, verb=verb, group=group, version="v1", resource=resource, subresource=sub,
                      namespace=ns, name=name)


def url(path: str, verb: str = "get", user: UserInfo = JANE) -> Attributes:
    return Attributes(user=user, verb=verb, path=path)


PODS_READ = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}


@pytest.mark.parametrize("rule,attrs,allowed", [
    (PODS_READ, res("list", "pods"), True),
    (PODS_READ, res("delete", "pods", name="p"), False),  # verb
    (PODS_READ, res("list", "pods", group="apps"), False),  # group
    (PODS_READ, res("get", "pods", sub="log", name="p"), False),  # a subresource is its own resource
    (PODS_READ, res("list", "services"), False),
    ({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, res("deletecollection", "pods"), True),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments"]},
     res("get", "deployments", group="apps", name="web"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", sub="log", name="p"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", name="p"), False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}, res("get", "pods", sub="status", name="p"), True),
    ({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="scale", name="web"), True),
    ({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", name="web"), False),
    # resourceNames: only requests naming one of them; list/watch/create without a name never match
    ({**PODS_READ, "resourceNames": ["a", "b"]}, res("get", "pods", name="b"), True),
    ({**PODS_READ, "resourceNames": ["a", "b"]}, res("get", "pods", name="c"), False),
    ({**PODS_READ, "resourceNames": ["a"]}, res("list", "pods"), False),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
     res("create", "pods"), False),
    # non-resource URLs: exact, "*" suffix, "*"; never for resource requests, and vice versa
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("/healthz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("/healthz/etcd"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("/healthz", "post"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz*"]}, url("/healthz/etcd"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, url("/apis/apps/v1"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, url("/apis"), False),
    ({"verbs": ["*"], "nonResourceURLs": ["*"]}, url("/metrics"), True),
    ({"verbs": ["*"], "nonResourceURLs": ["*"]}, res("get", "pods", name="p"), False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, url("/metrics"), False),
])
def test_rule_matching(rule, attrs, allowed):
    compiled = compile_rule(rule)
    assert compiled is not None and compiled.allows(attrs) is allowed


@pytest.mark.parametrize("subject,namespace,key", [
    ({"kind": "User", "name": "jane"}, "", ("user", "jane")),
    ({"kind": "Group", "name": "devs"}, "apps", ("group", "devs")),
    ({"kind": "ServiceAccount", "name": "robot", "namespace": "apps"}, "", ("user", "system:serviceaccount:apps:robot")),
    ({"kind": "ServiceAccount", "name": "robot"}, "apps", ("user", "system:serviceaccount:apps:robot")),
    ({"kind": "ServiceAccount", "name": "robot"}, "", None),  # no namespace anywhere
    ({"kind": "Robot", "name": "x"}, "", None),
    ({"kind": "User"}, "", None),
    ("jane", "", None),
])
def test_subject_keys(subject, namespace, key):
    assert subject_key(subject, namespace) == key


def _index(*objects: tuple[str, dict]) -> RbacIndex:
    index = RbacIndex()
    for resource, obj in objects:
        meta = obj["metadata"]
        key = f"/registry/rbac.authorization.k8s.io/{resource}/" + (
            f"{meta['namespace']}/{meta['name']}" if "namespace" in meta else meta["name"])
        index.put(resource, key, obj)
    return index


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict], ns: str = "") -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, "roleRef": {"kind": role_kind, "name": role,
                                                         "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": subjects}


def test_role_bindings_apply_in_their_namespace_and_may_refer_to_cluster_roles():
    index = _index(
        ("clusterroles", {"metadata": {"name": "reader"}, "rules": [PODS_READ]}),
        ("roles", {"metadata": {"name": "cm", "namespace": "apps"},
                   "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]}),
        ("rolebindings", _binding("RoleBinding", "rb", "ClusterRole", "reader", [{"kind": "Group", "name": "devs"}],
                                  ns="apps")),
        ("rolebindings", _binding("RoleBinding", "rb2", "Role", "cm",
                                  [{"kind": "ServiceAccount", "name": "robot"}], ns="apps")),
    )
    decision = index.authorize(res("list", "pods"))
    assert decision.allowed
    assert decision.reason == ('RBAC: allowed by RoleBinding "rb/apps" of ClusterRole "reader" to Group "devs"')
    assert not index.authorize(res("list", "pods", ns="other")).allowed
    assert not index.authorize(res("list", "pods", ns="")).allowed  # all namespaces: cluster scope
    assert index.authorize(res("get", "configmaps", name="c", user=ROBOT)).reason == (
        'RBAC: allowed by RoleBinding "rb2/apps" of Role "cm" to ServiceAccount "robot/apps"')
    assert not index.authorize(res("get", "configmaps", name="c")).allowed


def test_cluster_role_bindings_apply_everywhere_and_removals_take_effect():
    index = _index(
        ("clusterroles", {"metadata": {"name": "reader"}, "rules": [PODS_READ]}),
        ("clusterrolebindings", _binding("ClusterRoleBinding", "crb", "ClusterRole", "reader",
                                         [{"kind": "User", "name": "jane"}])),
    )
    assert index.authorize(res("list", "pods", ns="")).allowed
    assert index.authorize(res("list", "pods", ns="other")).allowed
    assert not index.authorize(res("list", "pods", user=ROBOT)).allowed
    index.remove("clusterrolebindings", "/registry/rbac.authorization.k8s.io/clusterrolebindings/crb")
    assert not index.authorize(res("list", "pods")).allowed
    assert index.bindings == {}


def test_a_binding_to_a_missing_role_gives_no_opinion_with_the_reason():
    index = _index(("rolebindings", _binding("RoleBinding", "rb", "Role", "ghost",
                                             [{"kind": "User", "name": "jane"}], ns="apps")))
    decision = index.authorize(res("list", "pods"))
    assert decision.verdict is Verdict.NO_OPINION
    assert decision.reason == 'RBAC: role.rbac.authorization.k8s.io "ghost" not found'
    assert index.authorize(res("list", "pods", ns="x")).reason == ""


def test_aggregation_is_a_fixed_point_over_chained_roles():
    def role(name, labels=None, rules=None, selects=None):
        obj = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules or []}
        if selects:
            obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {selects: "true"}}]}
        return obj

    read = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    write = {"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}
    roles = {"view": role("view", {"to-edit": "true"}, selects="to-view"),
             "edit": role("edit", selects="to-edit"),
             "a": role("a", {"to-view": "true"}, [read]),
             "b": role("b", {"to-edit": "true"}, [write, read]),
             "c": role("c", {}, [write])}
    assert aggregated_rules(roles) == {"view": [read], "edit": [write, read]}
    roles["view"]["rules"] = [read]
    roles["edit"]["rules"] = [write, read]
    assert aggregated_rules(roles) == {}


def test_bootstrap_reconcile_adds_what_is_missing_and_respects_autoupdate_false():
    node = next(r for r in CLUSTER_ROLES if r["metadata"]["name"] == "system:node")
    extra = {"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}
    existing = {**node, "metadata": {"name": "system:node"}, "rules": [extra, node["rules"][0]]}
    updated = reconciled_role(existing, node)
    assert updated is not None and updated["rules"][0] == extra and len(updated["rules"]) == len(node["rules"]) + 1
    assert updated["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert reconciled_role(updated, node) is None
    frozen = {**existing, "metadata": {"name": "system:node", "annotations": {
        "rbac.authorization.kubernetes.io/autoupdate": "false"}}}
    assert reconciled_role(frozen, node) is None
    binding = next(b for b in CLUSTER_ROLE_BINDINGS if b["metadata"]["name"] == "system:discovery")
    mine = {**binding, "subjects": [{"kind": "User", "name": "jane"}]}
    merged = reconciled_binding(mine, binding)
    assert merged is not None and [s["name"] for s in merged["subjects"]] == ["jane", "system:authenticated"]
