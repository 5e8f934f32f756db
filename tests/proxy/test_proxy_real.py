"""The proxier against the real kernel: network namespaces as pods, real HTTP, real iptables.

One test network (netlab.py) for the module; each test runs its own apiserver and proxier with a
chain prefix of its own, and removes its chains in ``finally`` (then checks iptables-save holds
none of them). Traffic goes only to the namespaces made here and to the host's own addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import subprocess
import sys
import time

import pytest

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy import ProxyConfig, ServiceProxy, cleanup
from kybernetes.proxy.iptables import Iptables
from kybernetes.proxy.names import ChainNames
from kybernetes.testing import TestApiServer, eventually
from tests.proxy.netlab import CLIENT, NetLab, is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root: network namespaces and iptables")


@pytest.fixture(scope="module")
def lab():
    net = NetLab()
    net.open()
    try:
        yield net
    finally:
        net.close()


class RangedApiServer(TestApiServer):
    """The test apiserver, allocating cluster IPs from the lab's service CIDR."""

    def __init__(self, service_cidr: str):
        super().__init__()
        self.service_cidr = service_cidr

    def _config(self):
        return dataclasses.replace(super()._config(), service_cluster_ip_range=self.service_cidr)


def our_lines(prefix: str) -> list[str]:
    lines = []
    for table in ("filter", "nat"):
        out = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        lines += [line for line in out.splitlines() if f"{prefix}-" in line]
    return lines


@pytest.fixture
async def cluster(lab):
    prefix = "KT" + secrets.token_hex(2).upper()
    iptables = Iptables()
    srv = RangedApiServer(lab.service_cidr)
    await srv.start()
    proxy = None
    try:
        client = srv.client()
        config = ProxyConfig(node_name="node-a", cluster_cidr=lab.cluster_cidr, min_sync_period=0.0,
                             sync_period=5.0, chain_prefix=prefix, masquerade_bit=13,
                             route_localnet_sysctls=(f"net/ipv4/conf/{lab.bridge}/route_localnet",))
        proxy = ServiceProxy(client, config, iptables=iptables)
        proxy.start()
        yield Cluster(lab, client, proxy, prefix)
    finally:
        if proxy is not None:
            await proxy.stop()
        await srv.stop()
        await cleanup(iptables, prefix)
        assert our_lines(prefix) == [], "cleanup left chains or rules behind"


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


async def test_cluster_ip_balances_over_all_endpoints_from_host_and_pod(cluster: Cluster):
    lab = cluster.lab
    since = time.monotonic()
    svc = await cluster.service("web", 10)
    await cluster.slice("web", [0, 1, 2])
    await cluster.programmed(since)
    ip = svc["spec"]["clusterIP"]
    pods = {lab.pod_name(i) for i in range(3)}
    from_host = await cluster.host_get(ip, 80, 30)
    assert set(from_host) == pods, from_host
    from_pod = await cluster.netns_get(lab.client, ip, 80, 30)
    assert set(from_pod) == pods, from_pod
    # hairpin: a pod reaching itself through its service (masqueraded so the reply comes back)
    from_backend = await cluster.netns_get(lab.pod_name(0), ip, 80, 25)
    assert set(from_backend) <= pods and lab.pod_name(0) in from_backend, from_backend


