"""Watch through the real REST routes, as kubectl and client-go issue it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

pytestmark = pytest.mark.timeout(30)

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


async def next_event(resp, timeout: float = 3.0) -> dict:
    line = await asyncio.wait_for(resp.content.readline(), timeout)
    assert line, "watch stream ended"
    return orjson.loads(line)


async def test_list_then_watch_like_kubectl_get_w(api):
    status, _ = await api.post("/api/v1/namespaces/default/configmaps", json=configmap("a"))
    assert status == 201
    status, listing = await api.get("/api/v1/namespaces/default/configmaps")
    rv = listing["metadata"]["resourceVersion"]
    async with api.session.get(f"{api.url}/api/v1/namespaces/default/configmaps",
                               params={"watch": "true", "resourceVersion": rv}) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        await api.post("/api/v1/namespaces/default/configmaps", json=configmap("b"))
        event = await next_event(resp)
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "b"
        status, _ = await api.delete("/api/v1/namespaces/default/configmaps/b")
        assert (await next_event(resp))["type"] == "DELETED"


async def test_single_object_watch_with_table_accept(api):
    await api.post("/api/v1/namespaces/default/configmaps", json=configmap("x"))
    await api.post("/api/v1/namespaces/default/configmaps", json=configmap("y"))
    async with api.session.get(f"{api.url}/api/v1/namespaces/default/configmaps",
                               params={"fieldSelector": "metadata.name=x", "resourceVersion": "0",
                                       "watch": "true"},
                               headers={"Accept": TABLE_ACCEPT}) as resp:
        event = await next_event(resp)
        assert event["type"] == "ADDED"
        table = event["object"]
        assert table["kind"] == "Table" and [r["cells"][0] for r in table["rows"]] == ["x"]
        assert table["columnDefinitions"]


async def test_legacy_watch_prefix(api):
    await api.post("/api/v1/namespaces/default/configmaps", json=configmap("old"))
    async with api.session.get(f"{api.url}/api/v1/watch/namespaces/default/configmaps",
                               params={"timeoutSeconds": "1"}) as resp:
        assert resp.status == 200
        event = await next_event(resp)
        assert event["type"] == "ADDED" and event["object"]["kind"] == "ConfigMap"
