"""Service load balancer: LoadBalancer Services get the Ready nodes' InternalIPs as ingress."""

from __future__ import annotations

from kybernetes.client.resource import NODES, SERVICES
from kybernetes.controllers.registry import CONTROLLERS
from kybernetes.controllers.servicelb import ServiceLoadBalancerController, wanted_ingress
from kybernetes.testing.waiting import eventually
from tests.controllers.harness import running_controller


def controller_for(client, *, run=True):
    return running_controller(client, ServiceLoadBalancerController, run=run)


def node(name: str, ip: str, ready: bool = True) -> dict:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}


def lb(name: str = "web", **spec) -> dict:
    return {"metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}], **spec}}




def test_wanted_ingress_is_ready_nodes_internal_ips_sorted():
    nodes = [node("b", "10.0.0.9"), node("a", "10.0.0.10"), node("down", "10.0.0.5", ready=False)]
    assert wanted_ingress(lb(), nodes) == [{"ip": "10.0.0.9", "ipMode": "VIP"}, {"ip": "10.0.0.10", "ipMode": "VIP"}]
    assert wanted_ingress(lb(loadBalancerClass="example.com/lb"), nodes) == []
    assert wanted_ingress({"spec": {"type": "NodePort"}}, nodes) == []
    assert CONTROLLERS["service-lb"] is ServiceLoadBalancerController


async def test_reconcile_sets_then_leaves_alone(client):
    await client.create(NODES, node("n1", "192.0.2.1"))
    await client.create(SERVICES, lb(), "default")
    async with controller_for(client, run=False) as controller:
        client.clear()
        await controller.reconcile("default/web")
        assert [(a.verb, a.resource) for a in client.actions] == [("update", "services/status")]
        svc = await client.get(SERVICES, "web", "default")
        assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1", "ipMode": "VIP"}]
        controller.services.indexer.upsert(svc)
        client.clear()
        await controller.reconcile("default/web")
        assert client.actions == []
        await controller.reconcile("default/missing")  # gone: nothing to do
        assert client.actions == []


async def test_follows_nodes_and_type_changes(client):
    await client.create(NODES, node("n1", "192.0.2.1"))
    await client.create(SERVICES, lb(), "default")
    await client.create(SERVICES, {"metadata": {"name": "plain"}, "spec": {"ports": [{"port": 80}]}}, "default")
    async with controller_for(client):
        async def ingress() -> list:
            svc = await client.get(SERVICES, "web", "default")
            return [i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]

        async def one():
            return await ingress() == ["192.0.2.1"]
        await eventually(one)
        await client.create(NODES, node("n2", "192.0.2.2"))

        async def two():
            return await ingress() == ["192.0.2.1", "192.0.2.2"]
        await eventually(two)
        n1 = await client.get(NODES, "n1")
        n1["status"]["conditions"][0]["status"] = "False"
        await client.update_status(NODES, n1)

        async def only_n2():
            return await ingress() == ["192.0.2.2"]
        await eventually(only_n2)
        await client.patch(SERVICES, "web", {"spec": {"type": "ClusterIP"}}, "default")

        async def cleared():
            svc = await client.get(SERVICES, "web", "default")
            return (svc.get("status") or {}).get("loadBalancer") in ({}, None)
        await eventually(cleared)
        plain = await client.get(SERVICES, "plain", "default")
        assert not (plain.get("status") or {}).get("loadBalancer")
