"""PodNetwork with the real CNI plugins (bridge, host-local, portmap, loopback) in network
namespaces these tests create. Root only. Every test gets its own network name, bridge, pod CIDR
and namespaces (random suffix), and removes all of it, iptables chains included, even on failure.

What portmap gives (containernetworking-plugins 1.1.1, snat true): a hostPort is DNATed for
every local address of the node (``-m addrtype --dst-type LOCAL`` from PREROUTING and OUTPUT),
127.0.0.1 included: the plugin sets route_localnet on the bridge and masquerades the 127.0.0.1
source, so ``127.0.0.1:<hostPort>`` on the node reaches the pod.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kybernetes.kubelet.network import CniError, PodNetwork
from kybernetes.kubelet.network.iptables import SHARED_CHAINS, IptablesSweeper, masquerade_chain
from kybernetes.kubelet.network.links import link_exists, ports_of_bridge, remove_bridge
from kybernetes.kubelet.runtime.protocol import PortMapping
from tests.support.ports import free_port

CNI_BIN = "/usr/lib/cni"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(f"{CNI_BIN}/bridge") or not shutil.which("iptables"),
    reason="needs root, the CNI plugins (containernetworking-plugins) and iptables")


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for cmd in (["ip", "-j", "-4", "route", "show", "table", "all"], ["ip", "-j", "-4", "addr"]):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for entry in json.loads(out or "[]"):
            dst = entry.get("dst")
            if dst and dst != "default" and ":" not in dst:
                used.append(ipaddress.ip_network(dst, strict=False))
            for a in entry.get("addr_info", []):
                used.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    return used


def free_pod_cidr() -> str:
    used = _used_networks()
    for _ in range(100):
        candidate = ipaddress.ip_network(f"10.244.{random.randint(10, 250)}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RuntimeError("no free 10.244.x.0/24 on this host")


def iptables_lines_of(network: str) -> list[str]:
    dump = subprocess.run(["iptables", "-w", "5", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    return [line for line in dump.splitlines() if f'\\"{network}\\"' in line]


def nat_chains() -> set[str]:
    dump = subprocess.run(["iptables", "-w", "5", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    return {line.split()[1] for line in dump.splitlines() if line.startswith("-N ")}


async def ns_run(netns: str, *argv: str, timeout: float = 5) -> subprocess.CompletedProcess:
    proc = await asyncio.create_subprocess_exec("ip", "netns", "exec", netns, *argv,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(), "")


@pytest.fixture
async def env(tmp_path):
    suffix = secrets.token_hex(3)
    name = f"kybt{suffix}"
    hostport_chains_before = nat_chains() & set(SHARED_CHAINS)
    network = PodNetwork(tmp_path / "data", CNI_BIN, network_name=name, bridge_name=name)
    created: list[str] = []

    def add_netns(tag: str) -> str:
        ns = f"kybtest-{suffix}-{tag}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        created.append(ns)
        return ns

    try:
        network.write_config(free_pod_cidr())
        yield SimpleNamespace(net=network, name=name, add_netns=add_netns, data=tmp_path / "data",
                              ipam=tmp_path / "data" / "cni" / "ipam" / name,
                              hostport_chains_before=hostport_chains_before)
    finally:
        try:
            await network.uninstall()
        finally:
            sweeper = IptablesSweeper()
            await sweeper.remove_network(name)
            if not hostport_chains_before:
                await sweeper.remove_unused_hostport_chains()
            await remove_bridge(name)
            for ns in created:
                subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def netns_path(ns: str) -> str:
    return f"/var/run/netns/{ns}"


def allocated_ips(ipam_dir: Path) -> set[str]:
    if not ipam_dir.exists():
        return set()
    return {p.name for p in ipam_dir.iterdir() if p.name[0].isdigit()}


async def test_two_pods_get_addresses_and_reach_each_other(env):
    a, b = env.add_netns("a"), env.add_netns("b")
    ips_a = await env.net.setup(netns_path(a), f"sb-{a}", "default", "a", "uid-a")
    ips_b = await env.net.setup(netns_path(b), f"sb-{b}", "default", "b", "uid-b")
    cidr = ipaddress.ip_network(env.net.pod_cidr)
    assert len(ips_a) == 1 and len(ips_b) == 1 and ips_a != ips_b
    assert ipaddress.ip_address(ips_a[0]) in cidr and ipaddress.ip_address(ips_b[0]) in cidr
    assert allocated_ips(env.ipam) == {ips_a[0], ips_b[0]}
    assert len(await ports_of_bridge(env.name)) == 2

    for src, dst in ((a, ips_b[0]), (b, ips_a[0]), (a, "127.0.0.1")):
        ping = await ns_run(src, "busybox", "ping", "-c1", "-W1", dst)
        assert ping.returncode == 0, ping.stdout
    lo = await ns_run(a, "ip", "-o", "link", "show", "lo")
    assert "UP" in lo.stdout  # the loopback plugin brought it up
    await env.net.check(netns_path(a), f"sb-{a}")  # CNI CHECK: the plugins find it as they left it
    await ns_run(b, "ip", "addr", "flush", "dev", "eth0")
    with pytest.raises(CniError):
        await env.net.check(netns_path(b), f"sb-{b}")

    # the bridge's masquerade chain for each pod exists while attached
    assert masquerade_chain(env.name, f"sb-{a}") in nat_chains()

    await env.net.teardown(netns_path(a), f"sb-{a}")
    await env.net.teardown(netns_path(b), f"sb-{b}")
    await env.net.teardown(netns_path(b), f"sb-{b}")  # idempotent
    assert await ports_of_bridge(env.name) == []
    assert allocated_ips(env.ipam) == set()
    assert iptables_lines_of(env.name) == []
    eth0 = await ns_run(a, "ip", "-o", "link", "show", "eth0")
    assert eth0.returncode != 0  # the pod's end of the veth is gone too


async def test_concurrent_setups_get_distinct_addresses(env):
    names = [env.add_netns(str(i)) for i in range(4)]
    results = await asyncio.gather(*(env.net.setup(netns_path(ns), f"sb-{ns}", "default", ns, "u")
                                     for ns in names))
    ips = [r[0] for r in results]
    assert len(set(ips)) == 4 and allocated_ips(env.ipam) == set(ips)
    await asyncio.gather(*(env.net.teardown(netns_path(ns), f"sb-{ns}") for ns in names))
    assert allocated_ips(env.ipam) == set() and await ports_of_bridge(env.name) == []


async def test_host_port_reaches_the_pod_through_loopback(env):
    a = env.add_netns("a")
    host_port = free_port()
    ips = await env.net.setup(netns_path(a), f"sb-{a}", "default", "web", "uid",
                              [PortMapping(container_port=8080, host_port=host_port)])
    server_code = (
        "import socket\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('0.0.0.0', 8080)); s.listen()\n"
        "while True:\n"
        "    c, peer = s.accept(); c.sendall(b'hello ' + peer[0].encode()); c.close()\n")
    server = await asyncio.create_subprocess_exec("ip", "netns", "exec", a, sys.executable, "-c", server_code,
                                                  stdout=asyncio.subprocess.DEVNULL)
    try:
        async def fetch(host: str, port: int) -> bytes:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
            try:
                return await asyncio.wait_for(reader.read(100), 2)
            finally:
                writer.close()

        for _ in range(100):  # until the server listens (the pod IP is reachable from the host)
            try:
                await fetch(ips[0], 8080)
                break
            except OSError:
                await asyncio.sleep(0.05)
        reply = await fetch("127.0.0.1", host_port)
        assert reply.startswith(b"hello ")
        # the pod sees the bridge's address as the source: portmap masqueraded 127.0.0.1
        gateway = str(next(ipaddress.ip_network(env.net.pod_cidr).hosts()))
        assert reply == b"hello " + gateway.encode()
    finally:
        server.kill()
        await server.wait()
    await env.net.teardown(netns_path(a), f"sb-{a}")
    assert iptables_lines_of(env.name) == []
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", host_port), 2)


async def test_teardown_after_the_netns_is_gone(env):
    a = env.add_netns("a")
    await env.net.setup(netns_path(a), f"sb-{a}", "default", "a", "uid",
                        [PortMapping(container_port=80, host_port=free_port())])
    assert iptables_lines_of(env.name) != []
    subprocess.run(["ip", "netns", "delete", a], check=True)
    await env.net.teardown(netns_path(a), f"sb-{a}")
    # bridge's DEL skips its masquerade chain without a netns; the sweep removed it
    assert iptables_lines_of(env.name) == []
    assert masquerade_chain(env.name, f"sb-{a}") not in nat_chains()
    assert allocated_ips(env.ipam) == set()
    await env.net.teardown(netns_path(a), f"sb-{a}")


async def test_leftovers_and_uninstall(env):
    a, b = env.add_netns("a"), env.add_netns("b")
    await env.net.setup(netns_path(a), f"sb-{a}", "default", "a", "uid-a",
                        [PortMapping(container_port=80, host_port=free_port())])
    ip_b = (await env.net.setup(netns_path(b), f"sb-{b}", "default", "b", "uid-b"))[0]
    # a restarted kubelet: only sandbox b survived
    restarted = PodNetwork(env.data, CNI_BIN, network_name=env.name, bridge_name=env.name)
    assert await restarted.cleanup_leftovers([f"sb-{b}"]) == [f"sb-{a}"]
    assert allocated_ips(env.ipam) == {ip_b}
    assert restarted.attached_sandboxes() == [f"sb-{b}"]

    recorded = restarted.sysctls.recorded()
    report = await restarted.uninstall()
    assert report.errors == []
    assert report.attachments == [f"sb-{b}"]
    assert not await link_exists(env.name)
    assert iptables_lines_of(env.name) == []
    if not env.hostport_chains_before:
        assert not nat_chains() & set(SHARED_CHAINS)
    assert not (env.data / "cni").exists()
    assert report.sysctls_restored == recorded
    for key, value in recorded.items():
        assert Path("/proc/sys", key.replace(".", "/")).read_text().strip() == value
