"""The service health server on loopback: which services get a listener, what it answers, how
listeners follow changes, and the whole ServiceProxy opening one for a real apiserver's Service
(with a recording iptables, so no root is needed)."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import urllib.error
import urllib.request

import pytest

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy import ProxyConfig, ServiceProxy
from kybernetes.proxy.health_server import HealthCheck, ServiceHealthServer, health_checks
from kybernetes.proxy.iptables import IptablesError
from kybernetes.proxy.model import service_ports
from kybernetes.proxy.proxier import Proxier
from kybernetes.testing import TestApiServer, eventually
from tests.proxy.test_proxier_sync import RecordingIptables
from tests.support.ports import free_port, port_is_free

NODE = "node-a"


def lb_service(name: str, hc_port: int, *, policy: str = "Local", svc_type: str = "LoadBalancer") -> dict:
    spec = {"type": svc_type, "clusterIP": "10.43.0.5", "externalTrafficPolicy": policy,
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "tls", "port": 443, "nodePort": 30443}]}
    if hc_port:
        spec["healthCheckNodePort"] = hc_port
    return {"metadata": {"namespace": "ns", "name": name}, "spec": spec}


def endpoint_slice(service: str, endpoints: list[tuple[str, str, bool]]) -> dict:
    return {"metadata": {"namespace": "ns", "name": f"{service}-x", "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "tls", "port": 8443, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": node, "conditions": {"ready": ready}}
                          for ip, node, ready in endpoints]}


def get(port: int) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


async def aget(port: int) -> tuple[int, dict, dict]:
    return await asyncio.to_thread(get, port)


def test_health_checks_count_this_nodes_ready_endpoints_once_per_address():
    services = {"ns/web": lb_service("web", 31000), "ns/plain": lb_service("plain", 0),
                "ns/cluster": lb_service("cluster", 31001, policy="Cluster"),
                "ns/np": lb_service("np", 31002, svc_type="NodePort")}
    slices = {"ns/web": {"web-x": endpoint_slice("web", [("10.42.0.1", NODE, True), ("10.42.0.2", NODE, False),
                                                         ("10.42.1.1", "node-b", True)])}}
    ports = {key: service_ports(obj) for key, obj in services.items()}
    checks = health_checks(ports, slices, NODE)
    # Only LoadBalancer + Local services carry a health check (what the apiserver allocates for).
    assert checks == {"ns/web": HealthCheck("ns", "web", 31000, 1)}
    assert health_checks(ports, {}, NODE)["ns/web"].local_endpoints == 0


async def test_the_proxier_reports_its_health_checks_and_whether_its_last_sync_worked():
    class FailingIptables(RecordingIptables):
        fail = False

        async def restore(self, lines):
            if self.fail:
                raise IptablesError("iptables-restore: exit 1")
            await super().restore(lines)

    ipt = FailingIptables()
    p = Proxier(ipt, ProxyConfig(node_name=NODE, localhost_nodeports=False))
    p.conntrack.binary = None
    p.on_service(lb_service("web", 31000))
    p.on_slice(endpoint_slice("web", [("10.42.0.1", NODE, True), ("10.42.1.1", "node-b", True)]))
    p.services_synced = p.slices_synced = True
    await p.sync()
    assert p.healthy and p.health_checks() == {"ns/web": HealthCheck("ns", "web", 31000, 1)}
    ipt.fail = True
    p.on_service_delete(lb_service("web", 31000))
    await p.sync()
    assert not p.healthy
    ipt.fail = False
    await p.sync()
    assert p.healthy and p.health_checks() == {}


async def test_answers_200_with_local_endpoints_and_503_without_or_when_the_proxy_is_unhealthy():
    healthy = True
    server = ServiceHealthServer("127.0.0.1", healthy=lambda: healthy)
    port = free_port()
    try:
        await server.sync({"ns/web": HealthCheck("ns", "web", port, 2)})
        status, body, headers = await aget(port)
        assert status == 200
        assert body == {"service": {"namespace": "ns", "name": "web"}, "localEndpoints": 2,
                        "serviceProxyHealthy": True}
        assert headers["Content-Type"].startswith("application/json")
        assert headers["X-Load-Balancing-Endpoint-Weight"] == "2"

        await server.sync({"ns/web": HealthCheck("ns", "web", port, 0)})
        status, body, _ = await aget(port)
        assert (status, body["localEndpoints"]) == (503, 0)

        await server.sync({"ns/web": HealthCheck("ns", "web", port, 1)})
        healthy = False
        status, body, _ = await aget(port)
        assert (status, body["serviceProxyHealthy"]) == (503, False)
    finally:
        await server.close()


async def test_listeners_follow_port_changes_and_removal():
    server = ServiceHealthServer("127.0.0.1")
    first, second = free_port(), free_port()
    try:
        await server.sync({"ns/web": HealthCheck("ns", "web", first, 1)})
        assert (await aget(first))[0] == 200
        await server.sync({"ns/web": HealthCheck("ns", "web", second, 1)})
        assert server.ports == {"ns/web": second}
        assert (await aget(second))[0] == 200
        with pytest.raises(OSError):
            await aget(first)
        await server.sync({})
        assert server.ports == {}
        with pytest.raises(OSError):
            await aget(second)
    finally:
        await server.close()


async def test_a_port_in_use_is_skipped_and_taken_at_a_later_sync():
    server = ServiceHealthServer("127.0.0.1")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port, other = busy.getsockname()[1], free_port()
    checks = {"ns/a": HealthCheck("ns", "a", port, 1), "ns/b": HealthCheck("ns", "b", other, 1)}
    try:
        await server.sync(checks)
        assert server.ports == {"ns/b": other}
        busy.close()
        await server.sync(checks)
        assert server.ports == {"ns/a": port, "ns/b": other}
        assert (await aget(port))[1]["service"] == {"namespace": "ns", "name": "a"}
    finally:
        busy.close()
        await server.close()


async def test_the_service_proxy_serves_a_load_balancers_health_check_node_port(tmp_path):
    start = random.randint(30000, 32000)
    port = next(p for p in range(start, 32767) if port_is_free(p))  # a node port the apiserver accepts
    async with TestApiServer() as srv, srv.client() as client:
        config = ProxyConfig(node_name=NODE, node_ip="127.0.0.1", min_sync_period=0.0, localhost_nodeports=False)
        proxier = Proxier(RecordingIptables(), config, proc_sys=tmp_path)
        proxier.conntrack.binary = None
        async with ServiceProxy(client, config, proxier=proxier) as proxy:
            svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": port,
                            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
            created = await client.create(SERVICES, svc, "default")
            assert created["spec"]["healthCheckNodePort"] == port
            await eventually(lambda: proxy.health.ports == {"default/web": port}, timeout=5, what="a listener")
            assert (await aget(port))[:2] == (503, {"service": {"namespace": "default", "name": "web"},
                                                    "localEndpoints": 0, "serviceProxyHealthy": True})
            eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                   "metadata": {"name": "web-abc", "namespace": "default",
                                "labels": {"kubernetes.io/service-name": "web"}},
                   "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                   "endpoints": [{"addresses": ["10.42.0.7"], "nodeName": NODE, "conditions": {"ready": True}}]}
            await client.create(ENDPOINTSLICES, eps, "default")

            async def healthy() -> bool:
                return (await aget(port))[0] == 200

            await eventually(healthy, timeout=5, what="200 once the node has a ready endpoint")
            await client.delete(SERVICES, "web", "default")
            await eventually(lambda: proxy.health.ports == {}, timeout=5, what="the listener closed")
        with pytest.raises(OSError):
            await aget(port)
