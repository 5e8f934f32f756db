"""RBAC through the server: service-account tokens are refused until a binding allows them, and
allowed by the very next request after it; the default policy; aggregation; access reviews.

The test server treats requests without credentials as system:masters (the admin); requests with
a service account's bearer token are that service account, whom only RBAC can allow anything."""

from __future__ import annotations

RBAC = "/apis/rbac.authorization.k8s.io/v1"
NS = "/api/v1/namespaces/default"
PODS = f"{NS}/pods"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SAR = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
ROBOT = "system:serviceaccount:default:robot"


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


SA_SUBJECT = {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}


async def test_a_role_binding_to_view_takes_effect_on_the_next_request(api, robot):
    status, body = await api.get(PODS, headers=robot)
    assert status == 403
    assert body["message"] == (f'pods is forbidden: User "{ROBOT}" cannot list resource "pods" '
                               'in API group "" in the namespace "default"')
    status, body = await api.post(f"{RBAC}/namespaces/default/rolebindings",
                                  json=binding("RoleBinding", "robot-view", "ClusterRole", "view", [SA_SUBJECT]))
    assert status == 201, body
    status, body = await api.get(PODS, headers=robot)
    assert status == 200 and body["kind"] == "PodList"
    assert (await api.get("/apis/apps/v1/namespaces/default/deployments", headers=robot))[0] == 200
    # view reads, it does not write, nor read secrets, nor other namespaces
    assert (await api.post(f"{NS}/configmaps", headers=robot, json={"metadata": {"name": "c"}}))[0] == 403
    assert (await api.get(f"{NS}/secrets", headers=robot))[0] == 403
    assert (await api.get("/api/v1/namespaces/kube-system/pods", headers=robot))[0] == 403
    # deleting the binding takes the permission away as promptly
    status, _ = await api.delete(f"{RBAC}/namespaces/default/rolebindings/robot-view")
    assert status == 200
    assert (await api.get(PODS, headers=robot))[0] == 403


async def test_cluster_role_binding_and_a_role_limited_to_resource_names(api, robot):
    status, _ = await api.post(f"{RBAC}/clusterroles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ns-one"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"], "resourceNames": ["default"]}]})
    assert status == 201
    status, _ = await api.post(f"{RBAC}/clusterrolebindings",
                               json=binding("ClusterRoleBinding", "robot-ns", "ClusterRole", "ns-one", [SA_SUBJECT]))
    assert status == 201
    assert (await api.get("/api/v1/namespaces/default", headers=robot))[0] == 200
    assert (await api.get("/api/v1/namespaces/kube-system", headers=robot))[0] == 403
    assert (await api.get("/api/v1/namespaces", headers=robot))[0] == 403  # a list names nothing
    # a Role in one namespace; a rule change through PUT applies at once too
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["a"]}]}
    assert (await api.post(f"{RBAC}/namespaces/default/roles", json=role))[0] == 201
    status, _ = await api.post(f"{RBAC}/namespaces/default/rolebindings",
                               json=binding("RoleBinding", "robot-cm", "Role", "cm", [SA_SUBJECT]))
    assert status == 201
    assert (await api.post(f"{NS}/configmaps", json={"metadata": {"name": "a"}}))[0] == 201
    assert (await api.post(f"{NS}/configmaps", json={"metadata": {"name": "b"}}))[0] == 201
    assert (await api.get(f"{NS}/configmaps/a", headers=robot))[0] == 200
    assert (await api.get(f"{NS}/configmaps/b", headers=robot))[0] == 403
    role["rules"][0]["resourceNames"] = ["a", "b"]
    assert (await api.put(f"{RBAC}/namespaces/default/roles/cm", json=role))[0] == 200
    assert (await api.get(f"{NS}/configmaps/b", headers=robot))[0] == 200


