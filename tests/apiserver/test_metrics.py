"""/metrics: Prometheus text from a per-app registry; request and watch counters move."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver import codec
from kybernetes.apiserver.keys import object_key
from kybernetes.apiserver.metrics import app_metrics, observe_request, setup_metrics
from kybernetes.apiserver.request_info import WatchRequest
from kybernetes.apiserver.watch import WATCH_HUB_KEY, WatchHub
from kybernetes.store import open_store

pytestmark = pytest.mark.timeout(30)


def samples(text: str, name: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


@pytest.fixture
async def server():
    store = await open_store("sqlite://:memory:")
    registry = builtin_registry()
    hub = WatchHub(store, registry, tick_interval=0.05)
    app = web.Application()
    app[WATCH_HUB_KEY] = hub
    setup_metrics(app)
    pods = registry.get("", "v1", "pods")

    async def get_pod(request: web.Request) -> web.Response:
        code = int(request.query.get("code", "200"))
        observe_request("get", "", "pods", "", code, 0.01, version="v1")
        return web.json_response({}, status=code)

    async def watch_pods(request: web.Request) -> web.StreamResponse:
        observe_request("watch", "", "pods", "", 200, 0.0, version="v1")
        return await hub.serve(request, WatchRequest(
            info=pods, namespace=None, resource_version="", label_selector=None, field_selector=None,
            timeout_seconds=None, allow_bookmarks=False, send_initial_events=None, as_table=False,
            include_object="Metadata"))

    app.router.add_get("/pod", get_pod)
    app.router.add_get("/watch", watch_pods)
    app.on_startup.append(lambda app: hub.start())
    app.on_shutdown.append(lambda app: hub.stop())
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    session = aiohttp.ClientSession()
    try:
        yield srv, session, store, pods
    finally:
        await session.close()
        await srv.close()
        await store.close()


async def scrape(srv, session) -> str:
    async with session.get(srv.make_url("/metrics")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        return await r.text()


async def test_request_counters_and_histogram_move(server):
    srv, session, _, _ = server
    for code in (200, 200, 404):
        async with session.get(srv.make_url(f"/pod?code={code}")) as r:
            await r.read()
    text = await scrape(srv, session)
    totals = samples(text, "apiserver_request_total")
    ok = next(v for k, v in totals.items() if ("code", "200") in k and ("verb", "GET") in k
              and ("resource", "pods") in k and ("version", "v1") in k)
    missing = next(v for k, v in totals.items() if ("code", "404") in k)
    assert (ok, missing) == (2, 1)
    counts = samples(text, "apiserver_request_duration_seconds_count")
    assert sum(v for k, v in counts.items() if ("verb", "GET") in k) == 3


async def test_watch_metrics_follow_the_hub(server):
    srv, session, store, pods = server
    resp = await session.get(srv.make_url("/watch"))
    for _ in range(100):
        text = await scrape(srv, session)
        watchers = samples(text, "apiserver_registered_watchers")
        if watchers:
            break
        await asyncio.sleep(0.02)
    assert watchers[(("group", ""), ("kind", "Pod"), ("version", "v1"))] == 1
    for i in range(3):
        await store.create(object_key(pods, "default", f"p{i}"),
                           codec.encode({"metadata": {"name": f"p{i}", "namespace": "default"}}))
    for _ in range(3):
        await asyncio.wait_for(resp.content.readline(), 3)
    text = await scrape(srv, session)
    assert samples(text, "apiserver_watch_events_total")[(("group", ""), ("kind", "Pod"), ("version", "v1"))] == 3
    assert any(("verb", "WATCH") in k for k in samples(text, "apiserver_longrunning_requests"))
    resp.close()


async def test_each_app_has_its_own_registry():
    a, b = web.Application(), web.Application()
    setup_metrics(a)
    setup_metrics(b)
    assert app_metrics(a).registry is not app_metrics(b).registry
    app_metrics(a).observe_request("get", "", "pods", "", 200, 0.01)
    assert "apiserver_request_total" in app_metrics(a).render().decode()
    assert 'resource="pods"' not in app_metrics(b).render().decode()
