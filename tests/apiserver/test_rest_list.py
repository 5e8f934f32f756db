"""Lists: selectors, pagination as one snapshot, resourceVersion semantics, Tables."""

from __future__ import annotations

import asyncio
import base64

import orjson
import pytest

from kybernetes.apiserver.watch_cache import WATCH_CACHE_KEY

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


@pytest.fixture(params=["store", "cache"])
async def api(request, api):
    """Every list test runs twice: lists read from the store, and lists answered by the watch
    cache (which must then never have fallen back to the store for a consistent read)."""
    cache = api.app[WATCH_CACHE_KEY]
    cache.enabled = request.param == "cache"
    yield api
    if request.param == "cache":
        assert cache.stats.fallbacks == 0
    else:
        assert cache.stats.from_cache == 0


def cm(name: str, labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"n": name}}


async def _seed(api, count: int, labels=lambda i: {}) -> None:
    for i in range(count):
        status, body = await api.post(CMS, json=cm(f"cm-{i:03d}", labels(i)))
        assert status == 201, body


def names(body) -> list[str]:
    return [i["metadata"]["name"] for i in body["items"]]


async def test_label_and_field_selectors(api):
    await _seed(api, 6, lambda i: {"parity": "even" if i % 2 == 0 else "odd", "i": str(i)})
    _, body = await api.get(CMS + "?labelSelector=parity%3Deven")
    assert names(body) == ["cm-000", "cm-002", "cm-004"]
    _, body = await api.get(CMS + "?labelSelector=parity%3Dodd,i%20notin%20(1)")
    assert names(body) == ["cm-003", "cm-005"]
    _, body = await api.get(CMS + "?fieldSelector=metadata.name%3Dcm-004")
    assert names(body) == ["cm-004"]
    _, body = await api.get("/api/v1/configmaps?fieldSelector=metadata.namespace!%3Ddefault")
    assert "cm-000" not in names(body)


async def test_pod_field_selectors(api):
    for name, node in (("a", "n1"), ("b", "n2"), ("c", "")):
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        if node:
            spec["nodeName"] = node
        await api.post(PODS, json={"metadata": {"name": name}, "spec": spec})
    _, body = await api.get(PODS + "?fieldSelector=spec.nodeName%3Dn1")
    assert names(body) == ["a"]
    _, body = await api.get(PODS + "?fieldSelector=spec.nodeName%3D")
    assert names(body) == ["c"]
    _, body = await api.get(PODS + "?fieldSelector=status.phase%3DPending,spec.nodeName!%3Dn1")
    assert names(body) == ["b", "c"]


async def test_pagination_is_one_snapshot(api):
    await _seed(api, 10)
    status, page1 = await api.get(CMS + "?limit=4")
    assert status == 200
    assert names(page1) == [f"cm-{i:03d}" for i in range(4)]
    token = page1["metadata"]["continue"]
    rv = page1["metadata"]["resourceVersion"]
    decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded["rv"] == int(rv) and decoded["v"] == "meta.k8s.io/v1"

    # Writes between pages are not seen by the rest of the list.
    await api.delete(f"{CMS}/cm-005")
    await api.post(CMS, json=cm("cm-004a"))
    await api.patch(f"{CMS}/cm-006", json={"data": {"n": "changed"}})

    seen = names(page1)
    while token:
        status, page = await api.get(CMS + f"?limit=4&continue={token}")
        assert status == 200, page
        assert page["metadata"]["resourceVersion"] == rv
        seen += names(page)
        for item in page["items"]:
            if item["metadata"]["name"] == "cm-006":
                assert item["data"]["n"] == "cm-006"
        token = page["metadata"].get("continue", "")
    assert seen == [f"cm-{i:03d}" for i in range(10)]


async def test_pagination_with_selector_fills_pages(api):
    await _seed(api, 12, lambda i: {"keep": "yes" if i % 3 == 0 else "no"})
    _, page = await api.get(CMS + "?limit=2&labelSelector=keep%3Dyes")
    assert names(page) == ["cm-000", "cm-003"]
    _, page = await api.get(CMS + f"?limit=2&labelSelector=keep%3Dyes&continue={page['metadata']['continue']}")
    assert names(page) == ["cm-006", "cm-009"]
    # Unmatched keys remain after cm-009, so (like the real server) there is one more, empty page.
    _, page = await api.get(CMS + f"?limit=2&labelSelector=keep%3Dyes&continue={page['metadata']['continue']}")
    assert names(page) == []
    assert not page["metadata"].get("continue")


async def test_last_page_has_no_continue(api):
    await _seed(api, 3)
    _, page = await api.get(CMS + "?limit=3")
    assert "continue" not in page["metadata"]


