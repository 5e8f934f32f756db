"""Node IPAM: distinct node subnets from the cluster CIDR, kept across restarts, reused after delete."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import NODES
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.nodeipam import NodeIpamController, build_cidr_sets
from kybernetes.controllers.nodeipam_cidrset import CIDRRangeFull, CIDRSet, CIDRSetError
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

# -- the CIDR set --------------------------------------------------------------------------------------


def test_cidr_set_allocates_round_robin_and_fills_up():
    s = CIDRSet("10.0.0.0/22", 24)
    assert [s.allocate_next() for _ in range(3)] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    s.release("10.0.0.0/24")
    assert s.allocate_next() == "10.0.3.0/24"  # the cursor moves on before reusing
    assert s.allocate_next() == "10.0.0.0/24"
    with pytest.raises(CIDRRangeFull):
        s.allocate_next()
    assert len(s) == 4


def test_cidr_set_occupy_and_bad_input():
    s = CIDRSet("10.42.0.0/16", 24)
    s.occupy("10.42.0.0/23")  # two subnets at once
    assert s.allocate_next() == "10.42.2.0/24"
    assert s.is_used("10.42.1.0/24")
    v6 = CIDRSet("fd00::/56", 64)
    assert v6.allocate_next() == "fd00::/64"
    with pytest.raises(CIDRSetError, match="outside the cluster CIDR"):
        s.occupy("10.43.0.0/24")
    with pytest.raises(CIDRSetError, match="not an IPv4"):
        s.occupy("fd00::/64")
    with pytest.raises(CIDRSetError, match="invalid CIDR"):
        CIDRSet("10.42.0.0/33", 24)
    with pytest.raises(CIDRSetError, match="does not fit"):
        CIDRSet("10.42.0.0/16", 8)
    with pytest.raises(CIDRSetError, match="more than"):
        CIDRSet("10.0.0.0/8", 28)


def test_cidr_sets_from_options():
    v4, v6 = build_cidr_sets({"cluster_cidr": "10.42.0.0/16,fd00:42::/56"})
    assert (v4.node_mask, v6.node_mask) == (24, 64)
    (only,) = build_cidr_sets({"cluster_cidr": "10.0.0.0/16", "service_cluster_ip_range": "10.0.0.0/24"})
    assert only.allocate_next() == "10.0.1.0/24"  # the service range is never a node's
    (default,) = build_cidr_sets({})
    assert str(default.network) == "10.42.0.0/16"
    with pytest.raises(CIDRSetError, match="two IPv4"):
        build_cidr_sets({"cluster_cidr": "10.0.0.0/16,10.1.0.0/16"})


# -- reconcile steps -----------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def ipam(client, **options):
    informers = SharedInformerFactory(client)
    controller = NodeIpamController(ControllerContext(client, informers, clock=FakeClock(), options=options))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield controller
    finally:
        await informers.shutdown()


async def seen(controller, client):
    want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in (await client.list(NODES))["items"]}
    await eventually(lambda: {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                              for o in controller.nodes.list()} == want, what="node cache")


async def pod_cidrs(client, name):
    spec = (await client.get(NODES, name)).get("spec") or {}
    return spec.get("podCIDR"), spec.get("podCIDRs")


async def test_nodes_get_distinct_subnets_and_existing_ones_are_kept(client):
    await client.create(NODES, {"metadata": {"name": "old"}, "spec": {"podCIDR": "10.42.0.0/24",
                                                                      "podCIDRs": ["10.42.0.0/24"]}})
    for name in ("a", "b"):
        await client.create(NODES, {"metadata": {"name": name}})
    async with ipam(client) as ctl:
        await seen(ctl, client)
        client.clear()
        for name in ("a", "b", "old"):
            await ctl.reconcile(name)
        assert [(a.verb, a.name) for a in client.actions] == [("patch", "a"), ("patch", "b")]
        assert await pod_cidrs(client, "a") == ("10.42.1.0/24", ["10.42.1.0/24"])
        assert await pod_cidrs(client, "b") == ("10.42.2.0/24", ["10.42.2.0/24"])
        assert await pod_cidrs(client, "old") == ("10.42.0.0/24", ["10.42.0.0/24"])
        await seen(ctl, client)
        client.clear()
        await ctl.reconcile("a")  # idempotent
        assert client.actions == []


async def test_full_range_then_reuse_after_delete(client):
    for name in ("n1", "n2", "n3"):
        await client.create(NODES, {"metadata": {"name": name}})
    async with ipam(client, cluster_cidr="10.0.0.0/23") as ctl:
        await seen(ctl, client)
        await ctl.reconcile("n1")
        await ctl.reconcile("n2")
        client.clear()
        with pytest.raises(RuntimeError, match="no remaining node CIDRs"):
            await ctl.reconcile("n3")
        events = [a.body for a in client.actions if a.resource == "events"]
        assert [(e["reason"], e["message"]) for e in events] == [
            ("CIDRNotAvailable", "Node n3 status is now: CIDRNotAvailable")]
        freed = (await pod_cidrs(client, "n1"))[0]
        await client.delete(NODES, "n1")
        await seen(ctl, client)
        await ctl.reconcile("n1")
        await ctl.reconcile("n3")
        assert await pod_cidrs(client, "n3") == (freed, [freed])


async def test_dual_stack_nodes_get_one_subnet_per_family(client):
    await client.create(NODES, {"metadata": {"name": "n1"}})
    async with ipam(client, cluster_cidr="10.42.0.0/16,fd00:42::/56") as ctl:
        await seen(ctl, client)
        await ctl.reconcile("n1")
        assert await pod_cidrs(client, "n1") == ("10.42.0.0/24", ["10.42.0.0/24", "fd00:42::/64"])


async def test_restarted_controller_never_hands_out_a_subnet_twice():
    async with TestApiServer() as srv, srv.client() as client:
        for round_ in range(2):
            manager = ControllerManager(srv.client(), {"nodeipam": NodeIpamController}, leader_elect=False)
            task = asyncio.create_task(manager.run())
            try:
                for i in range(3):
                    await client.create(NODES, {"metadata": {"name": f"r{round_}-{i}"}})

                async def all_assigned():
                    nodes = (await client.list(NODES))["items"]
                    return all((n.get("spec") or {}).get("podCIDR") for n in nodes), nodes

                for _ in range(250):
                    done, nodes = await all_assigned()
                    if done:
                        break
                    await asyncio.sleep(0.02)
                assert done, "every node gets a subnet"
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await manager.client.close()
        cidrs = [n["spec"]["podCIDR"] for n in nodes]
        assert len(cidrs) == 6 and len(set(cidrs)) == 6
