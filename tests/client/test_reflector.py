"""The reflector against a scripted apiserver: re-watch from the last resourceVersion after a
broken stream, bookmarks move that version, 410 makes it list again."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.client.informer import Informer
from kybernetes.client.resource import CONFIGMAPS
from kybernetes.client.rest import ApiClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.backoff import Backoff


def cm(name: str, rv: str) -> dict:
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default",
                                                                  "resourceVersion": rv}}


def line(event_type: str, obj: dict) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


GONE = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired",
        "message": "too old resource version"}


@pytest.fixture
async def fake_apiserver():
    """Lists answer from ``lists``; each watch plays the next entry of ``watches``:
    (lines, how it ends: "abort" | "end" | "hang")."""
    plan: dict = {"lists": [], "watches": [], "requests": []}

    async def handle(request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        plan["requests"].append(query)
        if query.get("watch") != "true":
            items, rv = plan["lists"].pop(0)
            return web.json_response({"kind": "ConfigMapList", "apiVersion": "v1",
                                      "metadata": {"resourceVersion": rv}, "items": items})
        lines, ending = plan["watches"].pop(0) if plan["watches"] else ([], "hang")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in lines:
            await response.write(chunk)
        if ending == "abort":
            assert request.transport is not None
            request.transport.close()
        elif ending == "hang":
            await asyncio.sleep(3600)
        else:
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), plan
    finally:
        await server.close()


async def test_rewatch_from_last_seen_version_then_relist_on_410(fake_apiserver):
    url, plan = fake_apiserver
    plan["lists"] = [([cm("a", "10")], "10"), ([cm("b", "30")], "30")]
    plan["watches"] = [
        ([line("ADDED", cm("b", "11")), b'{"type":"MODIF'], "abort"),  # broken mid-event
        ([line("BOOKMARK", {"kind": "ConfigMap", "metadata": {"resourceVersion": "15"}})], "end"),
        ([line("ERROR", GONE)], "end"),
    ]
    async with ApiClient(url, qps=0) as client:
        informer = Informer(client, CONFIGMAPS, "default")
        informer.reflector.backoff = Backoff(initial=0.01, maximum=0.05)
        deleted: list[str] = []
        informer.add_event_handler(on_delete=lambda o: deleted.append(o["metadata"]["name"]))
        informer.start()
        try:
            await eventually(lambda: informer.reflector.lists == 2, what="the re-list")
            await eventually(lambda: len(plan["requests"]) >= 6, what="the watch after the re-list")
        finally:
            await informer.stop()
    watches = [r for r in plan["requests"] if r.get("watch") == "true"]
    assert [w["resourceVersion"] for w in watches[:4]] == ["10", "11", "15", "30"]
    assert all(w["allowWatchBookmarks"] == "true" and int(w["timeoutSeconds"]) >= 300 for w in watches)
    lists = [r for r in plan["requests"] if r.get("watch") != "true"]
    assert all("resourceVersion" not in r and r["limit"] == "500" for r in lists)  # consistent lists
    assert informer.indexer.keys() == ["default/b"] and deleted == ["a"]
    assert informer.reflector.last_resource_version == "30"