async def test_continue_with_resource_version_is_refused(api):
    await _seed(api, 3)
    _, page = await api.get(CMS + "?limit=1")
    status, body = await api.get(CMS + f"?limit=1&continue={page['metadata']['continue']}&resourceVersion=5")
    assert status == 400


async def test_exact_resource_version_reads_the_past(api):
    await _seed(api, 2)
    _, before = await api.get(CMS)
    rv = before["metadata"]["resourceVersion"]
    await api.post(CMS, json=cm("later"))
    _, exact = await api.get(CMS + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert names(exact) == ["cm-000", "cm-001"]
    assert exact["metadata"]["resourceVersion"] == rv
    _, latest = await api.get(CMS + f"?resourceVersion={rv}&resourceVersionMatch=NotOlderThan")
    assert "later" in names(latest)
    _, any_rv = await api.get(CMS + "?resourceVersion=0&limit=1")
    assert len(any_rv["items"]) == 3  # rv=0 is served whole, as the watch cache does


async def test_compacted_resource_version_is_410(api):
    await _seed(api, 2)
    _, before = await api.get(CMS)
    old_rv = int(before["metadata"]["resourceVersion"])
    for i in range(3):
        await api.patch(f"{CMS}/cm-000", json={"data": {"n": str(i)}})
    await api.store.compact(await api.store.current_revision())
    status, body = await api.get(CMS + f"?resourceVersion={old_rv}&resourceVersionMatch=Exact")
    assert status == 410
    assert body["reason"] == "Expired"


async def test_table_list_and_get(api):
    await _seed(api, 2)
    status, table = await api.get(CMS, headers={"Accept": TABLE})
    assert status == 200
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    cols = [c["name"] for c in table["columnDefinitions"]]
    assert cols[0] == "Name" and "Data" in cols and cols[-1] == "Age"
    assert [r["cells"][0] for r in table["rows"]] == ["cm-000", "cm-001"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["rows"][0]["object"]["metadata"]["namespace"] == "default"
    assert table["metadata"]["resourceVersion"]

    status, table = await api.get(f"{CMS}/cm-001?includeObject=Object", headers={"Accept": TABLE})
    assert len(table["rows"]) == 1
    assert table["rows"][0]["object"]["kind"] == "ConfigMap"
    assert table["rows"][0]["object"]["data"] == {"n": "cm-001"}

    _, table = await api.get(CMS + "?includeObject=None", headers={"Accept": TABLE})
    assert table["rows"][0]["object"] is None


async def test_pod_table_columns(api):
    await api.post(PODS, json={"metadata": {"name": "web"},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    _, table = await api.get(PODS, headers={"Accept": TABLE})
    cols = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert cols == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:3] == ["web", "0/1", "Pending"]


async def test_partial_object_metadata_list(api):
    await _seed(api, 2)
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    _, body = await api.get(CMS, headers={"Accept": accept})
    assert body["kind"] == "PartialObjectMetadataList"
    assert [i["kind"] for i in body["items"]] == ["PartialObjectMetadata"] * 2
    assert "data" not in body["items"][0]


async def test_watch_is_routed_to_the_hub(api):
    await _seed(api, 1)
    async with api.session.get(api.url + CMS + "?watch=true&timeoutSeconds=1") as resp:
        assert resp.status == 200
        line = await asyncio.wait_for(resp.content.readline(), 5)
        event = orjson.loads(line)
        assert event["type"] == "ADDED"
        assert event["object"]["metadata"]["name"] == "cm-000"
    async with api.session.get(api.url + "/api/v1/watch/namespaces/default/configmaps/cm-000?timeoutSeconds=1") as resp:
        assert resp.status == 200
        line = await asyncio.wait_for(resp.content.readline(), 5)
        assert orjson.loads(line)["object"]["metadata"]["name"] == "cm-000"


async def test_list_of_values_in_other_shapes(api):
    """Values not written by this server's create (other key order, no metadata) list correctly."""
    from kybernetes.apiserver import keys

    info = api.objects.registry.get("", "v1", "configmaps")
    await api.store.create(keys.object_key(info, "default", "odd-1"),
                           orjson.dumps({"data": {"a": "1"}, "metadata": {"name": "odd-1", "namespace": "default"}}))
    await api.store.create(keys.object_key(info, "default", "odd-2"),
                           orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}}))
    await _seed(api, 1)
    status, body = await api.get(CMS)
    assert status == 200
    by_key = {i["metadata"].get("name", "?"): i for i in body["items"]}
    assert by_key["odd-1"]["data"] == {"a": "1"} and by_key["odd-1"]["kind"] == "ConfigMap"
    assert all(int(i["metadata"]["resourceVersion"]) > 0 for i in body["items"])
    assert all(i["apiVersion"] == "v1" for i in body["items"])
    assert by_key["cm-000"]["data"] == {"n": "cm-000"}
