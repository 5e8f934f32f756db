"""EndpointSlices: endpoint conditions, labels and owners, named ports, the split at 100, the
placeholder slice, stale caches, selector-less and deleted Services, and the controller end to end."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, NODES, PODS, SERVICES
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.endpointslice import EndpointSliceController, StaleCacheError
from kybernetes.controllers.endpointslice_reconciler import (
    DesiredGroup,
    endpoint_key,
    port_key,
    reconcile_slices,
)
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
MANAGED = {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by":
           "endpointslice-controller.k8s.io"}


def pod(name, ip, *, ready=True, ports=None, node="n1", labels=None, **spec):
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "ports": ports or []}], **spec},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def service(name="web", selector=None, ports=None, **spec):
    return {"metadata": {"name": name, "namespace": NS, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"} if selector is None else selector,
                     "ports": ports if ports is not None else [
                         {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
                     **spec}}


@contextlib.asynccontextmanager
async def controller(client, **options):
    informers = SharedInformerFactory(client)
    ctl = EndpointSliceController(ControllerContext(client, informers, clock=FakeClock(), options=options))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield ctl
    finally:
        await informers.shutdown()


async def seed(ctl, client, svc, pods, zone="z1"):
    """Service and node through the API; the pods straight into the cache (the controller only reads it)."""
    if await client.get_or_none(NODES, "n1") is None:
        await client.create(NODES, {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": zone}}})
    created = await client.create(SERVICES, svc, NS)
    await eventually(lambda: ctl.services.get(f"{NS}/{svc['metadata']['name']}") is not None
                     and ctl.nodes.get("n1") is not None, what="service and node cached")
    for p in pods:
        ctl.pods.indexer.upsert(p)
    client.clear()
    return created


async def slices_of(client, name="web"):
    items = (await client.list(ENDPOINTSLICES, NS, label_selector=f"kubernetes.io/service-name={name}"))["items"]
    return sorted(items, key=lambda s: [p["port"] for p in s.get("ports") or []])


async def caught_up(ctl, client):
    want = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in (await client.list(ENDPOINTSLICES))["items"]}
    await eventually(lambda: {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
                              for s in ctl.slices.list()} == want, what="slice cache")


async def test_slice_shape_conditions_and_named_ports(client):
    terminating = pod("t", "10.0.0.3", ports=[{"name": "http", "containerPort": 8080}])
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:10Z"
    async with controller(client) as ctl:
        svc = await seed(ctl, client, service(), [
            pod("a", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080}], hostname="a", subdomain="web"),
            pod("b", "10.0.0.2", ports=[{"name": "http", "containerPort": 8080}], ready=False),
            terminating,
            pod("c", "10.0.0.4", ports=[{"name": "http", "containerPort": 9090}])])
        await ctl.reconcile(f"{NS}/web")
        assert [(a.verb, a.resource) for a in client.actions] == [("create", "endpointslices")] * 2
        first, second = await slices_of(client)
        assert first["addressType"] == "IPv4"
        assert first["metadata"]["name"].startswith("web-")
        assert first["metadata"]["labels"] == {"tier": "front", **MANAGED}
        assert first["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                         "uid": svc["metadata"]["uid"], "controller": True,
                                                         "blockOwnerDeletion": True}]
        assert first["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
        assert first["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
        by_name = {e["targetRef"]["name"]: e for e in first["endpoints"]}
        assert by_name["a"] == {"addresses": ["10.0.0.1"], "conditions": {"ready": True, "serving": True,
                                                                          "terminating": False},
                                "hostname": "a", "targetRef": {"kind": "Pod", "namespace": NS, "name": "a",
                                                               "uid": "uid-a"},
                                "nodeName": "n1", "zone": "z1"}
        assert by_name["b"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
        assert by_name["t"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
        assert second["ports"][0]["port"] == 9090
        assert [e["targetRef"]["name"] for e in second["endpoints"]] == ["c"]

        await caught_up(ctl, client)
        client.clear()
        await ctl.reconcile(f"{NS}/web")
        assert client.actions == []


async def test_publish_not_ready_addresses_makes_every_endpoint_ready(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service(ports=[{"port": 80}], publishNotReadyAddresses=True),
                   [pod("b", "10.0.0.2", ready=False)])
        await ctl.reconcile(f"{NS}/web")
        (only,) = await slices_of(client)
        assert only["endpoints"][0]["conditions"] == {"ready": True, "serving": False, "terminating": False}
        assert only["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]


async def test_slices_split_at_100_and_shrink(client):
    pods = [pod(f"p{i:03}", f"10.1.{i // 200}.{i % 200 + 1}") for i in range(230)]
    async with controller(client) as ctl:
        await seed(ctl, client, service(ports=[{"port": 80}]), pods)
        await ctl.reconcile(f"{NS}/web")
        assert sorted(len(s["endpoints"]) for s in await slices_of(client)) == [30, 100, 100]
        for p in pods[:150]:
            ctl.pods.indexer.delete(f"{NS}/{p['metadata']['name']}")
        await caught_up(ctl, client)
        client.clear()
        await ctl.reconcile(f"{NS}/web")
        remaining = await slices_of(client)
        assert sum(len(s["endpoints"]) for s in remaining) == 80
        assert all(len(s["endpoints"]) <= 100 for s in remaining)
        assert {a.verb for a in client.actions} <= {"update", "delete"}


async def test_placeholder_slice_then_reused(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service(ports=[{"port": 80}]), [])
        await ctl.reconcile(f"{NS}/web")
        (placeholder,) = await slices_of(client)
        assert placeholder["endpoints"] == [] and placeholder["ports"] == []
        await caught_up(ctl, client)
        client.clear()
        await ctl.reconcile(f"{NS}/web")
        assert client.actions == []  # the placeholder stays as it is
        ctl.pods.indexer.upsert(pod("a", "10.0.0.1"))
        await ctl.reconcile(f"{NS}/web")
        assert [a.verb for a in client.actions] == ["update"]  # no delete + create churn
        (filled,) = await slices_of(client)
        assert filled["metadata"]["name"] == placeholder["metadata"]["name"]
        assert filled["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]


async def test_stale_cache_is_retried_not_duplicated(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service(ports=[{"port": 80}]), [pod("a", "10.0.0.1")])
        await ctl.reconcile(f"{NS}/web")
        created = await slices_of(client)
        ctl.slices.indexer.delete(f"{NS}/{created[0]['metadata']['name']}")  # as if the watch were slow
        with pytest.raises(StaleCacheError):
            await ctl.reconcile(f"{NS}/web")
        assert len(await slices_of(client)) == 1


async def test_selectorless_deleted_and_nodeless(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service("manual", selector={}), [pod("a", "10.0.0.1")])
        await ctl.reconcile(f"{NS}/manual")
        assert client.actions == []
        ctl.pods.indexer.delete(f"{NS}/a")
        await seed(ctl, client, service(ports=[{"port": 80}]), [pod("lost", "10.0.0.2", node="nowhere")])
        with pytest.raises(RuntimeError, match="nowhere"):
            await ctl.reconcile(f"{NS}/web")
        (placeholder,) = await slices_of(client)  # written anyway, without the pod
        assert placeholder["endpoints"] == []
        await client.delete(SERVICES, "web", NS)
        await eventually(lambda: ctl.services.get(f"{NS}/web") is None, what="service deletion seen")
        await caught_up(ctl, client)
        await ctl.reconcile(f"{NS}/web")
        assert await slices_of(client) == []


def test_reconciler_moves_only_what_changed():
    svc = service(ports=[{"port": 80}])
    svc["metadata"]["uid"] = "svc-uid"
    ports = [{"name": "", "port": 80, "protocol": "TCP"}]

    def ep(i, ready=True):
        return {"addresses": [f"10.0.0.{i}"], "conditions": {"ready": ready, "serving": ready, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": NS, "name": f"p{i}", "uid": f"u{i}"}}

    def group(*endpoints):
        return {port_key(ports): DesiredGroup(ports, {endpoint_key(e): e for e in endpoints})}

    first = reconcile_slices(svc, "IPv4", group(*(ep(i) for i in range(1, 4))), [], max_per_slice=2)
    assert [len(s["endpoints"]) for s in first.create] == [2, 1] and not first.update
    existing = [dict(s, metadata={**s["metadata"], "name": f"s{i}"}) for i, s in enumerate(first.create)]
    changes = reconcile_slices(svc, "IPv4", group(ep(1), ep(2, ready=False), ep(3), ep(4)), existing, max_per_slice=2)
    assert [s["metadata"]["name"] for s in changes.update] == ["s0", "s1"] and not changes.create
    assert changes.update[0]["endpoints"][1]["conditions"]["ready"] is False
    assert [e["targetRef"]["name"] for e in changes.update[1]["endpoints"]] == ["p3", "p4"]


async def test_slices_follow_pods_end_to_end():
    async with TestApiServer() as srv, srv.client() as client:
        manager = ControllerManager(srv.client(), {"endpointslice": EndpointSliceController}, leader_elect=False)
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            await client.create(NODES, {"metadata": {"name": "n1"}})
            await client.create(SERVICES, service(ports=[{"name": "http", "port": 80, "targetPort": "http"}]), NS)
            for name, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2")):
                p = pod(name, ip, ports=[{"name": "http", "containerPort": 8080}])
                p["metadata"].pop("uid")
                await client.create(PODS, {"metadata": p["metadata"], "spec": p["spec"]}, NS)
                await client.patch(PODS, name, {"status": p["status"]}, NS, subresource="status")

            async def endpoints():
                return sorted((e["addresses"][0], e["conditions"]["ready"], s["ports"][0]["port"])
                              for s in await slices_of(client) for e in s["endpoints"])

            await poll(endpoints, [("10.0.0.1", True, 8080), ("10.0.0.2", True, 8080)])
            await client.patch(PODS, "b", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
                               NS, subresource="status", patch_type="strategic")
            await poll(endpoints, [("10.0.0.1", True, 8080), ("10.0.0.2", False, 8080)])
            await client.delete(PODS, "a", NS, grace_period_seconds=0)
            await poll(endpoints, [("10.0.0.2", False, 8080)])
            assert len(await slices_of(client)) == 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await manager.client.close()


async def poll(read, want, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while (got := await read()) != want:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"wanted {want}, still {got}")
        await asyncio.sleep(0.02)