async def test_endpoint_removal_no_endpoints_reject_and_restore(cluster: Cluster):
    lab = cluster.lab
    since = time.monotonic()
    svc = await cluster.service("web2", 11)
    endpoint_slice = await cluster.slice("web2", [0, 1])
    await cluster.programmed(since)
    ip = svc["spec"]["clusterIP"]
    assert set(await cluster.host_get(ip, 80, 20)) == {lab.pod_name(0), lab.pod_name(1)}

    since = time.monotonic()
    endpoint_slice["endpoints"] = endpoint_slice["endpoints"][:1]
    endpoint_slice = await cluster.client.update(ENDPOINTSLICES, endpoint_slice, "default")
    await cluster.programmed(since)
    assert set(await cluster.netns_get(lab.client, ip, 80, 20)) == {lab.pod_name(0)}

    # not ready: gone from the rules; nothing left -> REJECT, i.e. connection refused at once
    since = time.monotonic()
    endpoint_slice["endpoints"][0]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    endpoint_slice = await cluster.client.update(ENDPOINTSLICES, endpoint_slice, "default")
    await cluster.programmed(since)
    assert await cluster.host_get(ip, 80, 3) == ["refused"] * 3
    assert await cluster.netns_get(lab.client, ip, 80, 3) == ["refused"] * 3

    # terminating but still serving: used, because no endpoint is ready
    since = time.monotonic()
    endpoint_slice["endpoints"][0]["conditions"] = {"ready": False, "serving": True, "terminating": True}
    await cluster.client.update(ENDPOINTSLICES, endpoint_slice, "default")
    await cluster.programmed(since)
    assert await cluster.host_get(ip, 80, 3) == [lab.pod_name(0)] * 3


async def test_session_affinity_pins_one_backend(cluster: Cluster):
    since = time.monotonic()
    svc = await cluster.service("sticky", 12, sessionAffinity="ClientIP",
                                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    await cluster.slice("sticky", [0, 1, 2])
    await cluster.programmed(since)
    answers = await cluster.netns_get(cluster.lab.client, svc["spec"]["clusterIP"], 80, 15)
    assert len(set(answers)) == 1 and answers[0].startswith(f"kp-{cluster.lab.suffix}-pod"), answers


async def test_node_port_on_the_hosts_addresses_and_localhost(cluster: Cluster):
    lab = cluster.lab
    since = time.monotonic()
    node_port = 30000 + secrets.randbelow(2700)
    await cluster.service("np", 13, type="NodePort",
                          ports=[{"name": "http", "port": 80, "targetPort": 8080, "nodePort": node_port}])
    await cluster.slice("np", [1, 2])
    svc = await cluster.client.get(SERVICES, "np", "default")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await cluster.programmed(since)
    backends = {lab.pod_name(1), lab.pod_name(2)}
    # the bridge address is one of this host's addresses: dst-type LOCAL
    assert set(await cluster.host_get(lab.gateway, node_port, 20)) == backends
    assert set(await cluster.netns_get(lab.client, lab.gateway, node_port, 20)) == backends
    assert set(await cluster.host_get("127.0.0.1", node_port, 10)) <= backends
    # the cluster IP still works as well
    assert set(await cluster.host_get(svc["spec"]["clusterIP"], 80, 10)) <= backends


async def test_partial_sync_rewrites_only_what_changed_and_deleting_services_leaves_nothing(cluster: Cluster):
    proxier = cluster.proxy.proxier
    since = time.monotonic()
    await cluster.service("a", 20)
    await cluster.slice("a", [0])
    await cluster.service("b", 21)
    await cluster.slice("b", [1])
    await cluster.programmed(since)
    await eventually(lambda: proxier.full_syncs >= 1, what="first full sync")
    full_before = proxier.full_syncs
    since = time.monotonic()
    await cluster.client.delete(SERVICES, "a", "default")
    await cluster.programmed(since)
    assert proxier.full_syncs == full_before  # a partial sync did it
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    assert "default/a:http" not in nat and "default/b:http" in nat
    since = time.monotonic()
    await cluster.client.delete(SERVICES, "b", "default")
    await cluster.programmed(since)
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    names = ChainNames(cluster.prefix)
    ours = {names.svc(names.service_hash(f"default/{svc}:http", "tcp")) for svc in "ab"}
    ours |= {names.sep(f"default/{svc}:http", "tcp", f"{cluster.lab.pod_ip(i)}:8080") for svc, i in (("a", 0), ("b", 1))}
    leftover = [line for line in nat.splitlines() if any(chain in line for chain in ours) or "default/b:" in line]
    assert leftover == [], "\n".join(leftover)
