"""Endpoints: subsets from selected pods (ready / not ready, named ports, hostnames), packing,
truncation, selector-less Services left alone, and the controller end to end."""

from __future__ import annotations

import asyncio
import contextlib

from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import ENDPOINTS, PODS, SERVICES
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.endpoints import EndpointsController
from kybernetes.controllers.endpoints_pods import find_port
from kybernetes.controllers.endpoints_subsets import repack, truncate
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"


def pod(name, ip, *, ready=True, labels=None, ports=None, node="n1", **spec):
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "ports": ports or []}], **spec},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def service(name="web", selector=None, ports=None, **spec):
    return {"metadata": {"name": name, "namespace": NS, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"} if selector is None else selector,
                     "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "http",
                                                               "protocol": "TCP"}], **spec}}


# -- pure pieces ---------------------------------------------------------------------------------------

def test_find_port_by_number_and_name():
    p = pod("a", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080},
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert find_port(p, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 80, "targetPort": "http"}) == 8080
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None
    sidecar = {"spec": {"initContainers": [{"name": "s", "restartPolicy": "Always",
                                            "ports": [{"name": "metrics", "containerPort": 9100}]}]}}
    assert find_port(sidecar, {"port": 1, "targetPort": "metrics"}) == 9100


def test_repack_groups_addresses_by_port_set_and_ready_wins():
    a = {"ip": "10.0.0.2", "targetRef": {"uid": "a"}}
    b = {"ip": "10.0.0.1", "targetRef": {"uid": "b"}}
    http, https = {"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443, "protocol": "TCP"}
    subsets = repack([{"addresses": [a], "ports": [http]}, {"addresses": [a], "ports": [https]},
                      {"addresses": [b], "ports": [http]}, {"addresses": [b], "ports": [https]},
                      {"notReadyAddresses": [b], "ports": [http]}])
    assert subsets == [{"addresses": [b, a], "ports": [http, https]}]


def test_truncate_keeps_each_subsets_share():
    def addrs(n, base):
        return [{"ip": f"10.{base}.{i // 250}.{i % 250}"} for i in range(n)]
    subsets = [{"addresses": addrs(900, 1)}, {"addresses": addrs(300, 2), "notReadyAddresses": addrs(5, 3)}]
    assert truncate(subsets) is True
    assert [len(s.get("addresses") or []) for s in subsets] == [750, 250]
    assert "notReadyAddresses" not in subsets[1]
    small = [{"addresses": addrs(3, 1)}]
    assert truncate(small) is False


# -- reconcile steps -----------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def controller(client, **options):
    informers = SharedInformerFactory(client)
    ctl = EndpointsController(ControllerContext(client, informers, clock=FakeClock(), options=options))
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    try:
        yield ctl
    finally:
        await informers.shutdown()


async def seed(ctl, client, svc, pods):
    """The Service through the API (it needs a uid and a clusterIP); the pods straight into the cache."""
    created = await client.create(SERVICES, svc, NS)
    await eventually(lambda: ctl.services.get(f"{NS}/{svc['metadata']['name']}") is not None, what="service cached")
    for p in pods:
        ctl.pods.indexer.upsert(p)
    client.clear()
    return created


async def test_ready_and_not_ready_pods_named_ports_and_hostnames(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service(), [
            pod("a", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080}], hostname="a", subdomain="web"),
            pod("b", "10.0.0.2", ports=[{"name": "http", "containerPort": 8080}], ready=False),
            pod("c", "10.0.0.3", ports=[{"name": "http", "containerPort": 9090}]),
            pod("d", "10.0.0.4", ports=[{"name": "other", "containerPort": 1}]),  # no "http": left out
            pod("other", "10.0.0.9", labels={"app": "db"}, ports=[{"name": "http", "containerPort": 1}])])
        await ctl.reconcile(f"{NS}/web")
        assert [(a.verb, a.resource, a.name) for a in client.actions] == [("create", "endpoints", "web")]
        ep = await client.get(ENDPOINTS, "web", NS)
        assert ep["metadata"]["labels"] == {"tier": "front", "endpoints.kubernetes.io/managed-by": "endpoint-controller"}
        assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
        port_8080 = [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert ep["subsets"] == [
            {"addresses": [{"ip": "10.0.0.1", "hostname": "a", "nodeName": "n1",
                            "targetRef": {"kind": "Pod", "namespace": NS, "name": "a", "uid": "uid-a"}}],
             "notReadyAddresses": [{"ip": "10.0.0.2", "nodeName": "n1",
                                    "targetRef": {"kind": "Pod", "namespace": NS, "name": "b", "uid": "uid-b"}}],
             "ports": port_8080},
            {"addresses": [{"ip": "10.0.0.3", "nodeName": "n1",
                            "targetRef": {"kind": "Pod", "namespace": NS, "name": "c", "uid": "uid-c"}}],
             "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]}]
        await eventually(lambda: ctl.endpoints.get(f"{NS}/web") is not None, what="endpoints cached")
        client.clear()
        await ctl.reconcile(f"{NS}/web")
        assert client.actions == []  # nothing changed: nothing written


async def test_publish_not_ready_terminating_and_finished_pods(client):
    terminating = pod("t", "10.0.0.5")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    finished = pod("f", "10.0.0.6")
    finished["status"]["phase"] = "Succeeded"
    no_ip = pod("n", "10.0.0.7")
    no_ip["status"].pop("podIP"), no_ip["status"].pop("podIPs")
    pods = [pod("u", "10.0.0.8", ready=False), terminating, finished, no_ip]
    async with controller(client) as ctl:
        await seed(ctl, client, service(ports=[{"port": 80, "protocol": "TCP", "appProtocol": "http"}]), pods)
        await seed(ctl, client, service("pub", ports=[{"port": 80}], publishNotReadyAddresses=True), [])
        await ctl.reconcile(f"{NS}/web")
        await ctl.reconcile(f"{NS}/pub")
        web = await client.get(ENDPOINTS, "web", NS)
        assert [a["ip"] for a in web["subsets"][0]["notReadyAddresses"]] == ["10.0.0.8"]
        assert "addresses" not in web["subsets"][0]
        assert web["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP", "appProtocol": "http"}]
        pub = await client.get(ENDPOINTS, "pub", NS)
        assert [a["ip"] for a in pub["subsets"][0]["addresses"]] == ["10.0.0.5", "10.0.0.8"]


async def test_selectorless_services_are_the_users_and_deleted_services_lose_endpoints(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service("manual", selector={}), [pod("a", "10.0.0.1")])
        await client.create(ENDPOINTS, {"metadata": {"name": "manual", "namespace": NS},
                                        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})
        client.clear()
        await ctl.reconcile(f"{NS}/manual")
        await client.create(ENDPOINTS, {"metadata": {"name": "orphan", "namespace": NS},
                                        "subsets": [{"addresses": [{"ip": "192.0.2.2"}], "ports": [{"port": 80}]}]})
        await eventually(lambda: ctl.endpoints.get(f"{NS}/orphan") is not None, what="orphan cached")
        client.clear()
        await ctl.reconcile(f"{NS}/orphan")  # no Service, but not ours either: kept
        assert client.actions == []
        assert (await client.get(ENDPOINTS, "manual", NS))["subsets"][0]["addresses"][0]["ip"] == "192.0.2.1"
        await seed(ctl, client, service("gone", ports=[{"port": 80}]), [pod("b", "10.0.0.2")])
        await ctl.reconcile(f"{NS}/gone")
        assert await client.get_or_none(ENDPOINTS, "gone", NS) is not None
        await client.delete(SERVICES, "gone", NS)
        await eventually(lambda: ctl.services.get(f"{NS}/gone") is None
                         and ctl.endpoints.get(f"{NS}/gone") is not None, what="service deletion seen")
        await ctl.reconcile(f"{NS}/gone")
        assert await client.get_or_none(ENDPOINTS, "gone", NS) is None


async def test_headless_service_label(client):
    async with controller(client) as ctl:
        await seed(ctl, client, service("hl", ports=[], clusterIP="None"), [pod("a", "10.0.0.1")])
        await ctl.reconcile(f"{NS}/hl")
        ep = await client.get(ENDPOINTS, "hl", NS)
        assert ep["metadata"]["labels"] == {"tier": "front", "service.kubernetes.io/headless": "",
                                            "endpoints.kubernetes.io/managed-by": "endpoint-controller"}
        assert ep["subsets"] == [{"addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {
            "kind": "Pod", "namespace": NS, "name": "a", "uid": "uid-a"}}]}]


