"""Create, get, update, patch, list basics of the generic REST handlers."""

from __future__ import annotations

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def pod(name: str, labels: dict | None = None, **spec) -> dict:
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}
    return body


def configmap(name: str, data: dict | None = None, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data or {}}


def deployment(name: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}


async def test_system_namespaces_exist(api):
    status, body = await api.get("/api/v1/namespaces")
    assert status == 200
    names = {item["metadata"]["name"] for item in body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    assert body["kind"] == "NamespaceList" and body["apiVersion"] == "v1"
    assert all(item["kind"] == "Namespace" for item in body["items"])
    assert all(item["status"]["phase"] == "Active" for item in body["items"])


async def test_create_sets_server_metadata_and_get_returns_it(api):
    status, created = await api.post(PODS, json=pod("p1"))
    assert status == 201, created
    m = created["metadata"]
    assert m["namespace"] == "default"
    assert m["uid"] and m["creationTimestamp"].endswith("Z")
    assert int(m["resourceVersion"]) > 0
    assert created["kind"] == "Pod" and created["apiVersion"] == "v1"
    assert created["status"]["phase"] == "Pending"
    assert created["spec"]["restartPolicy"] == "Always"  # defaulted

    status, got = await api.get(f"{PODS}/p1")
    assert status == 200
    assert got == created


async def test_create_ignores_client_server_owned_fields_and_status(api):
    body = pod("p2")
    body["metadata"]["uid"] = "not-mine"
    body["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z"
    body["status"] = {"phase": "Running"}
    status, created = await api.post(PODS, json=body)
    assert status == 201
    assert created["metadata"]["uid"] != "not-mine"
    assert created["metadata"]["creationTimestamp"] != "2001-01-01T00:00:00Z"
    assert created["status"]["phase"] == "Pending"


async def test_create_generate_name(api):
    status, created = await api.post(CMS, json={"metadata": {"generateName": "cfg-"}, "data": {}})
    assert status == 201
    name = created["metadata"]["name"]
    assert name.startswith("cfg-") and len(name) == len("cfg-") + 5


async def test_create_already_exists(api):
    assert (await api.post(CMS, json=configmap("dup")))[0] == 201
    status, body = await api.post(CMS, json=configmap("dup"))
    assert status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


async def test_get_missing_is_404_status(api):
    status, body = await api.get(f"{PODS}/nope")
    assert status == 404
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'


async def test_yaml_body_is_accepted(api):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n"
    status, body = await api.post(CMS, data=text, headers={"Content-Type": "application/yaml"})
    assert status == 201, body
    assert body["data"] == {"a": "b"}


async def test_yaml_response_when_asked(api):
    await api.post(CMS, json=configmap("y1", {"k": "v"}))
    status, text = await api.get(f"{CMS}/y1", headers={"Accept": "application/yaml"})
    assert status == 200
    assert "name: y1" in text and "k: v" in text


async def test_update_with_resource_version_and_conflict(api):
    _, created = await api.post(CMS, json=configmap("u1", {"a": "1"}))
    stale = dict(created)
    created["data"] = {"a": "2"}
    status, updated = await api.put(f"{CMS}/u1", json=created)
    assert status == 200, updated
    assert updated["data"] == {"a": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(stale["metadata"]["resourceVersion"])
    assert updated["metadata"]["uid"] == stale["metadata"]["uid"]

    stale = {**stale, "data": {"a": "3"}}
    status, body = await api.put(f"{CMS}/u1", json=stale)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on configmaps "u1": the object has been '
                               "modified; please apply your changes to the latest version and try again")
    _, now = await api.get(f"{CMS}/u1")
    assert now["data"] == {"a": "2"}


async def test_update_without_resource_version_is_unconditional(api):
    await api.post(CMS, json=configmap("u2", {"a": "1"}))
    status, body = await api.put(f"{CMS}/u2", json=configmap("u2", {"a": "9"}))
    assert status == 200, body
    assert body["data"] == {"a": "9"}


async def test_update_keeps_server_owned_metadata(api):
    _, created = await api.post(CMS, json=configmap("u3"))
    body = configmap("u3", {"x": "y"})
    body["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z"
    status, updated = await api.put(f"{CMS}/u3", json=body)
    assert status == 200
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


async def test_update_with_another_uid_is_a_precondition_conflict(api):
    # The uid in the body is a precondition (defaultUpdatedObjectInfo.Preconditions upstream).
    _, created = await api.post(CMS, json=configmap("u4"))
    body = configmap("u4", {"x": "y"})
    body["metadata"]["uid"] = "forged"
    status, out = await api.put(f"{CMS}/u4", json=body)
    assert status == 409 and out["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: forged" in out["message"]


async def test_noop_update_keeps_resource_version(api):
    _, created = await api.post(CMS, json=configmap("same", {"a": "1"}))
    status, updated = await api.put(f"{CMS}/same", json=created)
    assert status == 200
    assert updated["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_update_missing_is_404(api):
    status, body = await api.put(f"{CMS}/ghost", json=configmap("ghost"))
    assert status == 404 and body["reason"] == "NotFound"


async def test_generation_bumps_only_on_spec_change(api):
    status, created = await api.post(DEPLOYS, json=deployment("web"))
    assert status == 201, created
    assert created["metadata"]["generation"] == 1
    created["metadata"]["labels"] = {"team": "a"}
    _, relabelled = await api.put(f"{DEPLOYS}/web", json=created)
    assert relabelled["metadata"]["generation"] == 1
    relabelled["spec"]["replicas"] = 3
    _, scaled = await api.put(f"{DEPLOYS}/web", json=relabelled)
    assert scaled["metadata"]["generation"] == 2


async def test_merge_patch(api):
    await api.post(CMS, json=configmap("m1", {"a": "1", "b": "2"}))
    status, body = await api.patch(f"{CMS}/m1", json={"data": {"a": None, "c": "3"},
                                                      "metadata": {"labels": {"x": "y"}}})
    assert status == 200, body
    assert body["data"] == {"b": "2", "c": "3"}
    assert body["metadata"]["labels"] == {"x": "y"}


async def test_json_patch(api):
    await api.post(CMS, json=configmap("j1", {"a": "1"}))
    ops = [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}]
    status, body = await api.patch(f"{CMS}/j1", json=ops, content_type="application/json-patch+json")
    assert status == 200, body
    assert body["data"] == {"b": "2"}


async def test_patch_with_stale_resource_version_conflicts(api):
    _, created = await api.post(CMS, json=configmap("m2"))
    await api.patch(f"{CMS}/m2", json={"data": {"a": "1"}})
    status, body = await api.patch(f"{CMS}/m2", json={"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
                                                      "data": {"a": "2"}})
    assert status == 409 and body["reason"] == "Conflict"


async def test_patch_unsupported_type_is_415(api):
    await api.post(CMS, json=configmap("m3"))
    status, body = await api.patch(f"{CMS}/m3", json={"data": {}}, content_type="text/plain")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


async def test_cluster_scoped_create_and_namespace_in_body_ignored(api):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    status, body = await api.post("/api/v1/namespaces", json=ns)
    assert status == 201, body
    assert "namespace" not in body["metadata"]
    assert body["status"]["phase"] == "Active"
    status, body = await api.get("/api/v1/namespaces/team-a")
    assert status == 200 and body["metadata"]["name"] == "team-a"


async def test_create_in_missing_namespace_is_404(api):
    status, body = await api.post("/api/v1/namespaces/nowhere/configmaps", json=configmap("x"))
    assert status == 404
    assert body["message"] == 'namespaces "nowhere" not found'


async def test_list_all_namespaces_and_kind_on_items(api):
    await api.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
    await api.post(CMS, json=configmap("a"))
    await api.post("/api/v1/namespaces/other/configmaps", json=configmap("b"))
    status, body = await api.get("/api/v1/configmaps")
    assert status == 200
    assert body["kind"] == "ConfigMapList"
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]} == {
        ("default", "a"), ("other", "b")}
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in body["items"])
    status, body = await api.get(CMS)
    assert [i["metadata"]["name"] for i in body["items"]] == ["a"]


async def test_dry_run_create_does_not_store(api):
    status, body = await api.post(CMS + "?dryRun=All", json=configmap("dry"))
    assert status == 201
    assert body["metadata"]["name"] == "dry"
    assert (await api.get(f"{CMS}/dry"))[0] == 404
