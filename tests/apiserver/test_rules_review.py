"""SelfSubjectRulesReview through the server (``kubectl auth can-i --list``): the rules RBAC
grants the requesting user in a namespace, "*" for system:masters, errors reported, and the
listing function over an authorizer chain as a table of cases."""

from __future__ import annotations

from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.authz import AlwaysAllow, AlwaysDeny, AuthorizerChain, SystemMasters
from kybernetes.apiserver.authz_rbac import RbacIndex
from kybernetes.apiserver.rules_review import rules_for

RBAC = "/apis/rbac.authorization.k8s.io/v1"
SSRR = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
JANE = {"Impersonate-User": "jane"}
EVERYTHING = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
BASIC_USER = [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
               "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
              {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}]


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


async def rules_review(api, namespace: str | None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    spec = {} if namespace is None else {"namespace": namespace}
    return await api.post(SSRR, headers=headers, json={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": spec})


async def test_an_authenticated_user_starts_with_the_default_policy_only(api):
    status, body = await rules_review(api, "team", JANE)
    assert status == 201, body
    assert body["kind"] == "SelfSubjectRulesReview" and body["apiVersion"] == "authorization.k8s.io/v1"
    assert body["spec"] == {}
    status_ = body["status"]
    assert status_["incomplete"] is False and "evaluationError" not in status_
    assert sorted(status_["resourceRules"], key=str) == sorted(BASIC_USER, key=str)
    urls = {u for rule in status_["nonResourceRules"] for u in rule["nonResourceURLs"]}
    assert {"/api", "/apis/*", "/healthz", "/version"} <= urls
    assert all(rule["verbs"] == ["get"] for rule in status_["nonResourceRules"])


async def make_namespace(api, name: str) -> None:
    assert (await api.post("/api/v1/namespaces", json={"metadata": {"name": name}}))[0] == 201


async def test_role_bindings_count_in_their_namespace_cluster_bindings_everywhere(api):
    await make_namespace(api, "team")
    assert (await api.post(f"{RBAC}/namespaces/team/roles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pods"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
                  {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["app"]}]}))[0] == 201
    assert (await api.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
        "RoleBinding", "jane-pods", "Role", "pods", [{"kind": "User", "name": "jane"}])))[0] == 201
    assert (await api.post(f"{RBAC}/clusterroles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "metrics"},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                  {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]}))[0] == 201
    assert (await api.post(f"{RBAC}/clusterrolebindings", json=binding(
        "ClusterRoleBinding", "devs-metrics", "ClusterRole", "metrics", [{"kind": "Group", "name": "devs"}])))[0] == 201
    pods = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}
    app_config = {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app"]}
    nodes = {"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}
    metrics = {"verbs": ["get"], "nonResourceURLs": ["/metrics"]}

    _, body = await rules_review(api, "team", JANE)
    assert pods in body["status"]["resourceRules"] and app_config in body["status"]["resourceRules"]
    assert nodes not in body["status"]["resourceRules"]
    _, body = await rules_review(api, "other", JANE)
    assert pods not in body["status"]["resourceRules"]
    # the group binding, cluster-wide: in every namespace, the URL rule among the non-resource rules
    _, body = await rules_review(api, "other", {**JANE, "Impersonate-Group": "devs"})
    assert nodes in body["status"]["resourceRules"] and metrics in body["status"]["nonResourceRules"]
    assert pods not in body["status"]["resourceRules"]
    # a binding whose subjects name the user twice still lists its role once
    assert (await api.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
        "RoleBinding", "twice", "Role", "pods",
        [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"}])))[0] == 201
    _, body = await rules_review(api, "team", {**JANE, "Impersonate-Group": "devs"})
    assert body["status"]["resourceRules"].count(pods) == 2  # jane-pods and twice, once each


async def test_system_masters_may_do_everything_through_cluster_admin(api):
    # As on Kubernetes, the system:masters authorizer lists no rules of its own: the "*" comes
    # (once) from the bootstrap ClusterRoleBinding cluster-admin.
    status, body = await rules_review(api, "default")
    assert status == 201
    assert body["status"]["resourceRules"].count(EVERYTHING) == 1
    assert body["status"]["nonResourceRules"].count({"verbs": ["*"], "nonResourceURLs": ["*"]}) == 1
    assert body["status"]["incomplete"] is False


async def test_a_missing_role_is_an_evaluation_error(api):
    await make_namespace(api, "team")
    assert (await api.post(f"{RBAC}/namespaces/team/rolebindings", json=binding(
        "RoleBinding", "dangling", "Role", "gone", [{"kind": "User", "name": "jane"}])))[0] == 201
    assert (await api.post(f"{RBAC}/clusterrolebindings", json=binding(
        "ClusterRoleBinding", "dangling", "ClusterRole", "gone-too", [{"kind": "User", "name": "jane"}])))[0] == 201
    _, body = await rules_review(api, "team", JANE)
    assert body["status"]["incomplete"] is False  # as Kubernetes' RBAC resolver reports it
    assert body["status"]["evaluationError"] == ('[clusterrole.rbac.authorization.k8s.io "gone-too" not found, '
                                                 'role.rbac.authorization.k8s.io "gone" not found]')
    assert sorted(body["status"]["resourceRules"], key=str) == sorted(BASIC_USER, key=str)


async def test_bad_requests(api):
    status, body = await rules_review(api, None)
    assert status == 400 and body["reason"] == "BadRequest" and body["message"] == "no namespace on request"
    status, body = await api.post(SSRR, json={"apiVersion": "authorization.k8s.io/v1",
                                              "kind": "SelfSubjectRulesReview", "spec": {"namespace": 3}})
    assert status == 400 and body["kind"] == "Status"
    status, body = await api.get(SSRR)
    assert status == 405 and body["kind"] == "Status"


async def test_discovery_lists_the_resource_as_create_only(api):
    _, body = await api.get("/apis/authorization.k8s.io/v1")
    [entry] = [r for r in body["resources"] if r["name"] == "selfsubjectrulesreviews"]
    assert entry["verbs"] == ["create"] and entry["namespaced"] is False and entry["kind"] == "SelfSubjectRulesReview"


def test_rules_for_over_a_chain():
    jane = UserInfo(name="jane", groups=("devs", "system:authenticated"))
    admin = UserInfo(name="root", groups=("system:masters",))
    index = RbacIndex()
    index.put("clusterroles", "/r/clusterroles/odd", {"metadata": {"name": "odd"}, "rules": [
        {"verbs": ["get", 7], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/x"]},
        "not a rule"]})
    index.put("clusterrolebindings", "/r/crb/devs", {
        "metadata": {"name": "devs"}, "roleRef": {"kind": "ClusterRole", "name": "odd"},
        "subjects": [{"kind": "Group", "name": "devs"}]})

    class Rbac:
        def rules_for(self, user, namespace):
            return index.rules_for(user, namespace)

    listed = rules_for(AuthorizerChain([SystemMasters(), Rbac()]), jane, "ns")
    assert listed.resource_rules == [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}] * 2
    assert listed.non_resource_rules == [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]
    assert not listed.incomplete and not listed.errors
    assert rules_for(AuthorizerChain([SystemMasters()]), admin, "ns").resource_rules == []
    assert rules_for(AlwaysAllow(), jane, "ns").resource_rules == [EVERYTHING]
    assert rules_for(AlwaysDeny(), jane, "ns").status() == {"resourceRules": [], "nonResourceRules": [],
                                                            "incomplete": False}

    class Webhook:
        def authorize(self, attributes):
            raise AssertionError("not asked")

    unknown = rules_for(AuthorizerChain([Webhook(), AlwaysDeny()]), jane, "ns").status()
    assert unknown["incomplete"] is True
    assert unknown["evaluationError"] == "Webhook does not support user rule resolution"
