"""The proxier against the real kernel: network namespaces as pods, real HTTP, real iptables.

One test network (netlab.py, the ``lab`` fixture of conftest.py) for the module; each test runs its
own apiserver and proxier (real_cluster.py) with a chain prefix of its own, and removes its chains
in ``finally`` (then checks iptables-save holds none of them). Traffic goes only to the namespaces made here and to the host's own addresses.
"""

from __future__ import annotations

import secrets
import subprocess
import time

import pytest

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy import cleanup
from kybernetes.proxy.iptables import Iptables
from kybernetes.proxy.names import ChainNames
from kybernetes.testing import eventually
from tests.proxy.netlab import is_root
from tests.proxy.real_cluster import (
    Cluster,
    check_cluster_ip_balances_from_host_and_pod_with_hairpin,
    check_node_port_on_the_hosts_addresses_and_localhost,
    check_session_affinity_pins_one_backend,
    proxied_cluster,
)

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root: network namespaces and iptables")


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

    async def remove_ours() -> None:
        await cleanup(iptables, prefix)
        assert our_lines(prefix) == [], "cleanup left chains or rules behind"

    async with proxied_cluster(lab, prefix, lambda config: {"iptables": iptables}, remove_ours) as running:
        yield running


async def test_cluster_ip_balances_over_all_endpoints_from_host_and_pod(cluster: Cluster):
    await check_cluster_ip_balances_from_host_and_pod_with_hairpin(cluster, 10)


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
    await check_session_affinity_pins_one_backend(cluster, 12)


async def test_node_port_on_the_hosts_addresses_and_localhost(cluster: Cluster):
    svc = await check_node_port_on_the_hosts_addresses_and_localhost(cluster, 13)
    # the cluster IP still works as well
    backends = {cluster.lab.pod_name(1), cluster.lab.pod_name(2)}
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