async def test_default_policy_discovery_health_and_basic_user(api, robot):
    status, body = await api.get(f"{RBAC}/clusterroles")
    names = {item["metadata"]["name"] for item in body["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
            "system:public-info-viewer", "system:node"} <= names
    for path in ("/healthz", "/livez", "/readyz", "/version", "/api", "/apis", "/apis/apps/v1"):
        assert (await api.get(path, headers=robot))[0] == 200, path
    status, body = await api.get("/metrics", headers=robot)
    assert status == 403 and body["message"] == f'forbidden: User "{ROBOT}" cannot get path "/metrics"'
    status, body = await api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", headers=robot, json={
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201 and body["status"]["userInfo"]["username"] == ROBOT


async def can_i(api, headers, verb: str, resource: str, namespace: str = "default", **extra) -> dict:
    status, body = await api.post(SSAR, headers=headers, json={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": namespace, **extra}}})
    assert status == 201, body
    return body["status"]


async def test_access_reviews_reflect_rbac(api, robot):
    assert (await can_i(api, robot, "list", "pods"))["allowed"] is False
    await api.post(f"{RBAC}/namespaces/default/rolebindings",
                   json=binding("RoleBinding", "robot-edit", "ClusterRole", "edit", [SA_SUBJECT]))
    answer = await can_i(api, robot, "create", "deployments", group="apps")
    assert answer == {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "robot-edit/default" of '
                                                 'ClusterRole "edit" to ServiceAccount "robot/default"'}
    assert (await can_i(api, robot, "create", "deployments", namespace="other", group="apps"))["allowed"] is False
    assert (await can_i(api, robot, "create", "rolebindings", group="rbac.authorization.k8s.io"))["allowed"] is False
    # SubjectAccessReview (as the admin) about a user by name and groups
    await api.post(f"{RBAC}/clusterrolebindings",
                   json=binding("ClusterRoleBinding", "devs-view", "ClusterRole", "view",
                                [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]))

    async def sar(user: str, groups: list[str], verb: str) -> bool:
        status, body = await api.post(SAR, json={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups,
                     "resourceAttributes": {"verb": verb, "resource": "services", "namespace": "x"}}})
        assert status == 201, body
        return body["status"]["allowed"]

    assert await sar("jane", ["devs"], "watch") is True
    assert await sar("jane", ["devs"], "delete") is False
    assert await sar("jane", ["ops"], "watch") is False


async def test_aggregation_adds_a_labelled_role_to_view_at_once(api, robot):
    status, _ = await api.post(f"{RBAC}/namespaces/default/rolebindings",
                               json=binding("RoleBinding", "robot-view", "ClusterRole", "view", [SA_SUBJECT]))
    assert status == 201
    assert (await api.get(f"{NS}/secrets", headers=robot))[0] == 403
    status, _ = await api.post(f"{RBAC}/clusterroles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "secret-reader", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]})
    assert status == 201
    status, view = await api.get(f"{RBAC}/clusterroles/view")
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]} in view["rules"]
    _, edit = await api.get(f"{RBAC}/clusterroles/edit")  # view flows into edit, edit into admin
    _, admin = await api.get(f"{RBAC}/clusterroles/admin")
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]} in edit["rules"]
    assert len(admin["rules"]) > len(edit["rules"]) > len(view["rules"]) > 5
    assert (await api.get(f"{NS}/secrets", headers=robot))[0] == 200
    # removing the label takes the rule out again
    status, _ = await api.patch(f"{RBAC}/clusterroles/secret-reader", json={"metadata": {"labels": {
        "rbac.authorization.k8s.io/aggregate-to-view": None}}})
    assert status == 200
    assert (await api.get(f"{NS}/secrets", headers=robot))[0] == 403


async def test_a_default_role_marked_autoupdate_false_is_kept_across_restarts(api):
    from kybernetes.apiserver.rbac_bootstrap import reconcile_bootstrap_policy

    path = f"{RBAC}/clusterroles/system:basic-user"
    status, _ = await api.patch(path, json={"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    assert status == 200
    await reconcile_bootstrap_policy(api.objects)  # what the next start does
    _, role = await api.get(path)
    assert len(role["rules"]) == 3  # the missing defaults are back, the operator's rule stays
    status, _ = await api.patch(path, json={
        "metadata": {"annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    assert status == 200
    await reconcile_bootstrap_policy(api.objects)
    _, role = await api.get(path)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    status, _ = await api.delete(path)
    assert status == 200
    await reconcile_bootstrap_policy(api.objects)
    assert (await api.get(path))[0] == 200  # a deleted default comes back



async def test_a_binding_written_by_another_apiserver_arrives_through_the_watch(api, robot):
    import asyncio

    info = api.objects.registry.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    # Straight to the store's objects, as another apiserver on the same store would: no response
    # of this server waits for the index, the watch brings it.
    await api.objects.create(info, None, binding("ClusterRoleBinding", "robot-view", "ClusterRole", "view",
                                                 [SA_SUBJECT]))
    for _ in range(100):
        if (await api.get("/api/v1/namespaces/kube-system/pods", headers=robot))[0] == 200:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the ClusterRoleBinding never took effect")


async def test_the_index_watches_again_after_its_feed_ends(api, robot):
    import asyncio

    from kybernetes.apiserver.watch import WATCH_HUB_KEY

    feed = api.app[WATCH_HUB_KEY].feeds["/registry/rbac.authorization.k8s.io/clusterrolebindings/"]
    await feed.stop()  # a store watch failure ends a feed the same way
    info = api.objects.registry.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    await api.objects.create(info, None, binding("ClusterRoleBinding", "robot-view", "ClusterRole", "view",
                                                 [SA_SUBJECT]))
    for _ in range(100):
        if (await api.get(PODS, headers=robot))[0] == 200:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the index did not watch again")
