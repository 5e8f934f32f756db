"""Informers against the real apiserver: events, cache, indices, sharing, resync, re-list on 410."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.watch import WATCH_HUB_KEY
from kybernetes.client.indexer import BY_NODE_NAME
from kybernetes.client.informer import Informer, SharedInformerFactory
from kybernetes.client.resource import CONFIGMAPS, NAMESPACES, PODS
from kybernetes.client.rest import ApiClient
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_add(self, obj):
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old, new):
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, obj):
        self.events.append(("delete", obj["metadata"]["name"]))

    def attach(self, informer: Informer) -> None:
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)


async def test_add_update_delete_reach_cache_and_handlers(client: ApiClient):
    await client.create(CONFIGMAPS, {"metadata": {"name": "before"}})
    informer = Informer(client, CONFIGMAPS, "default")
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    try:
        assert await informer.wait_for_sync(5)
        assert rec.events == [("add", "before")]
        await client.create(CONFIGMAPS, {"metadata": {"name": "a"}, "data": {"k": "1"}})
        await client.patch(CONFIGMAPS, "a", {"data": {"k": "2"}})
        await client.delete(CONFIGMAPS, "before")
        await eventually(lambda: len(rec.events) == 4, what="three watch events")
        assert rec.events[1:] == [("add", "a"), ("update", "a"), ("delete", "before")]
        cached = informer.get("default/a")
        assert cached is not None and cached["data"] == {"k": "2"} and cached["kind"] == "ConfigMap"
        assert informer.get("default/before") is None
        assert [o["metadata"]["name"] for o in informer.list("default")] == ["a"]
    finally:
        await informer.stop()


async def test_late_handler_gets_the_cache_as_adds(client: ApiClient):
    for name in ("x", "y"):
        await client.create(CONFIGMAPS, {"metadata": {"name": name}})
    informer = Informer(client, CONFIGMAPS, "default")
    informer.start()
    try:
        assert await informer.wait_for_sync(5)
        rec = Recorder()
        rec.attach(informer)
        assert sorted(rec.events) == [("add", "x"), ("add", "y")]
    finally:
        await informer.stop()


async def test_failing_or_async_handlers_do_not_stop_the_informer(client: ApiClient):
    informer = Informer(client, CONFIGMAPS, "default")
    rec = Recorder()

    def broken(obj):
        raise RuntimeError("handler bug")

    async def wrongly_async(obj):  # pragma: no cover - never awaited, by design
        pass

    informer.add_event_handler(on_add=broken)
    informer.add_event_handler(on_add=wrongly_async)
    rec.attach(informer)
    informer.start()
    try:
        await informer.wait_for_sync(5)
        await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
        await eventually(lambda: rec.events == [("add", "a")])
    finally:
        await informer.stop()


async def test_pods_by_node_index(client: ApiClient):
    informer = Informer(client, PODS)
    informer.start()
    try:
        await informer.wait_for_sync(5)
        for name, node in (("p1", "n1"), ("p2", "n2"), ("p3", "n1")):
            await client.create(PODS, {"metadata": {"name": name}, "spec": {
                "nodeName": node, "containers": [{"name": "c", "image": "i"}]}})
        await eventually(lambda: len(informer.indexer) == 3)
        assert informer.indexer.index_keys(BY_NODE_NAME, "n1") == ["default/p1", "default/p3"]
    finally:
        await informer.stop()


async def test_shared_factory_one_informer_per_resource(client: ApiClient):
    async with SharedInformerFactory(client) as factory:
        first, second = factory.informer_for(CONFIGMAPS), factory.informer_for(CONFIGMAPS)
        assert first is second
        assert factory.informer_for(CONFIGMAPS, namespace="kube-system") is not first
        namespaces = factory.informer_for(NAMESPACES)
        a, b = Recorder(), Recorder()
        a.attach(first)
        b.attach(second)
        factory.start()
        assert await factory.wait_for_cache_sync(5)
        assert {o["metadata"]["name"] for o in namespaces.list()} >= {"default", "kube-system"}
        await client.create(CONFIGMAPS, {"metadata": {"name": "shared"}})
        await eventually(lambda: ("add", "shared") in a.events and ("add", "shared") in b.events)
        assert first.reflector.lists == 1 and first.reflector.watches == 1
    assert not first.running


async def test_periodic_resync_on_the_clock(client: ApiClient):
    clock = FakeClock()
    await client.create(CONFIGMAPS, {"metadata": {"name": "a"}})
    informer = Informer(client, CONFIGMAPS, "default", resync_period=30, clock=clock)
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    try:
        await eventually(informer.has_synced)
        await clock.advance(29)
        assert rec.events == [("add", "a")]
        await clock.advance(1)
        assert rec.events == [("add", "a"), ("update", "a")]
        await clock.advance(30)
        assert rec.events.count(("update", "a")) == 2
    finally:
        await informer.stop()


async def test_restart_resumes_the_watch_from_the_last_resource_version(client: ApiClient):
    informer = Informer(client, CONFIGMAPS, "default")
    rec = Recorder()
    rec.attach(informer)
    informer.start()
    await informer.wait_for_sync(5)
    await informer.stop()
    await client.create(CONFIGMAPS, {"metadata": {"name": "while-stopped"}})
    informer.start()
    try:
        await eventually(lambda: ("add", "while-stopped") in rec.events)
        assert informer.reflector.lists == 1  # no second list: the watch caught up
    finally:
        await informer.stop()


async def test_relist_after_compaction_reports_every_change():
    from kybernetes.store import open_store

    store = await open_store("sqlite://:memory:")
    try:
        async with TestApiServer(store=store) as srv, srv.client() as client:
            # A short watch history, so a watch from before the compaction cannot be served from
            # the apiserver's cache either and must get 410.
            srv.app[WATCH_HUB_KEY].history_size = 1
            for name in ("keep", "change", "remove"):
                await client.create(CONFIGMAPS, {"metadata": {"name": name}})
            informer = Informer(client, CONFIGMAPS, "default")
            rec = Recorder()
            rec.attach(informer)
            informer.start()
            await informer.wait_for_sync(5)
            await informer.stop()
            rec.events.clear()
            # While the informer is away: changes, then history is compacted past its revision.
            await client.patch(CONFIGMAPS, "change", {"data": {"v": "2"}})
            await client.delete(CONFIGMAPS, "remove")
            await client.create(CONFIGMAPS, {"metadata": {"name": "new"}})
            await store.compact(await store.current_revision())
            informer.start()
            try:
                await eventually(lambda: informer.reflector.lists == 2, what="a re-list after 410")
                await eventually(lambda: ("delete", "remove") in rec.events)
                assert sorted(rec.events) == [("add", "new"), ("delete", "remove"),
                                              ("update", "change"), ("update", "keep")]
                assert sorted(informer.indexer.keys()) == ["default/change", "default/keep", "default/new"]
                assert informer.get("default/change")["data"] == {"v": "2"}
            finally:
                await informer.stop()
    finally:
        await store.close()


@pytest.mark.parametrize("timeout", [0.05])
async def test_wait_for_sync_times_out_without_a_server(timeout):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with ApiClient(f"http://127.0.0.1:{port}", qps=0, max_retries=0) as client:
        informer = Informer(client, CONFIGMAPS)
        informer.start()
        try:
            assert not await informer.wait_for_sync(timeout)
            assert not informer.has_synced()
        finally:
            await informer.stop()