# -- end to end ----------------------------------------------------------------------------------------

async def test_endpoints_follow_pod_readiness_and_deletion():
    async with TestApiServer() as srv, srv.client() as client:
        manager = ControllerManager(srv.client(), {"endpoint": EndpointsController}, leader_elect=False)
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            await client.create(SERVICES, service(ports=[{"name": "http", "port": 80, "targetPort": 8080}]), NS)
            for name, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2")):
                p = pod(name, ip)
                for key in ("uid",):
                    p["metadata"].pop(key)
                created = await client.create(PODS, {"metadata": p["metadata"], "spec": p["spec"]}, NS)
                await client.patch(PODS, created["metadata"]["name"], {"status": p["status"]}, NS, subresource="status")

            async def addresses():
                ep = await client.get_or_none(ENDPOINTS, "web", NS)
                subsets = (ep or {}).get("subsets") or []
                return ([a["ip"] for s in subsets for a in s.get("addresses") or []],
                        [a["ip"] for s in subsets for a in s.get("notReadyAddresses") or []])

            await poll(addresses, (["10.0.0.1", "10.0.0.2"], []))
            await client.patch(PODS, "b", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
                               NS, subresource="status", patch_type="strategic")
            await poll(addresses, (["10.0.0.1"], ["10.0.0.2"]))
            await client.delete(PODS, "a", NS, grace_period_seconds=0)
            await poll(addresses, ([], ["10.0.0.2"]))
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
