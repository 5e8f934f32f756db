"""Server-side apply over HTTP, and managedFields kept on every write.

Expected statuses and messages as kube-apiserver gives them (PatchOptions validation in
apimachinery pkg/apis/meta/v1/validation; conflicts in pkg/util/managedfields/internal/conflict.go).
"""

from __future__ import annotations

import orjson
import yaml

APPLY = "application/apply-patch+yaml"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
CMS = "/api/v1/namespaces/default/configmaps"


def deployment(replicas: int = 2, image: str = "nginx:1.25", **labels: str) -> dict:
    labels = labels or {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": image}]}}}}


async def apply(api, body, manager: str | None = "kubectl", force: bool | None = None, path: str = f"{DEPLOYS}/web",
                as_yaml: bool = False, **params):
    query = dict(params)
    if manager is not None:
        query["fieldManager"] = manager
    if force is not None:
        query["force"] = "true" if force else "false"
    data = yaml.safe_dump(body) if as_yaml else orjson.dumps(body)
    return await api.request("PATCH", path, data=data, headers={"Content-Type": APPLY}, params=query)


def managers(obj: dict) -> list[tuple[str, str, str]]:
    return [(e["manager"], e["operation"], e.get("subresource", "")) for e in obj["metadata"]["managedFields"]]


async def test_apply_creates_then_updates(api):
    status, created = await apply(api, deployment(), as_yaml=True)
    assert status == 201, created
    assert created["spec"]["replicas"] == 2
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"       # defaulted after the merge
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("kubectl", "Apply", "apps/v1")
    spec = entry["fieldsV1"]["f:spec"]
    assert "f:replicas" in spec and "f:strategy" not in spec             # defaults belong to nobody
    status, updated = await apply(api, deployment(replicas=3))
    assert status == 200, updated
    assert updated["spec"]["replicas"] == 3
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_apply_options_are_validated(api):
    status, body = await apply(api, deployment(), manager=None)
    assert status == 422 and body["reason"] == "Invalid", body
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                               "is required for apply patch")
    status, body = await api.patch(f"{DEPLOYS}/web", json={"metadata": {}}, params={"force": "true"})
    assert status == 422 and "force: Forbidden: may not be specified for non-apply patch" in body["message"]
    wrong = deployment()
    wrong["apiVersion"] = "apps/v1beta1"
    status, body = await apply(api, wrong)
    assert status == 400 and "Incorrect version specified in apply patch" in body["message"], body
    with_managed = deployment()
    with_managed["metadata"]["managedFields"] = [{"manager": "x"}]
    status, body = await apply(api, with_managed)
    assert status == 400 and body["message"] == "metadata.managedFields must be nil"
    other_name = deployment()
    other_name["metadata"]["name"] = "other"
    status, body = await apply(api, other_name)
    assert status == 400 and "does not match the name on the URL" in body["message"]
    status, body = await api.request("PATCH", f"{DEPLOYS}/web", data=b"{not yaml: [",
                                     headers={"Content-Type": APPLY}, params={"fieldManager": "x"})
    assert status == 400 and body["reason"] == "BadRequest"


async def test_conflict_with_an_updater_then_force(api):
    status, _ = await api.post(DEPLOYS, json=deployment(), params={"fieldManager": "kubectl-client-side-apply"})
    assert status == 201
    status, body = await apply(api, deployment(replicas=5), force=False)
    assert status == 409, body
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                               "using apps/v1: .spec.replicas")
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                          "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    status, body = await apply(api, deployment(replicas=5), force=True)
    assert status == 200 and body["spec"]["replicas"] == 5
    owned = {e["manager"]: e["fieldsV1"] for e in body["metadata"]["managedFields"]}
    assert "f:replicas" in owned["kubectl"]["f:spec"]
    assert "f:replicas" not in owned["kubectl-client-side-apply"]["f:spec"]


