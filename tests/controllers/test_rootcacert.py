"""Root CA publisher: kube-root-ca.crt with ca.crt in every namespace, kept in sync."""

from __future__ import annotations

import pytest

from kybernetes.client.resource import CONFIGMAPS, NAMESPACES
from kybernetes.controllers.rootcacert import DESCRIPTION_ANNOTATION, RootCACertPublisher, load_root_ca
from kybernetes.testing.waiting import eventually
from tests.controllers.harness import running_controller

CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def publisher(client, options, *, run=True):
    return running_controller(client, RootCACertPublisher, options=options, run=run)




def test_load_root_ca(tmp_path):
    path = tmp_path / "ca.crt"
    path.write_text(CA)
    assert load_root_ca({"root_ca_file": str(path)}) == CA
    assert load_root_ca({"root_ca": CA}) == CA
    assert load_root_ca({}) == ""
    with pytest.raises(ValueError, match="cannot read the root CA file"):
        load_root_ca({"root_ca_file": str(tmp_path / "missing")})


async def test_reconcile_creates_then_repairs(client):
    await client.create(NAMESPACES, {"metadata": {"name": "team"}})
    async with publisher(client, {"root_ca": CA}, run=False) as controller:
        client.clear()
        await controller.reconcile("team")
        assert [(a.verb, a.resource) for a in client.actions] == [("create", "configmaps")]
        cm = await client.get(CONFIGMAPS, "kube-root-ca.crt", "team")
        assert cm["data"] == {"ca.crt": CA}
        assert DESCRIPTION_ANNOTATION in cm["metadata"]["annotations"]
        # In sync (as the cache sees it): nothing to do.
        controller.configmaps.indexer.upsert(cm)
        client.clear()
        await controller.reconcile("team")
        assert client.actions == []
        # Someone edits it: put the data back, keep their label.
        cm["data"] = {"ca.crt": "tampered"}
        cm["metadata"]["labels"] = {"mine": "yes"}
        cm = await client.update(CONFIGMAPS, cm)
        controller.configmaps.indexer.upsert(cm)
        await controller.reconcile("team")
        fixed = await client.get(CONFIGMAPS, "kube-root-ca.crt", "team")
        assert fixed["data"] == {"ca.crt": CA} and fixed["metadata"]["labels"] == {"mine": "yes"}


async def test_without_ca_publishes_nothing(client):
    await client.create(NAMESPACES, {"metadata": {"name": "team"}})
    async with publisher(client, {}, run=False) as controller:
        client.clear()
        await controller.reconcile("team")
        assert client.actions == []


async def test_new_namespace_gets_configmap_and_it_is_kept(client, tmp_path):
    (tmp_path / "ca.crt").write_text(CA)
    async with publisher(client, {"root_ca_file": str(tmp_path / "ca.crt")}):
        await client.create(NAMESPACES, {"metadata": {"name": "fresh"}})

        async def published():
            cm = await client.get_or_none(CONFIGMAPS, "kube-root-ca.crt", "fresh")
            return cm is not None and cm["data"] == {"ca.crt": CA}
        await eventually(published)
        await client.delete(CONFIGMAPS, "kube-root-ca.crt", "fresh")
        await eventually(published)
        cm = await client.get(CONFIGMAPS, "kube-root-ca.crt", "fresh")
        cm["data"]["ca.crt"] = "changed"
        await client.update(CONFIGMAPS, cm)
        await eventually(published)
