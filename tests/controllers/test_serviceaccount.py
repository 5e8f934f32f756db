"""ServiceAccounts controller: a "default" ServiceAccount in every namespace, recreated if deleted."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import NAMESPACES, SERVICEACCOUNTS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.serviceaccount import ServiceAccountsController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient


@pytest.fixture
async def client():
    async with TestApiServer() as srv:
        c = RecordingClient(srv.url, qps=0)
        try:
            yield c
        finally:
            await c.close()


@contextlib.asynccontextmanager
async def controller_for(client, *, run=True):
    informers = SharedInformerFactory(client)
    controller = ServiceAccountsController(ControllerContext(client, informers))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    task = asyncio.create_task(controller.run()) if run else None
    try:
        yield controller
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await informers.shutdown()


async def eventually(check, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} not reached in time")
        await asyncio.sleep(0.02)


async def test_reconcile_creates_default_once(client):
    await client.create(NAMESPACES, {"metadata": {"name": "team"}})
    async with controller_for(client, run=False) as controller:
        client.clear()
        await controller.reconcile("team")
        assert [(a.verb, a.resource, a.namespace) for a in client.actions] == \
            [("create", "serviceaccounts", "team")]
        assert (await client.get(SERVICEACCOUNTS, "default", "team"))["metadata"]["name"] == "default"
        # The cache has not seen it yet: the second create is answered AlreadyExists, which is fine.
        await controller.reconcile("team")
        await controller.reconcile("missing")  # no such namespace: nothing to do


async def test_terminating_namespace_gets_nothing(client):
    await client.create(NAMESPACES, {"metadata": {"name": "old"}})
    async with controller_for(client, run=False) as controller:
        controller.namespaces.indexer.upsert({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}})
        client.clear()
        await controller.reconcile("old")
        assert client.actions == []


async def test_default_appears_in_new_namespace_and_comes_back(client):
    async with controller_for(client):
        await client.create(NAMESPACES, {"metadata": {"name": "fresh"}})

        async def present():
            return await client.get_or_none(SERVICEACCOUNTS, "default", "fresh") is not None
        await eventually(present)
        await client.delete(SERVICEACCOUNTS, "default", "fresh")
        await eventually(present)
