"""The watch cache: which lists it answers, how fresh they are, and how it recovers."""

from __future__ import annotations

import asyncio
import time

import orjson

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver import keys
from kybernetes.apiserver.watch_cache import WATCH_CACHE_KEY, ResourceCache
from kybernetes.apiserver.watch_cache_progress import resource_prefix_of
from kybernetes.store import Event, EventType, KeyValue, ListResult

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


def names(body) -> list[str]:
    return [i["metadata"]["name"] for i in body["items"]]


def cache_of(api):
    return api.app[WATCH_CACHE_KEY]


async def test_consistent_list_sees_the_write_just_made(api):
    cache = cache_of(api)
    for i in range(5):
        status, _ = await api.post(CMS, json={"metadata": {"name": f"cm-{i}"}})
        assert status == 201
        _, body = await api.get(CMS)
        assert names(body) == [f"cm-{j}" for j in range(i + 1)]
        assert int(body["metadata"]["resourceVersion"]) >= await api.store.current_revision()
    await api.delete(f"{CMS}/cm-2")
    _, body = await api.get(CMS)
    assert "cm-2" not in names(body)
    assert cache.stats.from_cache >= 6 and cache.stats.fallbacks == 0


async def test_writes_to_other_resources_do_not_make_a_list_wait(api):
    """The progress watch tells the cache that nothing happened to configmaps meanwhile."""
    cache = cache_of(api)
    cache.fresh_timeout = 5.0
    await api.post(CMS, json={"metadata": {"name": "a"}})
    await api.get(CMS)
    for i in range(5):
        await api.post("/api/v1/namespaces/default/secrets", json={"metadata": {"name": f"s-{i}"}})
    started = time.monotonic()
    _, body = await api.get(CMS)
    assert time.monotonic() - started < 1.0
    assert names(body) == ["a"]
    assert int(body["metadata"]["resourceVersion"]) == await api.store.current_revision()
    assert cache.stats.fallbacks == 0


async def test_writes_straight_to_the_store_are_seen(api):
    """A write the apiserver did not make (another apiserver on the same store) is waited for."""
    info = api.objects.registry.get("", "v1", "configmaps")
    await api.get(CMS)
    value = orjson.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                          "metadata": {"name": "outside", "namespace": "default"}})
    await api.store.create(keys.object_key(info, "default", "outside"), value)
    _, body = await api.get(CMS)
    assert names(body) == ["outside"]


async def test_which_lists_the_cache_answers(api):
    cache = cache_of(api)
    await api.post(CMS, json={"metadata": {"name": "a"}})
    _, first = await api.get(CMS)
    rv = first["metadata"]["resourceVersion"]
    cases = [
        ("?resourceVersion=0", True),
        ("?resourceVersion=0&limit=1", True),
        (f"?resourceVersion={rv}", True),
        (f"?resourceVersion={rv}&resourceVersionMatch=NotOlderThan", True),
        ("?labelSelector=x%3Dy", True),
        ("?limit=1", False),
        (f"?resourceVersion={rv}&resourceVersionMatch=Exact", False),
        (f"?resourceVersion={rv}&limit=1", False),
        ("?resourceVersion=999999", False),
        ("?resourceVersion=abc", False),
    ]
    for query, from_cache in cases:
        before = cache.stats.from_cache
        status, body = await api.get(CMS + query)
        assert (cache.stats.from_cache > before) == from_cache, query
        if query in ("?resourceVersion=999999", "?resourceVersion=abc"):
            assert status in (400, 504), (query, body)
        else:
            assert status == 200, (query, body)


async def test_eager_caches_are_running_at_start(api):
    prefixes = set(cache_of(api).caches)
    assert {"/registry/core/pods/", "/registry/core/nodes/", "/registry/core/services/",
            "/registry/discovery.k8s.io/endpointslices/"} <= prefixes


async def test_a_cache_whose_feed_ended_is_rebuilt(api):
    cache = cache_of(api)
    await api.post(CMS, json={"metadata": {"name": "a"}})
    await api.get(CMS)
    hub = cache.hub
    feed = hub.feeds["/registry/core/configmaps/"]
    await feed.stop()
    await api.post(CMS, json={"metadata": {"name": "b"}})
    _, body = await api.get(CMS)
    assert names(body) == ["a", "b"]
    assert cache.caches["/registry/core/configmaps/"].valid
    assert cache.stats.fallbacks == 0


