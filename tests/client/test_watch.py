"""Watch streams: real events from the apiserver, ERROR events, lines split across chunks."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.api.errors import ApiError
from kybernetes.client.errors import ApiConnectionError, ExpiredError
from kybernetes.client.resource import CONFIGMAPS
from kybernetes.client.rest import ApiClient
from kybernetes.client.watch import WatchEvent


async def test_watch_sees_added_modified_deleted(client: ApiClient):
    listed = await client.list(CONFIGMAPS, "default")
    async with client.watch(CONFIGMAPS, "default", resource_version=listed["metadata"]["resourceVersion"],
                            timeout_seconds=5) as events:
        await client.create(CONFIGMAPS, {"metadata": {"name": "a"}, "data": {"k": "1"}})
        await client.patch(CONFIGMAPS, "a", {"data": {"k": "2"}})
        await client.delete(CONFIGMAPS, "a")
        seen = []
        async for event in events:
            assert isinstance(event, WatchEvent)
            seen.append((event.type, event.object["metadata"]["name"], (event.object.get("data") or {}).get("k")))
            if len(seen) == 3:
                break
    assert seen == [("ADDED", "a", "1"), ("MODIFIED", "a", "2"), ("DELETED", "a", "2")]
    assert events.closed


async def test_watch_ends_when_server_times_out(client: ApiClient):
    stream = client.watch(CONFIGMAPS, "default", timeout_seconds=1)
    events = [e async for e in stream]
    assert [e.type for e in events if e.type != "BOOKMARK"] == []
    assert stream.closed


async def test_watch_from_compacted_revision_raises_expired():
    from kybernetes.apiserver.watch import WATCH_HUB_KEY
    from kybernetes.store import open_store
    from kybernetes.testing.apiserver import TestApiServer

    store = await open_store("sqlite://:memory:")
    try:
        async with TestApiServer(store=store) as server, server.client() as client:
            server.app[WATCH_HUB_KEY].history_size = 1  # nothing served from the watch cache
            first = await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
            for i in range(3):
                await client.patch(CONFIGMAPS, "a", {"data": {"i": str(i)}})
            await store.compact(await store.current_revision())
            with pytest.raises(ExpiredError) as e:
                async with client.watch(CONFIGMAPS, resource_version=first["metadata"]["resourceVersion"]) as w:
                    async for _ in w:
                        pass
            assert e.value.code == 410
    finally:
        await store.close()


@pytest.fixture
async def chunked_server():
    """A server that writes whatever byte chunks the test gives it, then ends (or aborts)."""
    plan: dict = {"chunks": [], "abort": False}

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in plan["chunks"]:
            await response.write(piece)
            await asyncio.sleep(0.005)
        if plan["abort"]:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server, plan
    finally:
        await server.close()


def line(event_type: str, obj: dict) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


async def test_events_split_and_joined_across_chunks(chunked_server):
    server, plan = chunked_server
    big = {"metadata": {"name": "big", "resourceVersion": "7"}, "data": {"k": "x" * 300_000}}
    payload = line("ADDED", {"metadata": {"name": "a"}}) + line("MODIFIED", big) + line(
        "BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    plan["chunks"] = [payload[:10], payload[10:150_000], payload[150_000:]]
    async with ApiClient(str(server.make_url("")).rstrip("/"), qps=0) as client:
        events = [e async for e in client.watch(CONFIGMAPS)]
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "BOOKMARK"]
    assert events[1].object["data"]["k"] == "x" * 300_000


async def test_error_events_raise_typed_errors(chunked_server):
    server, plan = chunked_server
    gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired",
            "message": "too old resource version: 1 (5)"}
    plan["chunks"] = [line("ADDED", {"metadata": {"name": "a"}}), line("ERROR", gone)]
    async with ApiClient(str(server.make_url("")).rstrip("/"), qps=0) as client:
        stream = client.watch(CONFIGMAPS)
        assert (await stream.__anext__()).type == "ADDED"
        with pytest.raises(ExpiredError):
            await stream.__anext__()
        other = dict(gone, code=500, reason="InternalError", message="boom")
        plan["chunks"] = [line("ERROR", other)]
        with pytest.raises(ApiError) as e:
            async for _ in client.watch(CONFIGMAPS):
                pass
        assert e.value.code == 500 and not isinstance(e.value, ExpiredError)


async def test_garbage_and_broken_streams(chunked_server):
    server, plan = chunked_server
    async with ApiClient(str(server.make_url("")).rstrip("/"), qps=0) as client:
        plan["chunks"] = [b"{not json}\n"]
        with pytest.raises(ApiConnectionError):
            async for _ in client.watch(CONFIGMAPS):
                pass
        plan["chunks"] = [b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD']
        plan["abort"] = True
        stream = client.watch(CONFIGMAPS)
        assert (await stream.__anext__()).object["metadata"]["name"] == "a"
        with pytest.raises(ApiConnectionError):
            await stream.__anext__()