async def test_scale_is_tracked_on_the_scale_subresource_and_conflicts(api):
    await apply(api, deployment())
    status, _ = await api.patch(f"{DEPLOYS}/web/scale", json={"spec": {"replicas": 4}},
                                headers={"User-Agent": "kubectl/v1.32.0 (linux/amd64) kubernetes/x"})
    assert status == 200
    _, live = await api.get(f"{DEPLOYS}/web")
    assert ("kubectl", "Update", "scale") in managers(live)
    status, body = await apply(api, deployment(replicas=2), manager="ci")
    assert status == 409
    assert body["details"]["causes"][0]["message"] == ('conflict with "kubectl" with subresource "scale" '
                                                       "using apps/v1")


async def test_same_value_is_shared_and_dropped_fields_are_removed(api):
    await apply(api, deployment(app="web", tier="front"), manager="a")
    status, body = await apply(api, deployment(app="web"), manager="b")
    assert status == 200
    status, body = await apply(api, deployment(app="web"), manager="a")  # a stops applying tier
    assert status == 200, body
    assert body["metadata"]["labels"] == {"app": "web"}


async def test_writes_record_update_managers_from_the_user_agent(api):
    cm = {"metadata": {"name": "c1"}, "data": {"a": "1"}}
    status, created = await api.post(CMS, json=cm, headers={"User-Agent": "kubectl/v1.32.0 (linux/amd64)"})
    assert status == 201
    assert managers(created) == [("kubectl", "Update", "")]
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    status, patched = await api.patch(f"{CMS}/c1", json={"data": {"b": "2"}},
                                      params={"fieldManager": "kubectl-edit"})
    assert status == 200
    owned = {e["manager"]: e["fieldsV1"] for e in patched["metadata"]["managedFields"]}
    assert owned["kubectl-edit"] == {"f:data": {"f:b": {}}}
    # "managedFields": [] in a write resets them: the object is no longer tracked.
    status, reset = await api.patch(f"{CMS}/c1", json={"metadata": {"managedFields": []}})
    assert status == 200 and "managedFields" not in reset["metadata"]
    status, body = await api.post(CMS, json={"metadata": {"name": "c2"}}, params={"fieldManager": "x" * 129})
    assert status == 422 and "fieldManager" in body["message"]


async def test_dry_run_apply_changes_nothing(api):
    await apply(api, deployment())
    status, body = await apply(api, deployment(replicas=7), dryRun="All")
    assert status == 200 and body["spec"]["replicas"] == 7
    _, live = await api.get(f"{DEPLOYS}/web")
    assert live["spec"]["replicas"] == 2


async def test_apply_to_a_custom_resource_like_object_without_schema_still_works(api):
    # ConfigMaps: data is a map, each key owned on its own.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c3"}, "data": {"a": "1", "b": "2"}}
    status, _ = await apply(api, cm, path=f"{CMS}/c3", manager="one")
    assert status == 201
    status, body = await apply(api, {**cm, "data": {"a": "1"}}, path=f"{CMS}/c3", manager="one")
    assert status == 200 and body["data"] == {"a": "1"}


async def test_apply_to_a_custom_resource(api):
    from tests.apiserver.test_crd_helpers import GROUP, create_crd, widget_crd

    await create_crd(api, widget_crd())
    path = f"/apis/{GROUP}/v1/namespaces/default/widgets/w1"
    widget = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1", "labels": {"a": "1"}},
              "spec": {"image": "x", "tags": ["red"], "extra": {"deep": {"k": "v"}}}}
    status, created = await apply(api, widget, path=path, manager="one")
    assert status == 201, created
    assert created["spec"]["replicas"] == 1                      # schema default, owned by nobody
    fields = created["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields["f:spec"]["f:tags"] == {'v:"red"': {}}           # list-type set: per value
    assert "f:replicas" not in fields["f:spec"]
    status, body = await apply(api, {**widget, "spec": {"image": "y", "tags": ["blue"]}}, path=path, manager="two")
    assert status == 409, body
    assert {c["field"] for c in body["details"]["causes"]} == {".spec.image"}
    status, body = await apply(api, {**widget, "spec": {"image": "x", "tags": ["blue"]}}, path=path, manager="two")
    assert status == 200, body
    assert body["spec"]["tags"] == ["red", "blue"]
