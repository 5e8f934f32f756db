"""PodNetwork with the real CNI plugins (bridge, host-local, portmap, loopback) in network
namespaces these tests create. Root only. Every test gets its own network name, bridge, pod CIDR
and namespaces (random suffix), and removes all of it, iptables chains included, even on failure.
Traffic goes only to those namespaces (an "outside" one behind a veth of the host included).

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
from kybernetes.kubelet.network.masquerade import PodMasquerade, pod_masquerade_chain
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


def masquerade_rules(network: str) -> list[str]:
    """Our node-wide masquerade chain's rules and the POSTROUTING jump to it (iptables -S lines)."""
    chain = pod_masquerade_chain(network)
    dump = subprocess.run(["iptables", "-w", "5", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    return [line for line in dump.splitlines() if chain in line.split()]


def expected_masquerade_rules(network: str, cidr: str) -> list[str]:
    chain, comment = pod_masquerade_chain(network), f'"kyb pod network {network} masquerade"'
    return [f"-N {chain}",
            f"-A POSTROUTING -s {cidr} -m comment --comment {comment} -j {chain}",
            f"-A {chain} -d {cidr} -m comment --comment {comment} -j RETURN",
            f"-A {chain} -d 224.0.0.0/4 -m comment --comment {comment} -j RETURN",
            f"-A {chain} -m comment --comment {comment} -j MASQUERADE"]


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
            await PodMasquerade(name).remove()
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

    # no per-pod masquerade chain from the bridge plugin: one node-wide rule set instead
    assert masquerade_chain(env.name, f"sb-{a}") not in nat_chains()
    assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, env.net.pod_cidr)

    await env.net.teardown(netns_path(a), f"sb-{a}")
    await env.net.teardown(netns_path(b), f"sb-{b}")
    await env.net.teardown(netns_path(b), f"sb-{b}")  # idempotent
    assert await ports_of_bridge(env.name) == []
    assert allocated_ips(env.ipam) == set()
    assert iptables_lines_of(env.name) == []
    assert masquerade_rules(env.name) != []  # the node-wide rules stay until uninstall
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
    assert pod_masquerade_chain(env.name) in report.chains and masquerade_rules(env.name) == []
    if not env.hostport_chains_before:
        assert not nat_chains() & set(SHARED_CHAINS)
    assert not (env.data / "cni").exists()
    assert report.sysctls_restored == recorded
    for key, value in recorded.items():
        assert Path("/proc/sys", key.replace(".", "/")).read_text().strip() == value


PEER_ECHO = (
    "import socket, sys\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen()\n"
    "while True:\n"
    "    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()\n")
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
    "    print(s.recv(100).decode())\n"
    "except OSError as e:\n"
    "    print('error', e); sys.exit(1)\n")


async def source_seen_by(client_ns: str, server_ip: str, port: int, timeout: float = 1.0) -> str:
    """Connect from ``client_ns`` to a PEER_ECHO server: the source address it saw ('' if none)."""
    done = await ns_run(client_ns, sys.executable, "-c", CONNECT, server_ip, str(port), str(timeout),
                        timeout=timeout + 5)
    return done.stdout.strip() if done.returncode == 0 else ""


