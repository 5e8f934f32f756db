"""A test apiserver plus a ServiceProxy of either mode on the test network, for the real-traffic
tests (test_proxy_real.py: iptables, test_nft_real.py: nftables); and the checks both run alike.

Each test gets its own apiserver and proxy with a chain prefix of its own; ``proxied_cluster``
stops both and runs the mode's cleanup even when the test (or the start) fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy import ProxyConfig, ServiceProxy
from kybernetes.testing import TestApiServer
from tests.proxy.netlab import CLIENT, NetLab


class RangedApiServer(TestApiServer):
    """The test apiserver, allocating cluster IPs from the lab's service CIDR."""

    def __init__(self, service_cidr: str):
        super().__init__()
        self.service_cidr = service_cidr

    def _config(self):
        return dataclasses.replace(super()._config(), service_cluster_ip_range=self.service_cidr)


@dataclasses.dataclass
class Cluster:
    lab: NetLab
    client: object
    proxy: ServiceProxy
    prefix: str

    async def service(self, name: str, ip_host: int, **spec) -> dict:
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {"clusterIP": self.lab.service_ip(ip_host), "ports": [{"name": "http", "port": 80,
                                                                              "targetPort": 8080}], **spec}}
        return await self.client.create(SERVICES, body, "default")

    async def slice(self, service: str, pods: list[int], *, ready: dict[int, dict] | None = None) -> dict:
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"{service}-abc", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": service,
                                        "endpointslice.kubernetes.io/managed-by": "tests"}},
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [self.lab.pod_ip(i)], "nodeName": "node-a",
                               "conditions": (ready or {}).get(i, {"ready": True})} for i in pods]}
        return await self.client.create(ENDPOINTSLICES, body, "default")

    async def programmed(self, since: float, timeout: float = 10.0) -> None:
        """Wait for a sync that started after ``since`` (monotonic) to finish."""
        done = asyncio.Event()

        def listener(pending, finished):
            if any(at >= since for at in pending.values()):
                done.set()

        self.proxy.proxier.listeners.append(listener)
        try:
            await asyncio.wait_for(done.wait(), timeout)
        finally:
            self.proxy.proxier.listeners.remove(listener)

    async def host_get(self, host: str, port: int, count: int) -> list[str]:
        out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", CLIENT, host, str(port), str(count)],
                                      capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout)

    async def netns_get(self, netns: str, host: str, port: int, count: int) -> list[str]:
        return await asyncio.to_thread(self.lab.get_from, netns, host, port, count)


@contextlib.asynccontextmanager
async def proxied_cluster(lab: NetLab, prefix: str, proxy_args: Callable[[ProxyConfig], dict[str, Any]],
                          cleanup: Callable[[], Awaitable[None]]) -> AsyncIterator[Cluster]:
    """An apiserver and a started ServiceProxy (``proxy_args(config)``: its mode's keyword arguments);
    on the way out both stopped and ``cleanup()`` awaited, whatever happened."""
    srv = RangedApiServer(lab.service_cidr)
    await srv.start()
    proxy = None
    try:
        client = srv.client()
        config = ProxyConfig(node_name="node-a", cluster_cidr=lab.cluster_cidr, min_sync_period=0.0,
                             sync_period=5.0, chain_prefix=prefix, masquerade_bit=13,
                             route_localnet_sysctls=(f"net/ipv4/conf/{lab.bridge}/route_localnet",))
        proxy = ServiceProxy(client, config, **proxy_args(config))
        proxy.start()
        yield Cluster(lab, client, proxy, prefix)
    finally:
        if proxy is not None:
            await proxy.stop()
        await srv.stop()
        await cleanup()


async def check_session_affinity_pins_one_backend(cluster: Cluster, ip_host: int) -> None:
    since = time.monotonic()
    svc = await cluster.service("sticky", ip_host, sessionAffinity="ClientIP",
                                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    await cluster.slice("sticky", [0, 1, 2])
    await cluster.programmed(since)
    answers = await cluster.netns_get(cluster.lab.client, svc["spec"]["clusterIP"], 80, 15)
    assert len(set(answers)) == 1 and answers[0].startswith(f"kp-{cluster.lab.suffix}-pod"), answers


async def check_node_port_on_the_hosts_addresses_and_localhost(cluster: Cluster, ip_host: int) -> dict:
    """A NodePort service reached at the bridge address (a host address: dst-type LOCAL) from the host
    and from a pod, and at 127.0.0.1; returns the Service."""
    lab = cluster.lab
    since = time.monotonic()
    await cluster.service("np", ip_host, type="NodePort",
                          ports=[{"name": "http", "port": 80, "targetPort": 8080,
                                  "nodePort": 30000 + secrets.randbelow(2700)}])
    await cluster.slice("np", [1, 2])
    svc = await cluster.client.get(SERVICES, "np", "default")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await cluster.programmed(since)
    backends = {lab.pod_name(1), lab.pod_name(2)}
    assert set(await cluster.host_get(lab.gateway, node_port, 20)) == backends
    assert set(await cluster.netns_get(lab.client, lab.gateway, node_port, 20)) == backends
    assert set(await cluster.host_get("127.0.0.1", node_port, 10)) <= backends
    return svc


async def check_cluster_ip_balances_from_host_and_pod_with_hairpin(cluster: Cluster, ip_host: int) -> None:
    """Three ready endpoints: the host and a pod reach every one through the cluster IP, and a pod
    reaching itself through its Service is masqueraded so the reply comes back."""
    lab = cluster.lab
    since = time.monotonic()
    svc = await cluster.service("web", ip_host)
    await cluster.slice("web", [0, 1, 2])
    await cluster.programmed(since)
    ip = svc["spec"]["clusterIP"]
    pods = {lab.pod_name(i) for i in range(3)}
    from_host = await cluster.host_get(ip, 80, 30)
    assert set(from_host) == pods, from_host
    from_pod = await cluster.netns_get(lab.client, ip, 80, 30)
    assert set(from_pod) == pods, from_pod
    from_backend = await cluster.netns_get(lab.pod_name(0), ip, 80, 25)
    assert set(from_backend) <= pods and lab.pod_name(0) in from_backend, from_backend
