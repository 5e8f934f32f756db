"""Disruption controller: PodDisruptionBudget status from pods and their controllers' scale."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient
from kybernetes.client.resource import DEPLOYMENTS, PODDISRUPTIONBUDGETS, PODS, REPLICASETS, STATEFULSETS
from kybernetes.controllers.disruption import DisruptionController, SyncError, scaled_value
from kybernetes.util.clock import FakeClock
from tests.controllers.harness import running_controller

LABELS = {"app": "web"}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def disruption(client, *, clock=None, run=False):
    return running_controller(client, DisruptionController, clock=clock, run=run)


def ref(owner, kind, api_version="apps/v1"):
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


async def workload(client, replicas=4, ready=3, extra_pods=0):
    """Deployment(replicas) -> ReplicaSet -> ``ready`` Ready pods + not-ready ones up to ``replicas``."""
    dep = await client.create(DEPLOYMENTS, {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
    rs = await client.create(REPLICASETS, {
        "metadata": {"name": "web-rs", "namespace": "default", "ownerReferences": [ref(dep, "Deployment")]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
    for i in range(replicas - 1 + extra_pods):
        pod = await client.create(PODS, {
            "metadata": {"name": f"web-{i}", "namespace": "default", "labels": LABELS,
                         "ownerReferences": [ref(rs, "ReplicaSet")]}, "spec": TEMPLATE["spec"]})
        pod["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if i < ready else "False"}]}
        await client.update_status(PODS, pod)
    return dep, rs


async def pdb(client, **spec):
    return await client.create(PODDISRUPTIONBUDGETS, {
        "metadata": {"name": "budget", "namespace": "default"},
        "spec": {"selector": {"matchLabels": LABELS}, **spec}})


async def settle(controller, client):
    for informer, resource in ((controller.pods, PODS), (controller.pdbs, PODDISRUPTIONBUDGETS)):
        informer.indexer.replace((await client.list(resource))["items"])
    for (_group, kind), informer in controller.workloads.items():
        resource = {"ReplicaSet": REPLICASETS, "Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}.get(kind)
        if resource is not None:
            informer.indexer.replace((await client.list(resource))["items"])


def test_scaled_value():
    assert scaled_value(2, 10, "minAvailable") == 2
    assert scaled_value("50%", 5, "minAvailable") == 3  # rounded up
    assert scaled_value("0%", 5, "maxUnavailable") == 0
    with pytest.raises(SyncError):
        scaled_value("half", 5, "minAvailable")


async def test_min_available_int_counts_matching_pods(client):
    await workload(client, replicas=4, ready=3)  # 3 pods exist, all ready
    await pdb(client, minAvailable=2)
    async with disruption(client) as dc:
        await settle(dc, client)
        client.clear()
        await dc.reconcile("default/budget")
        status = (await client.get(PODDISRUPTIONBUDGETS, "budget", "default"))["status"]
        assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
                status["disruptionsAllowed"], status["observedGeneration"]) == (3, 2, 3, 1, 1)
        cond = status["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
        assert client.verbs_on("poddisruptionbudgets/status") == ["update"]
        # Nothing changed: no second write.
        await settle(dc, client)
        client.clear()
        await dc.reconcile("default/budget")
        assert client.verbs_on("poddisruptionbudgets/status") == []


async def test_max_unavailable_uses_deployment_scale(client):
    await workload(client, replicas=4, ready=2)  # 3 pods, 2 ready; the deployment wants 4
    await pdb(client, maxUnavailable="25%")
    async with disruption(client) as dc:
        await settle(dc, client)
        await dc.reconcile("default/budget")
        status = (await client.get(PODDISRUPTIONBUDGETS, "budget", "default"))["status"]
        assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
                status["disruptionsAllowed"]) == (4, 3, 2, 0)
        cond = status["conditions"][0]
        assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")


async def test_pod_whose_controller_is_missing_fails_safe(client):
    await client.create(PODS, {"metadata": {"name": "lost", "namespace": "default", "labels": LABELS,
                                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                                 "name": "nope", "uid": "u-1",
                                                                 "controller": True}]},
                               "spec": TEMPLATE["spec"]})
    await pdb(client, minAvailable="50%")
    async with disruption(client) as dc:
        await settle(dc, client)
        with pytest.raises(SyncError, match='found no controllers for pod "lost"'):
            await dc.reconcile("default/budget")
        status = (await client.get(PODDISRUPTIONBUDGETS, "budget", "default"))["status"]
        assert status["disruptionsAllowed"] == 0
        assert status["conditions"][0]["reason"] == "SyncFailed"


async def test_disrupted_pods_are_not_healthy_until_they_expire(client):
    clock = FakeClock()
    await workload(client, replicas=4, ready=3)
    budget = await pdb(client, minAvailable=2)
    async with disruption(client, clock=clock) as dc:
        budget["status"] = {"disruptedPods": {"web-0": "2026-01-01T00:00:00Z", "ghost": "2026-01-01T00:00:00Z"}}
        await client.update_status(PODDISRUPTIONBUDGETS, budget)
        await settle(dc, client)
        await dc.reconcile("default/budget")
        status = (await client.get(PODDISRUPTIONBUDGETS, "budget", "default"))["status"]
        assert status["disruptedPods"] == {"web-0": "2026-01-01T00:00:00Z"}  # "ghost" has no pod
        assert (status["currentHealthy"], status["disruptionsAllowed"]) == (2, 0)
        assert dc.queue.waiting == 1  # a recheck when the entry expires
        await clock.advance(121)
        await settle(dc, client)
        await dc.reconcile("default/budget")
        status = (await client.get(PODDISRUPTIONBUDGETS, "budget", "default"))["status"]
        assert "disruptedPods" not in status
        assert (status["currentHealthy"], status["disruptionsAllowed"]) == (3, 1)


async def test_end_to_end_eviction_spends_the_budget(client):
    await workload(client, replicas=4, ready=3)
    await pdb(client, minAvailable=2)
    async with disruption(client, run=True):
        async def allowed():
            b = await client.get(PODDISRUPTIONBUDGETS, "budget", "default")
            return (b.get("status") or {}).get("disruptionsAllowed") == 1
        deadline = asyncio.get_running_loop().time() + 5
        while not await allowed():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0"}}
        await client.create(PODS, eviction, "default", name="web-0", subresource="eviction")
        eviction["metadata"]["name"] = "web-1"
        async with ApiClient(client.url, qps=0, max_retries=0) as once:  # 429s are retried otherwise
            with pytest.raises(ApiError) as e:
                await once.create(PODS, eviction, "default", name="web-1", subresource="eviction")
        assert e.value.code == 429
