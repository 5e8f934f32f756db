"""Impersonation through the server: Impersonate-User / -Group / -Uid / -Extra-* act as someone
else when the requester may impersonate them, and the request then runs as that user only.

The test server treats requests without credentials as system:masters (the admin, who may
impersonate anyone); the service account default/robot (a bearer token) is a requester whom
only RBAC can allow to impersonate."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp.test_utils import make_mocked_request

from kybernetes.apiserver.authn import USER_KEY, UserInfo, request_user
from kybernetes.apiserver.authz import AlwaysAllow
from kybernetes.apiserver.impersonation import extra_key, impersonate, split_service_account

RBAC = "/apis/rbac.authorization.k8s.io/v1"
NS = "/api/v1/namespaces/default"
PODS = f"{NS}/pods"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
ROBOT = "system:serviceaccount:default:robot"
AUTHENTICATED = "system:authenticated"


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


def role(kind: str, name: str, rules: list[dict]) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": name}, "rules": rules}


async def whoami(api, headers: dict[str, str]) -> tuple[int, dict]:
    status, body = await api.post(WHOAMI, headers=headers, json={
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return status, body


async def whoami_multi(api, headers) -> tuple[int, dict]:
    """whoami with repeated headers (the ApiClient helpers take a plain dict)."""
    body = orjson.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    headers.add("Content-Type", "application/json")
    async with api.session.post(api.url + WHOAMI, data=body, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


async def test_the_admin_acts_as_jane_who_rbac_then_allows(api):
    jane = {"Impersonate-User": "jane"}
    status, body = await api.get(PODS, headers=jane)
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('pods is forbidden: User "jane" cannot list resource "pods" '
                               'in API group "" in the namespace "default"')
    assert (await api.post(f"{RBAC}/namespaces/default/roles", json=role("Role", "pod-reader", [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])))[0] == 201
    assert (await api.post(f"{RBAC}/namespaces/default/rolebindings", json=binding(
        "RoleBinding", "jane-reads", "Role", "pod-reader", [{"kind": "User", "name": "jane"}])))[0] == 201
    status, body = await api.get(PODS, headers=jane)
    assert status == 200 and body["kind"] == "PodList"
    # jane only: the admin's own groups are not carried over
    assert (await api.get("/api/v1/namespaces/kube-system/pods", headers=jane))[0] == 403
    assert (await api.post(f"{NS}/configmaps", headers=jane, json={"metadata": {"name": "c"}}))[0] == 403


async def test_the_impersonated_identity_is_exactly_what_was_asked_for(api):
    status, body = await whoami(api, {"Impersonate-User": "jane"})
    assert status == 201
    assert body["status"]["userInfo"] == {"username": "jane", "groups": [AUTHENTICATED]}
    status, body = await whoami_multi(api, _multi(
        ("Impersonate-User", "jane"), ("Impersonate-Group", "devs"), ("Impersonate-Group", "ops"),
        ("Impersonate-Uid", "u-1"), ("Impersonate-Extra-Scopes", "view"), ("Impersonate-Extra-Scopes", "edit"),
        ("Impersonate-Extra-acme.com%2Fproject", "p1")))
    assert status == 201, body
    assert body["status"]["userInfo"] == {
        "username": "jane", "uid": "u-1", "groups": ["devs", "ops", AUTHENTICATED],
        "extra": {"scopes": ["view", "edit"], "acme.com/project": ["p1"]}}


async def test_service_accounts_and_anonymous_get_their_fixed_groups(api):
    status, body = await whoami(api, {"Impersonate-User": "system:serviceaccount:team:builder"})
    assert status == 201
    assert body["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:team", AUTHENTICATED]
    # groups given explicitly replace the service account's fixed ones
    status, body = await whoami(api, {"Impersonate-User": "system:serviceaccount:team:builder",
                                      "Impersonate-Group": "devs"})
    assert body["status"]["userInfo"]["groups"] == ["devs", AUTHENTICATED]
    # anonymous is not authenticated: system:basic-user (bound to system:authenticated) is not theirs
    status, body = await whoami(api, {"Impersonate-User": "system:anonymous"})
    assert status == 403 and 'User "system:anonymous" cannot create resource "selfsubjectreviews"' in body["message"]
    assert (await api.post(f"{RBAC}/clusterrolebindings", json=binding(
        "ClusterRoleBinding", "anonymous-basic", "ClusterRole", "system:basic-user",
        [{"kind": "Group", "name": "system:unauthenticated"}])))[0] == 201
    status, body = await whoami(api, {"Impersonate-User": "system:anonymous"})
    assert body["status"]["userInfo"] == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    status, body = await whoami(api, {"Impersonate-User": "jane", "Impersonate-Group": "system:unauthenticated"})
    assert body["status"]["userInfo"] == {"username": "jane", "groups": ["system:unauthenticated"]}


async def test_a_group_binding_applies_to_an_impersonated_group(api):
    assert (await api.post(f"{RBAC}/clusterrolebindings", json=binding(
        "ClusterRoleBinding", "devs-view", "ClusterRole", "view", [{"kind": "Group", "name": "devs"}])))[0] == 201
    assert (await api.get(PODS, headers={"Impersonate-User": "jane"}))[0] == 403
    status, _ = await api.get(PODS, headers={"Impersonate-User": "jane", "Impersonate-Group": "devs"})
    assert status == 200


async def test_writes_as_an_impersonated_user_keep_the_user_agent_as_manager(api):
    assert (await api.post(f"{RBAC}/namespaces/default/rolebindings", json=binding(
        "RoleBinding", "jane-edit", "ClusterRole", "edit", [{"kind": "User", "name": "jane"}])))[0] == 201
    status, body = await api.post(f"{NS}/configmaps", json={"metadata": {"name": "by-jane"}, "data": {"a": "b"}},
                                  headers={"Impersonate-User": "jane", "User-Agent": "kubectl/v1.34.0 (linux)"})
    assert status == 201, body
    assert body["metadata"]["managedFields"][0]["manager"] == "kubectl"


async def test_a_requester_needs_rbac_to_impersonate(api, robot):
    status, body = await api.get(PODS, headers={**robot, "Impersonate-User": "jane"})
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (f'users "jane" is forbidden: User "{ROBOT}" cannot impersonate resource "users" '
                               'in API group "" at the cluster scope')
    assert body["details"] == {"name": "jane", "kind": "users"}
    assert (await api.post(f"{RBAC}/clusterroles", json=role("ClusterRole", "jane-impersonator", [
        {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["jane"]}])))[0] == 201
    assert (await api.post(f"{RBAC}/clusterrolebindings", json=binding(
        "ClusterRoleBinding", "robot-as-jane", "ClusterRole", "jane-impersonator",
        [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}])))[0] == 201
    status, body = await whoami(api, {**robot, "Impersonate-User": "jane"})
    assert status == 201 and body["status"]["userInfo"]["username"] == "jane"
    assert (await api.get(PODS, headers={**robot, "Impersonate-User": "john"}))[0] == 403
    # each further thing asked for is its own check
    status, body = await whoami(api, {**robot, "Impersonate-User": "jane", "Impersonate-Group": "devs"})
    assert status == 403
    assert body["message"] == (f'groups "devs" is forbidden: User "{ROBOT}" cannot impersonate resource '
                               '"groups" in API group "" at the cluster scope')
    status, body = await whoami(api, {**robot, "Impersonate-User": "jane", "Impersonate-Uid": "u-1"})
    assert status == 403
    assert body["message"] == (f'uids.authentication.k8s.io "u-1" is forbidden: User "{ROBOT}" cannot '
                               'impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope')
    status, body = await whoami(api, {**robot, "Impersonate-User": "jane", "Impersonate-Extra-Scopes": "view"})
    assert status == 403
    assert body["message"] == (f'userextras.authentication.k8s.io "view" is forbidden: User "{ROBOT}" cannot '
                               'impersonate resource "userextras/scopes" in API group "authentication.k8s.io" '
                               'at the cluster scope')


async def test_service_account_impersonation_is_checked_in_its_namespace(api, robot):
    # the edit role lets its holders impersonate the service accounts of the namespace it is bound in
    assert (await api.post(f"{RBAC}/namespaces/default/rolebindings", json=binding(
        "RoleBinding", "robot-edit", "ClusterRole", "edit",
        [{"kind": "ServiceAccount", "name": "robot"}])))[0] == 201
    status, body = await whoami(api, {**robot, "Impersonate-User": "system:serviceaccount:default:other"})
    assert status == 201 and body["status"]["userInfo"]["username"] == "system:serviceaccount:default:other"
    status, body = await whoami(api, {**robot, "Impersonate-User": "system:serviceaccount:kube-system:other"})
    assert status == 403
    assert body["message"] == (f'serviceaccounts "other" is forbidden: User "{ROBOT}" cannot impersonate '
                               'resource "serviceaccounts" in API group "" in the namespace "kube-system"')


async def test_bad_impersonation_headers_are_a_400_status(api):
    for headers in ({"Impersonate-Group": "devs"}, {"Impersonate-User": "", "Impersonate-Group": "devs"},
                    {"Impersonate-Uid": "u-1"}, {"Impersonate-Extra-Scopes": "view"}):
        status, body = await api.get(PODS, headers=headers)
        assert status == 400, headers
        assert body["kind"] == "Status" and body["reason"] == "BadRequest"
        assert "without impersonating a user" in body["message"]
    # an empty Impersonate-User alone asks for nothing: the request is the requester's own
    status, body = await whoami(api, {"Impersonate-User": ""})
    assert status == 201 and body["status"]["userInfo"]["username"] == "system:admin"
    # odd but well-formed names are users like any other
    status, body = await whoami(api, {"Impersonate-User": "system:serviceaccount:Bad_NS:x"})
    assert body["status"]["userInfo"] == {"username": "system:serviceaccount:Bad_NS:x", "groups": [AUTHENTICATED]}


def test_impersonation_headers_are_removed_before_the_handlers():
    request = make_mocked_request("GET", "/api/v1/pods", headers=_multi(
        ("Impersonate-User", "jane"), ("Impersonate-Group", "devs"), ("impersonate-extra-a", "b"),
        ("Impersonate-Uid", "1"), ("Accept", "application/json")))
    request[USER_KEY] = UserInfo(name="admin", groups=("system:masters",))
    acting = impersonate(request, AlwaysAllow())
    assert acting is not request
    assert dict(acting.headers) == {"Accept": "application/json"}
    assert request_user(acting) == UserInfo(name="jane", uid="1", groups=("devs", AUTHENTICATED),
                                            extra={"a": ("b",)})
    plain = make_mocked_request("GET", "/api/v1/pods", headers={"Accept": "application/json"})
    assert impersonate(plain, AlwaysAllow()) is plain


def test_names_and_keys():
    assert split_service_account("system:serviceaccount:ns:name") == ("ns", "name")
    assert split_service_account("system:serviceaccount:ns:a:b") is None
    assert split_service_account("system:serviceaccount:NS:name") is None
    assert split_service_account("jane") is None
    assert extra_key("Impersonate-Extra-Acme.com%2Fproject") == "acme.com/project"
    assert extra_key("Impersonate-Extra-bad%zzkey") == "bad%zzkey"


def _multi(*pairs: tuple[str, str]):
    from multidict import CIMultiDict

    return CIMultiDict(pairs)


async def test_header_bytes_that_are_not_utf8_give_a_status(api):
    """Raw HTTP: a name that is not UTF-8 is a 400; an odd unrelated header does not break the copy
    of the request without the impersonation headers."""
    async def raw_get(extra: bytes) -> tuple[int, dict]:
        host, port = api.url.split("//")[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         + extra + b"\r\n")
            await writer.drain()
            head, _, body = (await reader.read()).partition(b"\r\n\r\n")
        finally:
            writer.close()
        return int(head.split()[1]), orjson.loads(body)

    status, body = await raw_get(b"Impersonate-User: jane\r\nX-Odd: \xff\xfe\r\n")
    assert status == 403 and 'User "jane" cannot list resource "pods"' in body["message"]
    status, body = await raw_get(b"Impersonate-User: jane\r\nImpersonate-Group: d\xff\r\n")
    assert status == 400 and body["message"] == "the Impersonate-Group header is not valid UTF-8"
    status, body = await raw_get(b"Impersonate-User: j\xc3\xa9r\xc3\xb4me\r\n")
    assert status == 403 and 'User "j\u00e9r\u00f4me" cannot list' in body["message"]
