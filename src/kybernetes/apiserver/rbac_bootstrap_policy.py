"""The default RBAC policy every cluster starts with: ClusterRoles and ClusterRoleBindings.

Users expect the roles every Kubernetes cluster has: ``cluster-admin`` (everything), the
user-facing ``admin`` / ``edit`` / ``view`` (aggregated: their rules are the union of the
ClusterRoles labelled ``rbac.authorization.k8s.io/aggregate-to-<name>: "true"``, so an operator
extends them by labelling a role, and view flows into edit, edit into admin), discovery and
health for every authenticated client, and ``system:node`` for kubelets (group system:nodes).

The permissions follow upstream's bootstrap policy for the kinds this server serves; the data
is written here as plain dicts. rbac_bootstrap.py reconciles them at apiserver start.
"""

from __future__ import annotations

from typing import Any

RBAC_API = "rbac.authorization.k8s.io/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = READ + WRITE


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> dict:
    out: dict[str, Any] = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def url_rule(verbs: list[str], urls: list[str]) -> dict:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


def _with_status(*resources: str) -> list[str]:
    return [r for name in resources for r in (name, f"{name}/status")]


def _meta(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"name": name, "labels": {BOOTSTRAP_LABEL: "rbac-defaults", **(labels or {})},
            "annotations": {AUTOUPDATE: "true"}}


def cluster_role(name: str, rules: list[dict], labels: dict[str, str] | None = None,
                 aggregate_from: str = "") -> dict:
    role: dict[str, Any] = {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": _meta(name, labels),
                            "rules": rules}
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"{AGGREGATE_TO}{aggregate_from}": "true"}}]}
        role["rules"] = []
    return role


def cluster_role_binding(name: str, role: str, groups: list[str] = (), users: list[str] = ()) -> dict:
    subjects = ([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups]
                + [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users])
    return {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _aggregate(to: str) -> dict[str, str]:
    return {f"{AGGREGATE_TO}{to}": "true"}


_VIEW_RULES = [
    rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                      "services", "services/status", "endpoints", "persistentvolumeclaims",
                      "persistentvolumeclaims/status", "configmaps"]),
    rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                      "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(READ, ["apps"], ["controllerrevisions", *_with_status("statefulsets", "deployments", "replicasets",
                                                               "daemonsets"),
                          "statefulsets/scale", "deployments/scale", "replicasets/scale"]),
    rule(READ, ["autoscaling"], _with_status("horizontalpodautoscalers")),
    rule(READ, ["batch"], _with_status("jobs", "cronjobs")),
    rule(READ, ["policy"], _with_status("poddisruptionbudgets")),
    rule(READ, ["networking.k8s.io"], [*_with_status("ingresses"), "networkpolicies"]),
    rule(READ, ["events.k8s.io"], ["events"]),
]

_EDIT_RULES = [
    rule(["create", "delete", "deletecollection", "patch", "update"], [""],
         ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                       "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "endpoints"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(READ, [""], ["secrets", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "services/proxy"]),
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
                           "deployments/rollback", "replicasets", "replicasets/scale"]),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(WRITE, ["discovery.k8s.io"], ["endpointslices"]),
]

_ADMIN_RULES = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ_WRITE, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
]

# What kubelets (CN system:node:<name>, group system:nodes) do: watch what runs on them, report
# node and pod status, renew leases, record events, mint tokens for their pods' service accounts.
_NODE_RULES = [
    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
    rule(READ, [""], ["services", "namespaces"]),
    rule(["create", "get", "list", "watch", "patch", "update", "delete"], [""], ["nodes"]),
    rule(["patch", "update"], [""], ["nodes/status"]),
    rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
    rule(["get", "list", "watch", "create", "delete"], [""], ["pods"]),
    rule(["patch", "update"], [""], ["pods/status"]),
    rule(["create"], [""], ["pods/eviction", "serviceaccounts/token"]),
    rule(READ, [""], ["configmaps", "secrets", "serviceaccounts"]),
    rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes", "endpoints"]),
    rule(["get", "update", "patch"], [""], ["persistentvolumeclaims/status"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(["create", "delete", "get", "patch", "update", "list", "watch"], ["coordination.k8s.io"], ["leases"]),
    rule(["create", "get", "list", "watch"], ["certificates.k8s.io"], ["certificatesigningrequests"]),
    rule(READ, ["node.k8s.io"], ["runtimeclasses"]),
    rule(READ, ["storage.k8s.io"], ["csidrivers", "csinodes", "volumeattachments"]),
]

_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/openapi",
                   "/openapi/*", "/version", "/version/"]
_PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

CLUSTER_ROLES: list[dict] = [
    cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
    cluster_role("admin", [], aggregate_from="admin"),
    cluster_role("edit", [], labels=_aggregate("admin"), aggregate_from="edit"),
    cluster_role("view", [], labels=_aggregate("edit"), aggregate_from="view"),
    cluster_role("system:aggregate-to-admin", _ADMIN_RULES, labels=_aggregate("admin")),
    cluster_role("system:aggregate-to-edit", _EDIT_RULES, labels=_aggregate("edit")),
    cluster_role("system:aggregate-to-view", _VIEW_RULES, labels=_aggregate("view")),
    cluster_role("system:discovery", [url_rule(["get"], _DISCOVERY_URLS)]),
    cluster_role("system:public-info-viewer", [url_rule(["get"], _PUBLIC_INFO_URLS)]),
    cluster_role("system:basic-user", [
        rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
        rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ]),
    cluster_role("system:node", _NODE_RULES),
    cluster_role("system:auth-delegator", [
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    ]),
    cluster_role("system:monitoring", [
        url_rule(["get"], ["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics"]),
    ]),
    cluster_role("system:service-account-issuer-discovery", [
        url_rule(["get"], ["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                           "/openid/v1/jwks", "/openid/v1/jwks/"]),
    ]),
]

CLUSTER_ROLE_BINDINGS: list[dict] = [
    cluster_role_binding("cluster-admin", "cluster-admin", groups=["system:masters"]),
    cluster_role_binding("system:discovery", "system:discovery", groups=["system:authenticated"]),
    cluster_role_binding("system:basic-user", "system:basic-user", groups=["system:authenticated"]),
    cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                         groups=["system:authenticated", "system:unauthenticated"]),
    cluster_role_binding("system:node", "system:node", groups=["system:nodes"]),
    cluster_role_binding("system:monitoring", "system:monitoring", groups=["system:monitoring"]),
    cluster_role_binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
                         groups=["system:serviceaccounts"]),
]
