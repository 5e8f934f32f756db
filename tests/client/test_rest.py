"""ApiClient against the real apiserver: verbs, patch types, paging, errors as ApiError."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS
from kybernetes.client.rest import ApiClient

POD = {"metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


async def test_create_get_update_delete(client: ApiClient):
    created = await client.create(PODS, POD)
    assert created["metadata"]["namespace"] == "default" and created["metadata"]["uid"]
    got = await client.get(PODS, "web")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    got["metadata"]["labels"]["tier"] = "front"
    updated = await client.update(PODS, got)
    assert updated["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    await client.delete(PODS, "web", grace_period_seconds=0)
    assert await client.get_or_none(PODS, "web") is None


async def test_errors_are_api_errors_from_the_status(client: ApiClient):
    with pytest.raises(ApiError) as e:
        await client.get(PODS, "nope", "default")
    assert (e.value.code, e.value.reason, e.value.name, e.value.kind) == (404, "NotFound", "nope", "pods")
    await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
    with pytest.raises(ApiError) as e:
        await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
    assert (e.value.code, e.value.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as e:
        await client.create(PODS, {"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c"}]}})
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert any(c.field == "spec.containers[0].image" for c in e.value.causes)


async def test_stale_update_is_a_conflict(client: ApiClient):
    cm = await client.create(CONFIGMAPS, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    await client.patch(CONFIGMAPS, "a", {"data": {"k": "2"}})
    cm["data"]["k"] = "3"
    with pytest.raises(ApiError) as e:
        await client.update(CONFIGMAPS, cm)
    assert (e.value.code, e.value.reason) == (409, "Conflict")


async def test_patch_types(client: ApiClient):
    await client.create(DEPLOYMENTS, {
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}})
    merged = await client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 3}})
    assert merged["spec"]["replicas"] == 3
    jsoned = await client.patch(DEPLOYMENTS, "d", [{"op": "replace", "path": "/spec/replicas", "value": 2}],
                                patch_type="json")
    assert jsoned["spec"]["replicas"] == 2
    scale = await client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 5}}, subresource="scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5
    with pytest.raises(ValueError):
        await client.patch(DEPLOYMENTS, "d", {}, patch_type="yaml")


async def test_cluster_scoped_and_namespaces(client: ApiClient):
    await client.create(NAMESPACES, {"metadata": {"name": "team-a"}})
    await client.create(CONFIGMAPS, {"metadata": {"name": "x", "namespace": "team-a"}})
    await client.create(CONFIGMAPS, {"metadata": {"name": "y"}}, "team-a")
    await client.create(CONFIGMAPS, {"metadata": {"name": "z"}})
    in_team = await client.list(CONFIGMAPS, "team-a")
    assert sorted(i["metadata"]["name"] for i in in_team["items"]) == ["x", "y"]
    everywhere = await client.list(CONFIGMAPS)
    assert {"x", "y", "z"} <= {i["metadata"]["name"] for i in everywhere["items"]}
    ns = await client.get(NAMESPACES, "team-a")
    assert ns["metadata"]["name"] == "team-a"


async def test_list_all_follows_continue_tokens(client: ApiClient):
    for i in range(7):
        await client.create(CONFIGMAPS, {"metadata": {"name": f"cm-{i}", "labels": {"n": str(i % 2)}}})
    page = await client.list(CONFIGMAPS, "default", limit=3)
    assert len(page["items"]) == 3 and page["metadata"]["continue"]
    everything = await client.list_all(CONFIGMAPS, "default", page_size=3)
    assert [i["metadata"]["name"] for i in everything["items"]] == [f"cm-{i}" for i in range(7)]
    assert "continue" not in everything["metadata"] and everything["metadata"]["resourceVersion"]
    odd = await client.list_all(CONFIGMAPS, "default", page_size=2, label_selector="n=1")
    assert [i["metadata"]["name"] for i in odd["items"]] == ["cm-1", "cm-3", "cm-5"]


async def test_subresource_create_binding(client: ApiClient):
    await client.create(PODS, POD)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    await client.create(PODS, binding, "default", name="web", subresource="binding")
    assert (await client.get(PODS, "web"))["spec"]["nodeName"] == "node-1"


async def test_status_update(client: ApiClient):
    pod = await client.create(PODS, POD)
    pod["status"] = {"phase": "Running"}
    updated = await client.update_status(PODS, pod)
    assert updated["status"]["phase"] == "Running"


async def test_delete_with_preconditions(client: ApiClient):
    cm = await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
    with pytest.raises(ApiError) as e:
        await client.delete(CONFIGMAPS, "a", preconditions={"uid": "not-the-uid"})
    assert e.value.code == 409
    status = await client.delete(CONFIGMAPS, "a", preconditions={"uid": cm["metadata"]["uid"]})
    assert status.get("status") == "Success" or status.get("metadata", {}).get("name") == "a"


async def test_bad_input_is_a_typed_error(client: ApiClient):
    with pytest.raises(ValueError):
        await client.update(CONFIGMAPS, {"metadata": {}})
    with pytest.raises(TypeError):
        await client.create(CONFIGMAPS, "not an object")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ApiClient("ftp://example")