async def test_without_the_progress_watch_lists_fall_back_to_the_store(api):
    cache = cache_of(api)
    await api.post(CMS, json={"metadata": {"name": "a"}})
    await api.get(CMS)
    await cache.tracker.stop()
    # The next list restarts the progress watch, and with it every cache: still correct.
    await api.post(CMS, json={"metadata": {"name": "b"}})
    _, body = await api.get(CMS)
    assert names(body) == ["a", "b"]
    assert cache.tracker.running


async def test_timeout_falls_back_to_the_store(api):
    cache = cache_of(api)
    cache.fresh_timeout = 0.05
    await api.get(CMS)
    feed = cache.hub.feeds["/registry/core/configmaps/"]
    configmaps = cache.caches["/registry/core/configmaps/"]
    feed.listeners.remove(configmaps)  # the cache stops hearing about changes
    await api.post(CMS, json={"metadata": {"name": "late"}})
    _, body = await api.get(CMS)
    assert names(body) == ["late"]
    assert cache.stats.fallbacks == 1


async def test_watch_after_a_cached_list_misses_nothing(api):
    await api.post(CMS, json={"metadata": {"name": "a"}})
    _, listed = await api.get(CMS + "?resourceVersion=0")
    rv = listed["metadata"]["resourceVersion"]
    await api.post(CMS, json={"metadata": {"name": "b"}})
    async with api.session.get(api.url + CMS + f"?watch=1&resourceVersion={rv}&timeoutSeconds=5") as resp:
        line = await asyncio.wait_for(resp.content.readline(), 5)
    event = orjson.loads(line)
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "b"


# --- ResourceCache on its own -------------------------------------------------------------------

def _event(kind: EventType, key: str, revision: int):
    from kybernetes.apiserver.watch_event import WatchEvent

    kv = KeyValue(key, b'{"metadata":{}}', 1, revision)
    return WatchEvent(Event(kind, kv, kv if kind is not EventType.CREATE else None))


def test_resource_cache_applies_events_in_key_order():
    prefix = "/registry/core/pods/"
    cache = ResourceCache(prefix)
    cache.on_events([_event(EventType.CREATE, prefix + "b/x", 3)])  # before the list: held back
    cache.load(ListResult([KeyValue(prefix + "a/z", b"{}", 1, 1), KeyValue(prefix + "b/x", b"{}", 3, 3)], 3, False))
    cache.on_events([_event(EventType.CREATE, prefix + "a/a", 4), _event(EventType.CREATE, prefix + "c/c", 5),
                     _event(EventType.DELETE, prefix + "b/x", 6), _event(EventType.UPDATE, prefix + "a/z", 7)])
    assert [kv.key for kv in cache.range(prefix)] == [prefix + "a/a", prefix + "a/z", prefix + "c/c"]
    assert [kv.key for kv in cache.range(prefix + "a/")] == [prefix + "a/a", prefix + "a/z"]
    assert [kv.key for kv in cache.range(prefix, prefix + "a/a")] == [prefix + "a/z", prefix + "c/c"]
    assert cache.items[prefix + "a/z"].mod_revision == 7
    assert cache.applied == 7


def test_resource_prefix_of_matches_keys_module():
    registry = builtin_registry()
    for info in (registry.get("", "v1", "pods"), registry.get("", "v1", "nodes"),
                 registry.get("apps", "v1", "deployments")):
        assert resource_prefix_of(keys.object_key(info, "ns", "name")) == keys.resource_prefix(info)


async def test_repeated_lists_show_updates(api):
    """Item JSON is kept between lists; an update must replace it."""
    await api.post(CMS, json={"metadata": {"name": "a"}, "data": {"n": "1"}})
    _, first = await api.get(CMS)
    await api.patch(f"{CMS}/a", json={"data": {"n": "2"}})
    _, second = await api.get(CMS)
    assert first["items"][0]["data"] == {"n": "1"} and second["items"][0]["data"] == {"n": "2"}
    assert second["items"][0]["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert second["items"][0]["kind"] == "ConfigMap"
