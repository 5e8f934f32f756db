"""Garbage collector: background, foreground and orphan deletion over ownerReferences, with uid
checks; reconcile steps on a seeded cache and end-to-end runs against the real apiserver."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.resource import (
    CONFIGMAPS,
    CUSTOMRESOURCEDEFINITIONS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    REPLICASETS,
)
from kybernetes.controllers.garbagecollector import GarbageCollector
from kybernetes.controllers.garbagecollector_refs import remove_refs_patch
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from tests.controllers.harness import running_controller

LABELS = {"app": "web"}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


@pytest.fixture
async def srv():
    async with TestApiServer() as server:
        yield server


@pytest.fixture
async def client(srv):
    c = RecordingClient(srv.url, qps=0)
    try:
        yield c
    finally:
        await c.close()


def collector(client, *, run=True):
    return running_controller(client, GarbageCollector, run=run, sync_timeout=10)




def ref(owner, *, controller=True, block=True):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


async def make_tree(client, name="web", pods=2):
    """A Deployment -> ReplicaSet -> Pods chain built by hand, as the controllers would."""
    dep = await client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": pods, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
    rs = await client.create(REPLICASETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-rs", "namespace": "default", "ownerReferences": [ref(dep)]},
        "spec": {"replicas": pods, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
    made = []
    for i in range(pods):
        made.append(await client.create(PODS, {
            "metadata": {"name": f"{name}-{i}", "namespace": "default", "labels": LABELS,
                         "ownerReferences": [ref(rs)]},
            "spec": TEMPLATE["spec"]}))
    return dep, rs, made


async def names(client, resource):
    return sorted(o["metadata"]["name"] for o in (await client.list(resource, "default"))["items"])


async def test_background_deletion_removes_the_whole_tree(client):
    async with collector(client):
        dep, rs, pods = await make_tree(client)
        await client.delete(DEPLOYMENTS, "web", propagation_policy="Background")

        async def all_gone():
            return not await names(client, REPLICASETS) and not await names(client, PODS)
        await eventually(all_gone)


async def test_foreground_deletion_waits_for_blocking_dependents(client):
    async with collector(client):
        await make_tree(client)
        out = await client.delete(DEPLOYMENTS, "web", propagation_policy="Foreground")
        assert "foregroundDeletion" in out["metadata"]["finalizers"]

        async def owner_gone():
            return await client.get_or_none(DEPLOYMENTS, "web", "default") is None
        await eventually(owner_gone)
        assert await names(client, REPLICASETS) == []
        assert await names(client, PODS) == []
    # The owner went last: every pod and the ReplicaSet were deleted before the finalizer was removed.
    deletes = [(a.resource, a.name) for a in client.actions if a.verb in ("delete", "patch")]
    last_patch = max(i for i, (res, _) in enumerate(deletes) if res == "deployments")
    assert all(i < last_patch for i, (res, _) in enumerate(deletes) if res in ("pods", "replicasets"))


async def test_foreground_owner_held_while_blocking_dependent_lingers(client):
    async with collector(client):
        dep, rs, pods = await make_tree(client, pods=1)
        held = await client.create(CONFIGMAPS, {"metadata": {
            "name": "held", "namespace": "default", "finalizers": ["example.com/hold"],
            "ownerReferences": [ref(dep)]}})
        await client.delete(DEPLOYMENTS, "web", propagation_policy="Foreground")

        async def held_deleting():
            cm = await client.get(CONFIGMAPS, "held", "default")
            return cm["metadata"].get("deletionTimestamp")
        await eventually(held_deleting)
        await asyncio.sleep(0.2)
        assert await client.get_or_none(DEPLOYMENTS, "web", "default") is not None
        held = await client.get(CONFIGMAPS, "held", "default")
        held["metadata"]["finalizers"] = []
        await client.update(CONFIGMAPS, held)

        async def owner_gone():
            return await client.get_or_none(DEPLOYMENTS, "web", "default") is None
        await eventually(owner_gone)


async def test_orphan_deletion_keeps_dependents_without_the_reference(client):
    async with collector(client):
        dep, rs, pods = await make_tree(client)
        await client.delete(DEPLOYMENTS, "web", propagation_policy="Orphan")

        async def owner_gone():
            return await client.get_or_none(DEPLOYMENTS, "web", "default") is None
        await eventually(owner_gone)
        await asyncio.sleep(0.1)
        kept = await client.get(REPLICASETS, "web-rs", "default")
        assert "ownerReferences" not in kept["metadata"]
        for pod in await names(client, PODS):  # the pods still belong to the ReplicaSet
            p = await client.get(PODS, pod, "default")
            assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]


async def test_reference_to_recreated_owner_is_dangling(client):
    async with collector(client, run=False) as gc:
        old = await client.create(CONFIGMAPS, {"metadata": {"name": "owner", "namespace": "default"}})
        await client.delete(CONFIGMAPS, "owner", "default")
        await client.create(CONFIGMAPS, {"metadata": {"name": "owner", "namespace": "default"}})
        old["apiVersion"], old["kind"] = "v1", "ConfigMap"
        await client.create(CONFIGMAPS, {"metadata": {"name": "dep", "namespace": "default",
                                                      "ownerReferences": [ref(old)]}})

        async def cached():
            return gc.cached("configmaps|default/dep")
        await eventually(cached)
        client.clear()
        while await gc.process_one():
            pass
        assert [(a.verb, a.name) for a in client.actions] == [("delete", "dep")]
        assert await client.get_or_none(CONFIGMAPS, "owner", "default") is not None


async def test_live_owner_keeps_dependent_and_absent_owner_reference_is_dropped(client):
    async with collector(client, run=False) as gc:
        live = await client.create(CONFIGMAPS, {"metadata": {"name": "live", "namespace": "default"}})
        live["apiVersion"], live["kind"] = "v1", "ConfigMap"
        ghost = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"}}
        await client.create(CONFIGMAPS, {"metadata": {"name": "dep", "namespace": "default",
                                                      "ownerReferences": [ref(live, controller=False),
                                                                          ref(ghost, controller=False)]}})

        async def cached():
            return gc.cached("configmaps|default/dep")
        await eventually(cached)
        client.clear()
        await gc.reconcile("configmaps|default/dep")
        assert [(a.verb, a.resource, a.name) for a in client.actions] == [("patch", "configmaps", "dep")]
        dep = await client.get(CONFIGMAPS, "dep", "default")
        assert [r["name"] for r in dep["metadata"]["ownerReferences"]] == ["live"]
        client.clear()
        await gc.reconcile("configmaps|default/live")  # an owner with no refs: nothing to do
        assert client.actions == []


async def test_cluster_scoped_owner_of_namespaced_dependent(client):
    async with collector(client):
        ns = await client.create(NAMESPACES, {"metadata": {"name": "owner-ns"}})
        ns["apiVersion"], ns["kind"] = "v1", "Namespace"
        await client.create(CONFIGMAPS, {"metadata": {"name": "dep", "namespace": "default",
                                                      "ownerReferences": [ref(ns)]}})
        await asyncio.sleep(0.2)
        assert await client.get_or_none(CONFIGMAPS, "dep", "default") is not None


def test_remove_refs_patch_keeps_others_and_nulls_empty_list():
    obj = {"metadata": {"resourceVersion": "7", "ownerReferences": [{"uid": "a"}, {"uid": "b"}]}}
    assert remove_refs_patch(obj, {"a"}) == {"metadata": {"ownerReferences": [{"uid": "b"}],
                                                          "resourceVersion": "7"}}
    assert remove_refs_patch(obj, {"a", "b"})["metadata"]["ownerReferences"] is None


async def test_discovery_adds_monitors_for_new_resources(client):
    async with collector(client, run=False) as gc:
        before = set(gc.monitors)
        assert "pods" in before and "replicasets.apps" in before and "events" not in before
        await client.create(
            CUSTOMRESOURCEDEFINITIONS, {
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced",
                         "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                         "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                             "openAPIV3Schema": {"type": "object",
                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}})

        async def discovered():
            await gc.resync_monitors()
            return "widgets.example.com" in gc.monitors
        await eventually(discovered)
        assert gc.kinds[("example.com", "Widget")] == "widgets.example.com"
