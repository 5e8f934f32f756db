"""ServiceAccounts controller: a "default" ServiceAccount in every namespace, recreated if deleted."""

from __future__ import annotations

from kybernetes.client.resource import NAMESPACES, SERVICEACCOUNTS
from kybernetes.controllers.serviceaccount import ServiceAccountsController
from kybernetes.testing.waiting import eventually
from tests.controllers.harness import running_controller


def controller_for(client, *, run=True):
    return running_controller(client, ServiceAccountsController, run=run)




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
