"""The nftables proxier against the real kernel: network namespaces as pods, real HTTP, real nft.

Same test network as test_proxy_real.py (netlab.py); each test runs its own apiserver and
NftProxier with a table of its own (ip kybernetes-proxy-<prefix>), removed in ``finally`` by the
cleanup ``kyb proxy --cleanup`` runs (then checked gone). Run under /tmp/kyb-e2e.lock.
"""

from __future__ import annotations

import secrets
import subprocess
import time

import pytest

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy import cleanup
from kybernetes.proxy.nft_proxier import NftProxier
from kybernetes.proxy.nft_table import table_name
from kybernetes.proxy.nft_tool import find_nft
from kybernetes.testing import eventually
from tests.proxy.netlab import is_root
from tests.proxy.real_cluster import (
    Cluster,
    check_cluster_ip_balances_from_host_and_pod_with_hairpin,
    check_node_port_on_the_hosts_addresses_and_localhost,
    check_session_affinity_pins_one_backend,
    proxied_cluster,
)

pytestmark = [pytest.mark.skipif(not is_root(), reason="needs root: network namespaces and nftables"),
              pytest.mark.skipif(find_nft() is None, reason="nft is not installed (Debian package nftables)")]


def table_exists(table: str) -> bool:
    # (not ``nft list tables``: that reads every rule on the host)
    return subprocess.run(["nft", "list", "map", "ip", table, "firewall-ips"], capture_output=True).returncode == 0


def table_text(table: str) -> str:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True).stdout


@pytest.fixture
async def cluster(lab):
    prefix = "KN" + secrets.token_hex(2).upper()

    async def remove_table() -> None:
        await cleanup(prefix=prefix)
        assert not table_exists(table_name(prefix)), "cleanup left the table behind"

    async with proxied_cluster(lab, prefix, lambda config: {"proxier": NftProxier(config)}, remove_table) as running:
        yield running


async def test_cluster_ip_balances_from_host_and_pod_with_hairpin(cluster: Cluster):
    await check_cluster_ip_balances_from_host_and_pod_with_hairpin(cluster, 30)


async def test_no_endpoints_reject_then_endpoints_then_partial_changes(cluster: Cluster):
    lab = cluster.lab
    proxier = cluster.proxy.proxier
    since = time.monotonic()
    svc = await cluster.service("web2", 31)
    await cluster.programmed(since)
    ip = svc["spec"]["clusterIP"]
    assert await cluster.host_get(ip, 80, 3) == ["refused"] * 3
    assert await cluster.netns_get(lab.client, ip, 80, 3) == ["refused"] * 3

    await eventually(lambda: proxier.full_syncs >= 1, what="first full sync")
    full_before = proxier.full_syncs
    since = time.monotonic()
    endpoint_slice = await cluster.slice("web2", [0, 1])
    await cluster.programmed(since)
    assert set(await cluster.host_get(ip, 80, 20)) == {lab.pod_name(0), lab.pod_name(1)}

    since = time.monotonic()
    endpoint_slice["endpoints"] = endpoint_slice["endpoints"][1:]
    await cluster.client.update(ENDPOINTSLICES, endpoint_slice, "default")
    await cluster.programmed(since)
    assert set(await cluster.netns_get(lab.client, ip, 80, 15)) == {lab.pod_name(1)}
    assert proxier.full_syncs == full_before  # partial syncs did all of it
    assert proxier.nft.netlink_transactions >= 2  # ...over our own netlink socket, not nft -f


async def test_session_affinity_pins_one_backend(cluster: Cluster):
    await check_session_affinity_pins_one_backend(cluster, 32)
    assert "flags dynamic,timeout" in table_text(cluster.proxy.proxier.table)


async def test_node_port_on_the_hosts_addresses_and_localhost(cluster: Cluster):
    await check_node_port_on_the_hosts_addresses_and_localhost(cluster, 33)


async def test_deleting_every_service_leaves_no_element_or_chain_of_theirs(cluster: Cluster):
    table = cluster.proxy.proxier.table
    lab = cluster.lab
    await cluster.service("a", 34, sessionAffinity="ClientIP")
    await cluster.slice("a", [0])
    await cluster.service("b", 35)

    def programmed() -> bool:
        text = table_text(table)
        return all(s in text for s in ("default/a/tcp/http", "affinity-", lab.service_ip(34), lab.service_ip(35)))

    await eventually(programmed, timeout=10, what="services a and b in the table")
    for name in ("a", "b"):
        await cluster.client.delete(SERVICES, name, "default")

    def gone() -> str | None:
        text = table_text(table)
        return None if any(s in text for s in ("default/a/", "default/b/", "affinity-", lab.service_ip(34),
                                                lab.service_ip(35), lab.pod_ip(0))) else text

    text = await eventually(gone, timeout=10, what="services a and b gone from the table")
    assert "default/kubernetes/tcp/https" in text  # the apiserver's own service stays


async def test_load_balancer_ip_reachable_and_source_ranges_enforced(cluster: Cluster):
    lab = cluster.lab
    await cluster.service("lb", 36, type="LoadBalancer",
                          ports=[{"name": "http", "port": 8181, "targetPort": 8080}])
    svc = await cluster.client.get(SERVICES, "lb", "default")
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": lab.gateway}]}}  # the node's address, as servicelb
    await cluster.client.update_status(SERVICES, svc, "default")
    await cluster.slice("lb", [0, 2])
    table = cluster.proxy.proxier.table
    await eventually(lambda: f"{lab.gateway} . tcp . 8181" in table_text(table), timeout=10, what="LB element")
    backends = {lab.pod_name(0), lab.pod_name(2)}
    assert set(await cluster.netns_get(lab.client, lab.gateway, 8181, 15)) == backends

    svc = await cluster.client.get(SERVICES, "lb", "default")
    svc["spec"]["loadBalancerSourceRanges"] = ["192.0.2.0/24"]  # the client is not in it: dropped
    await cluster.client.update(SERVICES, svc, "default")
    await eventually(lambda: "firewall-" in table_text(table) and "192.0.2.0/24" in table_text(table),
                     timeout=10, what="firewall chain")
    assert await cluster.netns_get(lab.client, lab.gateway, 8181, 1) == ["timeout"]
    assert set(await cluster.netns_get(lab.client, svc["spec"]["clusterIP"], 8181, 5)) <= backends  # not the LB IP
