"""Service cluster IPs and node ports, allocated by the apiserver, against a real app over HTTP.

Each test runs build_app on a private store (in-memory, or a SQLite file for restarts) on
127.0.0.1 with a free port, and speaks the REST API to it as kubectl would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import tempfile
from pathlib import Path

import orjson
import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.server import ApiServerConfig, build_app
from kybernetes.apiserver.service_alloc_records import NODE_PORT_PREFIX
from kybernetes.apiserver.service_alloc_setup import SERVICE_ALLOCATION_KEY, serving_on
from kybernetes.store import open_store
from tests.apiserver.conftest import ApiClient

SVC = "/api/v1/namespaces/default/services"
IPS = "/apis/networking.k8s.io/v1/ipaddresses"


@contextlib.asynccontextmanager
async def serve(store_url: str = "sqlite://:memory:", **config):
    with tempfile.TemporaryDirectory(prefix="kyb-svcalloc-") as tmp:
        store = await open_store(store_url.replace("TMP", tmp))
        try:
            cfg = ApiServerConfig(data_dir=Path(tmp), bind_address="127.0.0.1", port=0, anonymous_admin=True,
                                  **config)
            app = build_app(cfg, store, builtin_registry())
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            try:
                async with ClientSession(timeout=ClientTimeout(total=60)) as session:
                    yield ApiClient(server, session, store, app)
            finally:
                await server.close()
        finally:
            await store.close()


def service(name: str, kind: str = "ClusterIP", ports=None, **spec) -> dict:
    ports = ports if ports is not None else [{"port": 80, "targetPort": 8080}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": name}, "ports": ports, **spec}}


async def create(api: ApiClient, body: dict, expect: int = 201, ns: str = "default") -> dict:
    status, out = await api.post(f"/api/v1/namespaces/{ns}/services", json=body)
    assert status == expect, out
    return out


async def ip_owner(api: ApiClient, ip: str):
    status, out = await api.get(f"{IPS}/{ip}")
    return out["spec"]["parentRef"] if status == 200 else None


async def port_taken(api: ApiClient, port: int) -> bool:
    return await api.store.get(f"{NODE_PORT_PREFIX}{port}") is not None


async def test_cluster_ip_from_the_service_cidr_with_an_ipaddress_object():
    async with serve() as api:
        svc = await create(api, service("web"))
        spec = svc["spec"]
        ip = ipaddress.ip_address(spec["clusterIP"])
        assert ip in ipaddress.ip_network("10.43.0.0/16") and str(ip) != "10.43.0.1"
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
        # dynamic addresses come from above the static band (10.43.0.0 - 10.43.0.255)
        assert int(ip) - int(ipaddress.ip_address("10.43.0.0")) > 256
        assert await ip_owner(api, spec["clusterIP"]) == {"group": "", "resource": "services",
                                                          "namespace": "default", "name": "web"}
        status, got = await api.get(f"{SVC}/web")
        assert got["spec"]["clusterIP"] == spec["clusterIP"]


async def test_configured_range_is_used():
    async with serve(service_cluster_ip_range="10.96.0.0/24", service_node_port_range="31000-31010") as api:
        svc = await create(api, service("web", "NodePort"))
        assert ipaddress.ip_address(svc["spec"]["clusterIP"]) in ipaddress.ip_network("10.96.0.0/24")
        assert 31000 <= svc["spec"]["ports"][0]["nodePort"] <= 31010


async def test_requested_ip_is_honoured_and_conflicts_refused():
    async with serve() as api:
        svc = await create(api, service("dns", clusterIP="10.43.0.10"))
        assert svc["spec"]["clusterIPs"] == ["10.43.0.10"]
        out = await create(api, service("dup", clusterIP="10.43.0.10"), expect=422)
        assert out["reason"] == "Invalid"
        assert out["message"] == ('Service "dup" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.10"}: '
                                  'failed to allocate IP 10.43.0.10: provided IP is already allocated')
        out = await create(api, service("far", clusterIP="10.99.0.5"), expect=422)
        assert "failed to allocate IP 10.99.0.5: the provided IP (10.99.0.5) is not in the valid range. " \
               "The range of valid IPs is 10.43.0.0/16" in out["message"]
        assert (await api.get(f"{SVC}/dup"))[0] == 404


async def test_requested_node_port_is_honoured_and_conflicts_refused():
    async with serve() as api:
        svc = await create(api, service("a", "NodePort", ports=[{"port": 80, "nodePort": 30080}]))
        assert svc["spec"]["ports"][0]["nodePort"] == 30080
        out = await create(api, service("b", "NodePort", ports=[{"port": 81, "nodePort": 30080}]), expect=422)
        assert out["message"] == ('Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
                                  'provided port is already allocated')
        out = await create(api, service("c", "NodePort", ports=[{"port": 80, "nodePort": 29999}]), expect=422)
        assert out["message"].endswith("spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the "
                                       "valid range. The range of valid ports is 30000-32767")
        # the refused creates left nothing behind: b's cluster IP was released with it
        status, ips = await api.get(IPS)
        assert sorted(i["spec"]["parentRef"]["name"] for i in ips["items"]) == ["a"]


async def test_node_ports_per_port_shared_by_protocols():
    async with serve() as api:
        svc = await create(api, service("dns", "NodePort", ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "metrics", "port": 9153, "protocol": "TCP"}]))
        ports = [p["nodePort"] for p in svc["spec"]["ports"]]
        assert ports[0] == ports[1] and ports[2] != ports[0]
        assert all(30000 <= p <= 32767 for p in ports)
        assert await port_taken(api, ports[0]) and await port_taken(api, ports[2])


async def test_same_node_port_twice_for_one_protocol_is_refused():
    async with serve() as api:
        out = await create(api, service("y", "NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30501},
                                                                {"name": "b", "port": 81, "nodePort": 30501}]),
                           expect=422)
        assert out["message"] == 'Service "y" is invalid: spec.ports[1].nodePort: Duplicate value: 30501'
        assert not await port_taken(api, 30501)


async def test_delete_releases_ip_and_ports_at_once():
    async with serve() as api:
        await create(api, service("a", "NodePort", ports=[{"port": 80, "nodePort": 30080}], clusterIP="10.43.0.20"))
        status, _ = await api.delete(f"{SVC}/a")
        assert status == 200
        assert await ip_owner(api, "10.43.0.20") is None and not await port_taken(api, 30080)
        again = await create(api, service("b", "NodePort", ports=[{"port": 80, "nodePort": 30080}],
                                          clusterIP="10.43.0.20"))
        assert again["spec"]["ports"][0]["nodePort"] == 30080
        assert (await ip_owner(api, "10.43.0.20"))["name"] == "b"


async def test_failed_create_releases_what_it_claimed():
    async with serve() as api:
        await create(api, service("a"))
        # the name is taken: the store refuses the write after the IP and port were claimed
        await create(api, service("a", "NodePort", ports=[{"port": 80, "nodePort": 30090}],
                                  clusterIP="10.43.0.30"), expect=409)
        assert await ip_owner(api, "10.43.0.30") is None and not await port_taken(api, 30090)
        await create(api, service("b", "NodePort", ports=[{"port": 80, "nodePort": 30090}], clusterIP="10.43.0.30"))


async def test_headless_and_external_name_get_no_ip():
    async with serve() as api:
        headless = await create(api, service("db", clusterIP="None"))
        assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["clusterIPs"] == ["None"]
        external = await create(api, {"metadata": {"name": "ext"},
                                      "spec": {"type": "ExternalName", "externalName": "example.com"}})
        assert "clusterIP" not in external["spec"]
        selectorless = await create(api, {"metadata": {"name": "hl"}, "spec": {"clusterIP": "None"}})
        assert selectorless["spec"]["ipFamilyPolicy"] == "RequireDualStack"
        assert selectorless["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
        status, ips = await api.get(IPS)
        assert ips["items"] == []


async def test_type_changes_allocate_and_release_node_ports():
    async with serve() as api:
        svc = await create(api, service("web"))
        ip = svc["spec"]["clusterIP"]
        status, svc = await api.patch(f"{SVC}/web", json={"spec": {"type": "NodePort"}})
        assert status == 200, svc
        node_port = svc["spec"]["ports"][0]["nodePort"]
        assert svc["spec"]["clusterIP"] == ip and await port_taken(api, node_port)
        status, svc = await api.patch(f"{SVC}/web", json={"spec": {"type": "ClusterIP"}})
        assert status == 200, svc
        assert "nodePort" not in svc["spec"]["ports"][0] and not await port_taken(api, node_port)
        assert "externalTrafficPolicy" not in svc["spec"]
        # -> ExternalName releases the cluster IP; back to ClusterIP allocates a new one
        status, svc = await api.patch(f"{SVC}/web", json={"spec": {"type": "ExternalName",
                                                                   "externalName": "example.com"}})
        assert status == 200, svc
        assert "clusterIP" not in svc["spec"] and await ip_owner(api, ip) is None
        status, svc = await api.patch(f"{SVC}/web", json={"spec": {"type": "ClusterIP", "externalName": None}})
        assert status == 200, svc
        assert svc["spec"]["clusterIP"] and await ip_owner(api, svc["spec"]["clusterIP"]) is not None


async def test_put_without_allocated_values_keeps_them():
    async with serve() as api:
        svc = await create(api, service("web", "NodePort"))
        body = service("web", "NodePort")
        body["metadata"]["resourceVersion"] = svc["metadata"]["resourceVersion"]
        status, out = await api.put(f"{SVC}/web", json=body)
        assert status == 200, out
        assert out["spec"]["clusterIP"] == svc["spec"]["clusterIP"]
        assert out["spec"]["ports"][0]["nodePort"] == svc["spec"]["ports"][0]["nodePort"]


async def test_load_balancer_local_gets_health_check_node_port():
    async with serve() as api:
        svc = await create(api, service("lb", "LoadBalancer", externalTrafficPolicy="Local"))
        hc = svc["spec"]["healthCheckNodePort"]
        assert 30000 <= hc <= 32767 and hc != svc["spec"]["ports"][0]["nodePort"]
        status, svc = await api.patch(f"{SVC}/lb", json={"spec": {"externalTrafficPolicy": "Cluster"}})
        assert status == 200, svc
        assert "healthCheckNodePort" not in svc["spec"] and not await port_taken(api, hc)
        no_ports = await create(api, service("lb2", "LoadBalancer", allocateLoadBalancerNodePorts=False))
        assert "nodePort" not in no_ports["spec"]["ports"][0]


async def test_dry_run_claims_nothing():
    async with serve() as api:
        status, out = await api.post(f"{SVC}?dryRun=All", json=service("web", "NodePort", clusterIP="10.43.0.40"))
        assert status == 201, out
        assert out["spec"]["ports"][0]["nodePort"]
        assert await ip_owner(api, "10.43.0.40") is None
        await create(api, service("web2", clusterIP="10.43.0.40"))


async def test_concurrent_creates_get_distinct_ips_and_ports():
    async with serve(service_cluster_ip_range="10.43.0.0/23") as api:
        results = await asyncio.gather(*(create(api, service(f"s{i}", "NodePort")) for i in range(200)))
        ips = [r["spec"]["clusterIP"] for r in results]
        ports = [r["spec"]["ports"][0]["nodePort"] for r in results]
        assert len(set(ips)) == 200 and len(set(ports)) == 200
        status, listed = await api.get(IPS)
        assert len(listed["items"]) == 200


async def test_range_full_is_an_internal_error():
    async with serve(service_cluster_ip_range="10.43.0.0/28") as api:  # 14 usable addresses
        for i in range(14):
            await create(api, service(f"s{i}"))
        out = await create(api, service("one-too-many"), expect=500)
        assert out["message"] == "Internal error occurred: failed to allocate a serviceIP: range is full"


async def test_restart_keeps_allocations_and_repairs_records():
    url = "sqlite:///TMP/state.db"
    with tempfile.TemporaryDirectory(prefix="kyb-svcalloc-restart-") as tmp:
        db = url.replace("TMP", tmp)
        async with serve(db) as api:
            first = [await create(api, service(f"s{i}", "NodePort")) for i in range(5)]
            await serving_on(api.app, 6443)
            # lose one record: repair at the next start puts it back
            lost = first[0]["spec"]["clusterIP"]
            await api.store.delete(f"/registry/networking.k8s.io/ipaddresses/{lost}")
            # and leak one: an old record whose Service does not exist is released
            await api.store.create(f"{NODE_PORT_PREFIX}32000", orjson.dumps(
                {"namespace": "default", "name": "gone", "uid": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}))
        async with serve(db) as api:
            assert (await ip_owner(api, lost))["name"] == "s0"
            assert not await port_taken(api, 32000)
            more = await asyncio.gather(*(create(api, service(f"t{i}", "NodePort")) for i in range(20)))
            ips = [s["spec"]["clusterIP"] for s in first + list(more)]
            ports = [s["spec"]["ports"][0]["nodePort"] for s in first + list(more)]
            assert len(set(ips)) == 25 and len(set(ports)) == 25
            out = await create(api, service("dup", clusterIP=lost), expect=422)
            assert "provided IP is already allocated" in out["message"]


async def test_watch_releases_services_removed_elsewhere():
    async with serve() as api:
        svc = await create(api, service("a", "NodePort"))
        port = svc["spec"]["ports"][0]["nodePort"]
        # removed straight from the store (as another apiserver on the same store would)
        await api.store.delete("/registry/core/services/default/a")
        for _ in range(100):
            if not await port_taken(api, port):
                break
            await asyncio.sleep(0.02)
        assert not await port_taken(api, port) and await ip_owner(api, svc["spec"]["clusterIP"]) is None


async def test_namespace_deletion_releases_its_services():
    async with serve() as api:
        status, _ = await api.post("/api/v1/namespaces", json={"metadata": {"name": "team"}})
        assert status == 201
        svc = await create(api, service("a", "NodePort"), ns="team")
        status, _ = await api.delete("/api/v1/namespaces/team")
        assert status == 200
        assert not await port_taken(api, svc["spec"]["ports"][0]["nodePort"])
        assert await ip_owner(api, svc["spec"]["clusterIP"]) is None


async def test_dual_stack():
    async with serve(service_cluster_ip_range="10.43.0.0/16,fd00:43::/112") as api:
        svc = await create(api, service("dual", ipFamilyPolicy="PreferDualStack"))
        fams = svc["spec"]["ipFamilies"]
        assert fams == ["IPv4", "IPv6"] and len(svc["spec"]["clusterIPs"]) == 2
        assert ipaddress.ip_address(svc["spec"]["clusterIPs"][1]) in ipaddress.ip_network("fd00:43::/112")
        v6 = await create(api, service("v6", ipFamilies=["IPv6"]))
        assert ipaddress.ip_address(v6["spec"]["clusterIP"]).version == 6
        asked = await create(api, service("asked", clusterIP="fd00:43::99"))
        assert asked["spec"]["ipFamilies"] == ["IPv6"]
        # back to single stack drops the secondary address
        status, out = await api.patch(f"{SVC}/dual", json={"spec": {"ipFamilyPolicy": "SingleStack"}})
        assert status == 200, out
        assert out["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]] and out["spec"]["ipFamilies"] == ["IPv4"]
        assert await ip_owner(api, svc["spec"]["clusterIPs"][1]) is None
    async with serve() as api:
        out = await create(api, service("dual", ipFamilyPolicy="RequireDualStack"), expect=422)
        assert "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for " \
               "dual-stack services" in out["message"]
        out = await create(api, service("v6", clusterIP="fd00::1"), expect=422)
        assert "IPv6 is not configured on this cluster" in out["message"]


async def test_kubernetes_service_with_endpoints():
    async with serve(advertise_address="192.0.2.10") as api:
        await serving_on(api.app, 6443)
        status, svc = await api.get(f"{SVC}/kubernetes")
        assert status == 200, svc
        assert svc["spec"]["clusterIP"] == "10.43.0.1"
        assert svc["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}]
        assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
        status, ep = await api.get("/api/v1/namespaces/default/endpoints/kubernetes")
        assert ep["subsets"] == [{"addresses": [{"ip": "192.0.2.10"}],
                                  "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
        status, eps = await api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
        assert status == 200, eps
        assert eps["endpoints"][0]["addresses"] == ["192.0.2.10"] and eps["ports"][0]["port"] == 6443
        # deleted: put back by the next reconcile
        await api.delete(f"{SVC}/kubernetes")
        await api.app[SERVICE_ALLOCATION_KEY].kubernetes.reconcile()
        status, svc = await api.get(f"{SVC}/kubernetes")
        assert status == 200 and svc["spec"]["clusterIP"] == "10.43.0.1"


def test_bad_ranges_are_clear_errors():
    from kybernetes.apiserver.service_alloc_ranges import parse_node_port_range, parse_service_cidrs

    for text, words in [("10.43.0.0/33", "not a valid CIDR"), ("10.43.0.1/16", "not a valid CIDR"),
                        ("10.0.0.0/16,10.1.0.0/16", "different IP families"), ("", "empty"),
                        ("10.0.0.0/30", "too small")]:
        with pytest.raises(ValueError, match=words):
            parse_service_cidrs(text)
    for text in ("abc", "32767-30000", "30000-70000"):
        with pytest.raises(ValueError, match="node port range"):
            parse_node_port_range(text)
    assert str(parse_node_port_range("30000+2768")) == "30000-32767"


async def test_run_apiserver_points_the_kubernetes_service_at_its_port():
    from kybernetes.client.resource import ENDPOINTS, SERVICES
    from kybernetes.testing.apiserver import TestApiServer

    async with TestApiServer() as srv:
        client = srv.client()
        port = int(srv.url.rsplit(":", 1)[1])
        svc = await client.get(SERVICES, "kubernetes", "default")
        assert svc["spec"]["ports"][0]["targetPort"] == port and svc["spec"]["clusterIP"] == "10.43.0.1"
        ep = await client.get(ENDPOINTS, "kubernetes", "default")
        assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]  # bound to loopback
        assert ep["subsets"][0]["ports"][0]["port"] == port
