"""Watch semantics of the hub, over real HTTP on loopback against the real SQLite store.

The hub is served by a tiny app of its own (the route builds a WatchRequest from the query) so
these tests pin the hub's behaviour; the REST layer's own tests cover its routing to the hub.
Objects are written straight to the store, as the REST layer would.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.field_selectors import parse_field_selector
from kybernetes.api.selectors import parse_label_selector
from kybernetes.apiserver import codec
from kybernetes.apiserver.keys import object_key
from kybernetes.apiserver.request_info import WatchRequest
from kybernetes.apiserver.watch import WatchHub
from kybernetes.store import open_store

pytestmark = pytest.mark.timeout(30)


class Stream:
    """One open watch: read its events one by one."""

    def __init__(self, resp: aiohttp.ClientResponse):
        self.resp = resp

    async def next(self, timeout: float = 3.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.resp.content.readline(), timeout)
        if not line:
            raise EOFError("watch stream ended")
        return orjson.loads(line)

    async def take(self, n: int, timeout: float = 3.0) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(n)]

    async def silent(self, seconds: float = 0.3) -> bool:
        """True when nothing arrives for a while."""
        try:
            await self.next(seconds)
        except TimeoutError:
            return True
        return False

    async def ended(self, timeout: float = 3.0) -> bool:
        line = await asyncio.wait_for(self.resp.content.readline(), timeout)
        return line == b""


@dataclass
class Harness:
    store: Any
    hub: WatchHub
    url: str
    session: aiohttp.ClientSession
    registry: Any
    streams: list[aiohttp.ClientResponse] = field(default_factory=list)

    def info(self, group: str = "", version: str = "v1", resource: str = "pods"):
        return self.registry.get(group, version, resource)

    async def put(self, name: str, ns: str = "default", labels: dict | None = None,
                  annotations: dict | None = None) -> int:
        """Create or update a pod; returns the revision of the write."""
        info = self.info()
        key = object_key(info, ns, name)
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels or {},
                            "annotations": annotations or {}},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        current = await self.store.get(key)
        if current is None:
            return await self.store.create(key, codec.encode(obj))
        return await self.store.update(key, codec.encode(obj), current.mod_revision)

    async def delete(self, name: str, ns: str = "default") -> int:
        revision, _ = await self.store.delete(object_key(self.info(), ns, name))
        return revision

    async def watch(self, namespace: str = "", **params) -> Stream:
        query = {k: str(v) for k, v in params.items()}
        path = f"/watch/{namespace}" if namespace else "/watch"
        resp = await self.session.get(self.url + path, params=query)
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        self.streams.append(resp)
        return Stream(resp)


def watch_request_from(request: web.Request, registry) -> WatchRequest:
    q = request.query
    info = registry.get(q.get("group", ""), q.get("version", "v1"), q.get("resource", "pods"))
    send_initial = q.get("sendInitialEvents")
    return WatchRequest(
        info=info,
        namespace=request.match_info.get("ns") or None,
        resource_version=q.get("resourceVersion", ""),
        label_selector=parse_label_selector(q.get("labelSelector", "")),
        field_selector=parse_field_selector(q.get("fieldSelector", ""), info.group, info.resource),
        timeout_seconds=int(q["timeoutSeconds"]) if "timeoutSeconds" in q else None,
        allow_bookmarks=q.get("allowWatchBookmarks") == "true",
        send_initial_events=None if send_initial is None else send_initial == "true",
        as_table=q.get("as") == "Table",
        include_object=q.get("includeObject", "Metadata"),
    )


async def _harness(**hub_options):
    store = await open_store("sqlite://:memory:")
    registry = builtin_registry()
    hub = WatchHub(store, registry, tick_interval=0.05, **hub_options)
    await hub.start()
    app = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await hub.serve(request, watch_request_from(request, registry))

    app.router.add_get("/watch", handle)
    app.router.add_get("/watch/{ns}", handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
    h = Harness(store, hub, str(server.make_url("")).rstrip("/"), session, registry)
    return h, server


@pytest.fixture
async def h():
    harness, server = await _harness(bookmark_interval=60.0)
    try:
        yield harness
    finally:
        for resp in harness.streams:
            resp.close()
        await harness.session.close()
        await harness.hub.stop()
        await server.close()
        await harness.store.close()


async def test_unset_resource_version_lists_then_follows(h: Harness):
    r1 = await h.put("a")
    await h.put("b")
    s = await h.watch()
    first = await s.take(2)
    assert [e["type"] for e in first] == ["ADDED", "ADDED"]
    assert {e["object"]["metadata"]["name"] for e in first} == {"a", "b"}
    assert first[0]["object"]["kind"] == "Pod" and first[0]["object"]["apiVersion"] == "v1"
    assert first[0]["object"]["metadata"]["resourceVersion"] == str(r1)
    assert await s.silent()
    r3 = await h.put("c")
    r4 = await h.put("a", labels={"x": "y"})
    r5 = await h.delete("b")
    events = await s.take(3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert [e["object"]["metadata"]["resourceVersion"] for e in events] == [str(r3), str(r4), str(r5)]
    assert events[1]["object"]["metadata"]["labels"] == {"x": "y"}


async def test_resource_version_zero_sends_synthetic_added(h: Harness):
    await h.put("a")
    s = await h.watch(resourceVersion="0")
    assert (await s.next())["type"] == "ADDED"
    await h.put("b")
    assert (await s.next())["object"]["metadata"]["name"] == "b"


async def test_exact_resource_version_replays_only_later_events(h: Harness):
    r1 = await h.put("a")
    await h.put("b")
    await h.put("a", labels={"v": "2"})
    s = await h.watch(resourceVersion=str(r1))
    events = await s.take(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("MODIFIED", "a")]
    assert await s.silent()


async def test_watchers_share_one_feed_per_resource(h: Harness):
    s1 = await h.watch()
    s2 = await h.watch(resourceVersion=str(await h.store.current_revision()))
    await h.put("a")
    e1, e2 = await s1.next(), await s2.next()
    assert e1 == e2
    assert len(h.hub.feeds) == 1


async def test_start_older_than_history_uses_a_private_feed():
    harness, server = await _harness(history_size=2)
    try:
        first = await harness.put("p0")
        s_live = await harness.watch()  # starts the shared feed now
        for i in range(1, 6):
            await harness.put(f"p{i}")
        await s_live.take(6)  # the feed has dispatched everything; its history keeps only 2
        s = await harness.watch(resourceVersion=str(first))
        names = [e["object"]["metadata"]["name"] for e in await s.take(5)]
        assert names == ["p1", "p2", "p3", "p4", "p5"]
        await harness.put("p6")
        assert (await s.next())["object"]["metadata"]["name"] == "p6"
    finally:
        await harness.session.close()
        await harness.hub.stop()
        await server.close()
        await harness.store.close()


async def test_compacted_resource_version_gives_410_in_stream(h: Harness):
    r1 = await h.put("a")
    for i in range(5):
        await h.put("a", labels={"i": str(i)})
    await h.store.compact(await h.store.current_revision())
    s = await h.watch(resourceVersion=str(r1))
    event = await s.next()
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    assert "too old resource version" in status["message"]
    assert await s.ended()


async def test_label_selector_turns_updates_into_added_and_deleted(h: Harness):
    s = await h.watch(labelSelector="app=web")
    r_other = await h.put("other", labels={"app": "db"})
    await h.put("a", labels={"app": "web"})
    assert (await s.next())["type"] == "ADDED"
    r_leave = await h.put("a", labels={"app": "db"})
    left = await s.next()
    assert left["type"] == "DELETED"
    # The DELETED carries the object as it was (still matching), at the revision of the change.
    assert left["object"]["metadata"]["labels"] == {"app": "web"}
    assert left["object"]["metadata"]["resourceVersion"] == str(r_leave)
    await h.put("a", labels={"app": "web"})
    assert (await s.next())["type"] == "ADDED"
    await h.put("a", labels={"app": "web", "v": "2"})
    assert (await s.next())["type"] == "MODIFIED"
    await h.delete("a")
    assert (await s.next())["type"] == "DELETED"
    await h.delete("other")
    assert await s.silent()
    assert r_other > 0


async def test_field_selector_and_namespace_filter(h: Harness):
    s_name = await h.watch(fieldSelector="metadata.name=x")
    s_ns = await h.watch(namespace="team")
    await h.put("y")
    await h.put("x")
    await h.put("z", ns="team")
    e = await s_name.next()
    assert e["object"]["metadata"]["name"] == "x"
    e = await s_ns.next()
    assert e["object"]["metadata"]["namespace"] == "team"
    assert await s_name.silent(0.2) and await s_ns.silent(0.2)


async def test_send_initial_events_ends_with_annotated_bookmark(h: Harness):
    await h.put("a")
    rev = await h.put("b")
    s = await h.watch(sendInitialEvents="true", allowWatchBookmarks="true", resourceVersion="")
    events = await s.take(3)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    bookmark = events[2]["object"]
    assert bookmark["kind"] == "Pod"
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= rev


async def test_periodic_bookmarks_and_timeout():
    harness, server = await _harness(bookmark_interval=0.2)
    try:
        rev = await harness.put("a")
        s = await harness.watch(resourceVersion=str(rev), allowWatchBookmarks="true", timeoutSeconds="1")
        seen = []
        while True:
            try:
                seen.append(await s.next(timeout=3))
            except EOFError:
                break
        assert seen and all(e["type"] == "BOOKMARK" for e in seen)
        assert len(seen) >= 2
        assert seen[0]["object"]["metadata"] == {"resourceVersion": str(rev), "creationTimestamp": None}
    finally:
        await harness.session.close()
        await harness.hub.stop()
        await server.close()
        await harness.store.close()


async def test_timeout_ends_stream_without_bookmarks(h: Harness):
    s = await h.watch(resourceVersion=str(await h.put("a")), timeoutSeconds="1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await s.ended(timeout=3)
    assert 0.8 <= loop.time() - started < 2.5


async def test_table_watch_sends_one_row_tables(h: Harness):
    await h.put("a")
    s = await h.watch(**{"as": "Table"})
    first = await s.next()
    assert first["type"] == "ADDED"
    table = first["object"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:2] == ["Name", "Ready"]
    assert len(table["rows"]) == 1 and table["rows"][0]["cells"][0] == "a"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    await h.put("b")
    second = (await s.next())["object"]
    assert second["kind"] == "Table" and second["columnDefinitions"] == []
    assert second["rows"][0]["cells"][0] == "b"


async def test_disconnect_cleans_up_promptly(h: Harness):
    s = await h.watch()
    await h.put("a")
    await s.next()
    assert len(h.hub.watchers) == 1
    s.resp.close()
    for _ in range(40):
        if not h.hub.watchers:
            break
        await asyncio.sleep(0.05)
    assert not h.hub.watchers


async def test_slow_consumer_is_closed_and_does_not_block_others():
    harness, server = await _harness(max_buffer=256 * 1024)
    raw = socket.socket()
    try:
        host, port = server.host, server.port
        # A client that opens a watch and never reads: its socket buffers fill up.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect((host, port))
        raw.sendall(f"GET /watch?resourceVersion={await harness.store.current_revision()} HTTP/1.1\r\n"
                    f"Host: {host}\r\n\r\n".encode())
        for _ in range(100):
            if harness.hub.watchers:
                break
            await asyncio.sleep(0.01)
        fast = await harness.watch(resourceVersion=str(await harness.store.current_revision()))
        reader = asyncio.create_task(fast.take(200, timeout=5))  # the fast client keeps reading
        big = "x" * 50_000  # 10 MB in all: more than loopback's kernel buffers absorb
        for i in range(200):
            await harness.put(f"p{i}", annotations={"big": big})
        got = [e["object"]["metadata"]["name"] for e in await reader]
        assert got == [f"p{i}" for i in range(200)]
        for _ in range(100):
            if len(harness.hub.watchers) == 1:
                break
            await asyncio.sleep(0.02)
        assert len(harness.hub.watchers) == 1  # the slow one was dropped
        assert sum(s.dropped for s in harness.hub.stats()) == 1
    finally:
        raw.close()
        await harness.session.close()
        await harness.hub.stop()
        await server.close()
        await harness.store.close()
