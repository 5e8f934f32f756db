"""TestApiServer: starts fast, serves the real API, and leaves nothing behind."""

from __future__ import annotations

import socket
import time

import pytest

from kybernetes.client.resource import NAMESPACES
from kybernetes.testing.apiserver import TestApiServer


async def test_starts_quickly_and_serves_the_api():
    started = time.perf_counter()
    async with TestApiServer() as srv:
        assert time.perf_counter() - started < 1.0
        assert srv.url.startswith("http://127.0.0.1:")
        client = srv.client()
        names = {ns["metadata"]["name"] for ns in (await client.list(NAMESPACES))["items"]}
        assert {"default", "kube-system"} <= names
        host, port = "127.0.0.1", int(srv.url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection((host, port), timeout=1):
        pass  # the port is closed again


async def test_each_server_has_its_own_store():
    async with TestApiServer() as one, TestApiServer() as two:
        await one.client().create(NAMESPACES, {"metadata": {"name": "only-in-one"}})
        assert await two.client().get_or_none(NAMESPACES, "only-in-one") is None


async def test_over_a_given_store_exposes_app_and_store():
    from kybernetes.store import open_store

    store = await open_store("sqlite://:memory:")
    try:
        async with TestApiServer(store=store) as srv:
            assert srv.app is not None and srv.store is store
            await srv.client().create(NAMESPACES, {"metadata": {"name": "x"}})
            assert await store.current_revision() > 0
    finally:
        await store.close()


async def test_bad_store_url_fails_cleanly():
    with pytest.raises(Exception) as e:
        async with TestApiServer(store_url="nope://x"):
            pass
    assert "scheme" in str(e.value)
