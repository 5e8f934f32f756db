"""Admission reads from the watch cache, consistently (admission_resources.py).

NamespaceLifecycle, LimitRanger and ResourceQuota read namespaces, LimitRanges and quotas from
the watch cache, at the store's revision when the request was admitted or later: what a request
just did on this server, or what another writer put straight into the store, is always seen.
"""

from __future__ import annotations

import asyncio

import orjson

from kybernetes.apiserver import keys
from kybernetes.apiserver.watch_cache import WATCH_CACHE_KEY

NS = "/api/v1/namespaces"


def pod(name: str, cpu: str | None = None) -> dict:
    container: dict = {"name": "c", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


def cache_of(api):
    return api.app[WATCH_CACHE_KEY]


async def make_namespace(api, name: str) -> None:
    status, body = await api.post(NS, json={"metadata": {"name": name}})
    assert status == 201, body


async def test_creates_read_admission_state_from_the_cache(api):
    cache = cache_of(api)
    await make_namespace(api, "reads")
    reads = []
    real_list, real_get = api.store.list, api.store.get

    async def counting_list(prefix, *a, **kw):
        reads.append(prefix)
        return await real_list(prefix, *a, **kw)

    async def counting_get(key, *a, **kw):
        reads.append(key)
        return await real_get(key, *a, **kw)

    await api.post(f"{NS}/reads/pods", json=pod("warm"))  # starts the namespace, limit and quota caches
    api.store.list, api.store.get = counting_list, counting_get
    try:
        for i in range(3):
            status, body = await api.post(f"{NS}/reads/pods", json=pod(f"p{i}"))
            assert status == 201, body
    finally:
        api.store.list, api.store.get = real_list, real_get
    assert reads == []  # neither the namespace nor the LimitRange/ResourceQuota lists hit the store
    assert {"/registry/core/namespaces/", "/registry/core/limitranges/",
            "/registry/core/resourcequotas/"} <= set(cache.caches)
    assert cache.stats.fallbacks == 0


async def test_a_namespace_being_deleted_refuses_creates_at_once(api):
    api.objects.inline_namespace_cleanup = False  # a namespace controller empties it, later
    await make_namespace(api, "going")
    assert (await api.post(f"{NS}/going/configmaps", json={"metadata": {"name": "a"}}))[0] == 201
    status, _ = await api.delete(f"{NS}/going")
    assert status == 200
    status, body = await api.post(f"{NS}/going/configmaps", json={"metadata": {"name": "b"}})
    assert status == 403, body
    assert "being terminated" in body["message"]


async def test_a_namespace_made_straight_in_the_store_is_seen(api):
    """Another apiserver on the same store made it: the next create waits for the cache."""
    await api.post(f"{NS}/default/pods", json=pod("warm"))
    info = api.objects.registry.get("", "v1", "namespaces")
    value = orjson.dumps({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "outside"},
                          "spec": {}, "status": {"phase": "Active"}})
    await api.store.create(keys.object_key(info, None, "outside"), value)
    status, body = await api.post(f"{NS}/outside/configmaps", json={"metadata": {"name": "a"}})
    assert status == 201, body
    assert (await api.post(f"{NS}/missing/configmaps", json={"metadata": {"name": "a"}}))[0] == 404


async def test_limit_ranges_and_quotas_apply_to_the_very_next_create(api):
    await make_namespace(api, "limits")
    await api.post(f"{NS}/limits/pods", json=pod("before"))  # caches running, nothing to apply
    status, body = await api.post(f"{NS}/limits/limitranges", json={
        "metadata": {"name": "lr"},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "64Mi"}}]}})
    assert status == 201, body
    status, body = await api.post(f"{NS}/limits/pods", json=pod("defaulted"))
    assert status == 201, body
    assert body["spec"]["containers"][0]["resources"]["limits"]["memory"] == "64Mi"
    status, body = await api.post(f"{NS}/limits/resourcequotas", json={
        "metadata": {"name": "q"}, "spec": {"hard": {"pods": "3"}}})
    assert status == 201, body
    status, body = await api.post(f"{NS}/limits/pods", json=pod("third"))
    assert status == 201, body
    status, body = await api.post(f"{NS}/limits/pods", json=pod("fourth"))
    assert status == 403, body
    assert "exceeded quota: q" in body["message"]


async def test_a_lagging_cache_is_waited_for(api):
    """The namespace cache hears of a new namespace 100 ms late: the create waits, then passes."""
    cache = cache_of(api)
    await api.post(f"{NS}/default/pods", json=pod("warm"))
    namespaces = cache.caches["/registry/core/namespaces/"]
    on_events = namespaces.on_events
    loop = asyncio.get_running_loop()
    namespaces.on_events = lambda batch: loop.call_later(0.1, on_events, batch)
    await make_namespace(api, "late")
    before = cache.stats.fallbacks
    status, body = await api.post(f"{NS}/late/configmaps", json={"metadata": {"name": "a"}})
    assert status == 201, body
    assert cache.stats.fallbacks == before


async def test_a_cache_that_does_not_catch_up_falls_back_to_the_store(api):
    cache = cache_of(api)
    await make_namespace(api, "stale")
    await api.post(f"{NS}/stale/pods", json=pod("warm"))
    namespaces = cache.caches["/registry/core/namespaces/"]
    cache.hub.feeds["/registry/core/namespaces/"].listeners.remove(namespaces)  # deaf from now on
    await make_namespace(api, "later")
    before = cache.stats.fallbacks
    import kybernetes.apiserver.admission_resources as reads

    wait, reads.CACHE_WAIT = reads.CACHE_WAIT, 0.05
    try:
        status, body = await api.post(f"{NS}/later/configmaps", json={"metadata": {"name": "a"}})
    finally:
        reads.CACHE_WAIT = wait
    assert status == 201, body
    assert cache.stats.fallbacks > before


async def test_without_the_watch_cache_admission_reads_the_store(api):
    cache = cache_of(api)
    cache.enabled = False
    await make_namespace(api, "plain")
    assert (await api.post(f"{NS}/plain/pods", json=pod("a")))[0] == 201
    assert (await api.post(f"{NS}/nowhere/pods", json=pod("a")))[0] == 404