async def test_traffic_leaving_the_pod_cidr_is_masqueraded_and_pod_traffic_is_not(env):
    a, b, outside = env.add_netns("a"), env.add_netns("b"), env.add_netns("out")
    ip_a = (await env.net.setup(netns_path(a), f"sb-{a}", "default", "a", "uid-a"))[0]
    ip_b = (await env.net.setup(netns_path(b), f"sb-{b}", "default", "b", "uid-b"))[0]
    # the "outside": a namespace behind a veth of the host, in a subnet outside the pod CIDR, with no
    # route back to the pod CIDR, so only a masqueraded source (the host's address there) gets answers
    subnet = ipaddress.ip_network(free_pod_cidr())
    host_ip, out_ip = (str(ip) for ip in list(subnet.hosts())[:2])
    link = "kyo" + env.name[4:]
    servers = []
    try:
        for argv in (["ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", outside],
                     ["ip", "addr", "add", f"{host_ip}/{subnet.prefixlen}", "dev", link],
                     ["ip", "link", "set", link, "up"],
                     ["ip", "-n", outside, "addr", "add", f"{out_ip}/{subnet.prefixlen}", "dev", "eth0"],
                     ["ip", "-n", outside, "link", "set", "eth0", "up"],
                     ["ip", "-n", outside, "link", "set", "lo", "up"]):
            subprocess.run(argv, check=True, capture_output=True)
        port = free_port()
        for ns in (outside, b):
            servers.append(await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", ns, sys.executable, "-c", PEER_ECHO, str(port),
                stdout=asyncio.subprocess.DEVNULL))
        for _ in range(100):  # until both servers listen
            if await source_seen_by(a, ip_b, port) and await source_seen_by(a, out_ip, port):
                break
            await asyncio.sleep(0.05)
        assert await source_seen_by(a, out_ip, port) == host_ip  # masqueraded as the host
        assert await source_seen_by(a, ip_b, port) == ip_a  # pod to pod: the pod's own address

        # it is the node-wide rule that does it: without it the outside cannot answer ...
        await PodMasquerade(env.name).remove()
        assert masquerade_rules(env.name) == []
        assert await source_seen_by(a, out_ip, port, timeout=0.5) == ""
        # ... and a restarted kubelet puts it back with its first pod (or update_runtime_config)
        restarted = PodNetwork(env.data, CNI_BIN, network_name=env.name, bridge_name=env.name)
        c = env.add_netns("c")
        await restarted.setup(netns_path(c), f"sb-{c}", "default", "c", "uid-c")
        assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, env.net.pod_cidr)
        await PodMasquerade(env.name).remove()
        await PodNetwork(env.data, CNI_BIN, network_name=env.name, bridge_name=env.name).configure(
            env.net.pod_cidr)
        assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, env.net.pod_cidr)
        assert await source_seen_by(a, out_ip, port) == host_ip
        await restarted.setup(netns_path(c), f"sb-{c}", "default", "c", "uid-c")
        await PodNetwork(env.data, CNI_BIN, network_name=env.name, bridge_name=env.name)._masquerade().ensure(
            env.net.pod_cidr)  # idempotent: no second jump, no duplicate rules
        assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, env.net.pod_cidr)
    finally:
        for server in servers:
            server.kill()
            await server.wait()
        subprocess.run(["ip", "link", "delete", link], capture_output=True)


async def test_pods_from_before_the_change_lose_their_own_masquerade_chain_on_del(env):
    old = env.net.network.to_dict()
    old["plugins"][0]["ipMasq"] = True  # the configuration an older kubelet wrote
    env.net.conflist_path.write_text(json.dumps(old))
    env.net._network = None
    a, b = env.add_netns("a"), env.add_netns("b")
    for ns in (a, b):
        await env.net.setup(netns_path(ns), f"sb-{ns}", "default", ns, "uid")
        assert masquerade_chain(env.name, f"sb-{ns}") in nat_chains()
    # the kubelet restarts with the new configuration; the old pods' DELs still remove their chains,
    # with the netns there (the plugin's DEL) or gone (the sweep)
    restarted = PodNetwork(env.data, CNI_BIN, network_name=env.name, bridge_name=env.name)
    assert restarted.write_config(env.net.pod_cidr) and restarted.network.plugins[0]["ipMasq"] is False
    subprocess.run(["ip", "netns", "delete", b], check=True)
    for ns in (a, b):
        await restarted.teardown(netns_path(ns), f"sb-{ns}")
        assert masquerade_chain(env.name, f"sb-{ns}") not in nat_chains()
    assert iptables_lines_of(env.name) == []


async def test_masquerade_rules_follow_a_new_pod_cidr_and_go_on_remove(env):
    masquerade = PodMasquerade(env.name)
    assert await masquerade.ensure("10.244.1.0/24") and not await masquerade.ensure("10.244.1.7/24")
    assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, "10.244.1.0/24")
    assert await masquerade.ensure("10.244.2.0/24")  # the old CIDR's jump is replaced, not kept
    assert masquerade_rules(env.name) == expected_masquerade_rules(env.name, "10.244.2.0/24")
    assert await masquerade.remove() == [masquerade.chain] and masquerade_rules(env.name) == []
    assert await masquerade.remove() == []
