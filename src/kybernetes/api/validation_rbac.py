"""Validation of rbac.authorization.k8s.io kinds: Roles, ClusterRoles and their bindings.

The authorizer reads rules and bindings at face value, so what it could misread is refused: a
rule without verbs, a resource rule without groups or resources, a namespaced rule naming
non-resource URLs, a subject of unknown kind or in the wrong API group. A binding's roleRef is
fixed once created: re-pointing a binding would silently move every subject's permissions, so
the server demands a new binding instead. Paths have no "spec." prefix: these kinds have none.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import Cause
from .field_errors import dns1123_subdomain_errors, invalid, not_supported, path_segment_errors, required
from .validation_workloads import validate_label_selector

RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _policy_rule(rule: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(rule, dict):
        return [invalid(path, rule, "must be an object")]
    causes = []
    if not rule.get("verbs"):
        causes.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            causes.append(invalid(f"{path}.nonResourceURLs", urls,
                                  "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            causes.append(invalid(f"{path}.nonResourceURLs", urls,
                                  "rules cannot apply to both regular resources and non-resource URLs"))
        return causes
    if not rule.get("apiGroups"):
        causes.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        causes.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return causes


def _rules(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        causes += _policy_rule(rule, namespaced, f"rules[{i}]")
    return causes


def validate_role(obj: dict[str, Any]) -> list[Cause]:
    return _rules(obj, True)


def validate_cluster_role(obj: dict[str, Any]) -> list[Cause]:
    causes = _rules(obj, False)
    aggregation = obj.get("aggregationRule")
    if aggregation is not None:
        selectors = (aggregation or {}).get("clusterRoleSelectors") if isinstance(aggregation, dict) else None
        if not selectors:
            causes.append(required("aggregationRule.clusterRoleSelectors",
                                   "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors or []):
            causes += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return causes


def _subject(subject: Any, namespaced: bool, path: str) -> list[Cause]:
    if not isinstance(subject, dict):
        return [invalid(path, subject, "must be an object")]
    causes = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes += [invalid(f"{path}.name", name, m) for m in dns1123_subdomain_errors(name)]
        if group:
            causes.append(not_supported(f"{path}.apiGroup", group, ("",)))
        if not namespaced and not subject.get("namespace"):
            causes.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            causes.append(not_supported(f"{path}.apiGroup", group, (RBAC_GROUP,)))
    else:
        causes.append(not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return causes


def _binding(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    causes = []
    group, kind, name = ref.get("apiGroup") or "", ref.get("kind") or "", ref.get("name") or ""
    if group != RBAC_GROUP:
        causes.append(not_supported("roleRef.apiGroup", group, (RBAC_GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if kind not in kinds:
        causes.append(not_supported("roleRef.kind", kind, kinds))
    if not name:
        causes.append(required("roleRef.name"))
    else:
        causes += [invalid("roleRef.name", name, m) for m in path_segment_errors(str(name))]
    for i, subject in enumerate(obj.get("subjects") or []):
        causes += _subject(subject, namespaced, f"subjects[{i}]")
    return causes


def validate_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, True)


def validate_cluster_role_binding(obj: dict[str, Any]) -> list[Cause]:
    return _binding(obj, False)


def _go_role_ref(ref: Any) -> str:
    ref = ref if isinstance(ref, dict) else {}
    parts = ", ".join(f"{go}:{json.dumps(str(ref.get(key) or ''))}"
                      for go, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name")))
    return "rbac.RoleRef{" + parts + "}"


def validate_binding_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    def key(o: dict[str, Any]) -> tuple[str, ...]:
        ref = o.get("roleRef") if isinstance(o.get("roleRef"), dict) else {}
        return tuple(str(ref.get(k) or "") for k in ("apiGroup", "kind", "name"))

    if key(obj) == key(old):
        return []
    return [Cause("FieldValueInvalid", f"Invalid value: {_go_role_ref(obj.get('roleRef'))}: cannot change roleRef",
                  "roleRef")]


VALIDATORS = {
    (RBAC_GROUP, "roles"): (validate_role, None),
    (RBAC_GROUP, "clusterroles"): (validate_cluster_role, None),
    (RBAC_GROUP, "rolebindings"): (validate_role_binding, validate_binding_update),
    (RBAC_GROUP, "clusterrolebindings"): (validate_cluster_role_binding, validate_binding_update),
}
