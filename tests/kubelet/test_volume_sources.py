"""The kubelet's object cache for volumes and env: TTL, not-found, and one read per object at a time."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.resource import CONFIGMAPS
from kybernetes.kubelet.volumes.errors import SourceError
from kybernetes.kubelet.volumes.sources import ObjectCache
from kybernetes.util.clock import FakeClock


class SlowClient:
    """get_or_none answering after a pause, counting calls."""

    def __init__(self, objects):
        self.objects = objects
        self.calls = 0

    async def get_or_none(self, resource, name, namespace):
        self.calls += 1
        await asyncio.sleep(0.05)
        return self.objects.get((resource.resource, namespace, name))


async def test_concurrent_misses_share_one_read_and_the_ttl_holds():
    client = SlowClient({("configmaps", "default", "kube-root-ca.crt"): {"data": {"ca.crt": "x"}}})
    clock = FakeClock()
    cache = ObjectCache(client, ttl=5.0, clock=clock)
    got = await asyncio.gather(*(cache.config_map("default", "kube-root-ca.crt") for _ in range(16)))
    assert client.calls == 1 and all(g["data"] == {"ca.crt": "x"} for g in got)
    await cache.config_map("default", "kube-root-ca.crt")
    assert client.calls == 1  # fresh
    await clock.advance(5.0)
    await cache.get(CONFIGMAPS, "default", "kube-root-ca.crt")
    assert client.calls == 2  # expired: read again


async def test_a_missing_object_is_not_found_for_every_waiter():
    client = SlowClient({})
    cache = ObjectCache(client, clock=FakeClock())
    results = await asyncio.gather(*(cache.secret("default", "nope") for _ in range(3)), return_exceptions=True)
    assert client.calls == 1
    assert all(isinstance(r, SourceError) and r.not_found for r in results)
    with pytest.raises(SourceError, match='secret "nope" not found'):
        await cache.secret("default", "nope")
