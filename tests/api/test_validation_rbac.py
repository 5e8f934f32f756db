"""RBAC validation: rules, roleRef (required and fixed), subjects by kind and scope."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of

RBAC = "rbac.authorization.k8s.io"


def role(*rules, namespaced=True):
    meta = {"name": "r", "namespace": "default"} if namespaced else {"name": "r"}
    return {"metadata": meta, "rules": list(rules)}


@pytest.mark.parametrize("resource,rule,expected", [
    ("roles", {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, []),
    ("roles", {"apiGroups": [""], "resources": ["pods"]},
     [("rules[0].verbs", "FieldValueRequired", "Required value: verbs must contain at least one value")]),
    ("roles", {"verbs": ["get"]},
     [("rules[0].apiGroups", "FieldValueRequired", "Required value: resource rules must supply at least one api group"),
      ("rules[0].resources", "FieldValueRequired", "Required value: resource rules must supply at least one resource")]),
    ("roles", {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
     [("rules[0].nonResourceURLs", "FieldValueInvalid",
       'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs')]),
    ("clusterroles", {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, []),
    ("clusterroles", {"nonResourceURLs": ["/healthz"], "resources": ["pods"], "verbs": ["get"]},
     [("rules[0].nonResourceURLs", "FieldValueInvalid",
       'Invalid value: []string{"/healthz"}: rules cannot apply to both regular resources and non-resource URLs')]),
])
def test_policy_rules(resource, rule, expected):
    assert errors_of(RBAC, resource, role(rule, namespaced=resource == "roles")) == expected


def test_cluster_role_aggregation_needs_selectors():
    obj = {"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": []}}
    assert errors_of(RBAC, "clusterroles", obj) == [
        ("aggregationRule.clusterRoleSelectors", "FieldValueRequired",
         "Required value: at least one clusterRoleSelector required if aggregationRule is non-nil")]


def binding(ref=None, subjects=None, namespaced=True):
    meta = {"name": "b", "namespace": "default"} if namespaced else {"name": "b"}
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"} if ref is None else ref
    return {"metadata": meta, "roleRef": ref, "subjects": subjects or []}


@pytest.mark.parametrize("resource,obj,expected", [
    ("rolebindings", binding(subjects=[{"kind": "User", "name": "alice"}]), []),
    ("rolebindings", binding(subjects=[{"kind": "ServiceAccount", "name": "default"}]), []),
    ("rolebindings", binding(ref={}),
     [("roleRef.apiGroup", "FieldValueNotSupported", 'Unsupported value: "": supported values: '
                                                     '"rbac.authorization.k8s.io"'),
      ("roleRef.kind", "FieldValueNotSupported", 'Unsupported value: "": supported values: "Role", "ClusterRole"'),
      ("roleRef.name", "FieldValueRequired", "Required value")]),
    ("clusterrolebindings", binding(ref={"apiGroup": RBAC, "kind": "Role", "name": "x"}, namespaced=False),
     [("roleRef.kind", "FieldValueNotSupported", 'Unsupported value: "Role": supported values: "ClusterRole"')]),
    ("clusterrolebindings", binding(subjects=[{"kind": "ServiceAccount", "name": "default"}], namespaced=False),
     [("subjects[0].namespace", "FieldValueRequired", "Required value")]),
    ("rolebindings", binding(subjects=[{"kind": "Robot", "name": "r2"}]),
     [("subjects[0].kind", "FieldValueNotSupported",
       'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"')]),
    ("rolebindings", binding(subjects=[{"kind": "Group", "name": "devs", "apiGroup": "example.com"}]),
     [("subjects[0].apiGroup", "FieldValueNotSupported",
       'Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"')]),
    ("rolebindings", binding(subjects=[{"kind": "ServiceAccount", "name": "", "apiGroup": RBAC}]),
     [("subjects[0].name", "FieldValueRequired", "Required value"),
      ("subjects[0].apiGroup", "FieldValueNotSupported",
       'Unsupported value: "rbac.authorization.k8s.io": supported values: ""')]),
])
def test_bindings(resource, obj, expected):
    assert errors_of(RBAC, resource, obj) == expected


def test_subject_api_group_is_defaulted():
    obj = binding(subjects=[{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa"}])
    assert errors_of(RBAC, "rolebindings", obj) == []
    assert [s["apiGroup"] for s in obj["subjects"]] == [RBAC, ""]


def test_role_ref_cannot_change():
    old = binding()
    errors_of(RBAC, "rolebindings", old)
    same = copy.deepcopy(old)
    same["subjects"] = [{"kind": "User", "name": "bob"}]
    assert errors_of(RBAC, "rolebindings", same, old=old) == []
    moved = copy.deepcopy(old)
    moved["roleRef"]["name"] = "admin"
    assert errors_of(RBAC, "rolebindings", moved, old=old) == [
        ("roleRef", "FieldValueInvalid", 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
                                         'Kind:"ClusterRole", Name:"admin"}: cannot change roleRef')]
