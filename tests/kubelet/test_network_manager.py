"""PodNetwork's bookkeeping against fake plugins; the host sysctls on a fake /proc/sys; the
iptables dump parser. The real plugins are in test_network_plugins.py."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
from types import SimpleNamespace

import pytest

from kybernetes.kubelet.network import CniConfigError, CniError, NoNetwork, PodNetwork, PodNetworkPlugin
from kybernetes.kubelet.network.commands import HostCommandError
from kybernetes.kubelet.network.iptables import (
    IptablesSweeper,
    NatTable,
    attachment_comment,
    hostport_chain,
    masquerade_chain,
)
from kybernetes.kubelet.network.masquerade import chain_rules, pod_masquerade_chain, restore_input
from kybernetes.kubelet.network.sysctl import HostSysctls
from kybernetes.kubelet.runtime.protocol import PortMapping
from tests.kubelet.test_network_cni import read_log, write_plugin

BRIDGE_RESULT = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/ns"}],
                 "ips": [{"interface": 0, "address": "10.250.0.9/24", "gateway": "10.250.0.1"}]}


class FakeMasquerade:
    """Stands in for the node-wide masquerade rule set (the real one is in test_network_plugins.py)."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.fail = False


    async def ensure(self, pod_cidr: str) -> bool:
        self.calls.append(("ensure", pod_cidr))
        if self.fail:
            raise HostCommandError(["iptables-restore"], "no nat table")
        return True



@pytest.fixture
def fake(tmp_path, monkeypatch):
    masquerade = FakeMasquerade()
    monkeypatch.setattr(PodNetwork, "_masquerade", lambda self, pod_cidr="": masquerade)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    write_plugin(bin_dir, "loopback", log, answer={"cniVersion": "1.0.0"})
    write_plugin(bin_dir, "bridge", log, answer=BRIDGE_RESULT)
    write_plugin(bin_dir, "portmap", log, answer=BRIDGE_RESULT)
    proc = tmp_path / "proc"
    (proc / "net/ipv4").mkdir(parents=True)
    (proc / "net/ipv4/ip_forward").write_text("0\n")
    netns = tmp_path / "netns"
    netns.write_text("")
    network = PodNetwork(tmp_path / "data", str(bin_dir), network_name=f"kybf{secrets.token_hex(3)}",
                         proc_sys=str(proc))
    return SimpleNamespace(net=network, log=log, bin=bin_dir, proc=proc, netns=str(netns), data=tmp_path / "data",
                           masquerade=masquerade)


def test_protocol_implementations():
    assert isinstance(NoNetwork(), PodNetworkPlugin)
    assert isinstance(PodNetwork("/nonexistent"), PodNetworkPlugin)


async def test_no_network():
    assert await NoNetwork().setup("/ns", "id", "ns", "p", "uid") == []
    assert await NoNetwork().teardown("/ns", "id") is None


async def test_configure_is_what_the_runtime_calls(fake):
    await fake.net.configure("10.250.7.0/24")
    assert fake.net.pod_cidr == "10.250.7.0/24"
    assert fake.masquerade.calls == [("ensure", "10.250.7.0/24")]  # before any pod starts
    await fake.net.configure("10.250.7.0/24")
    await fake.net.setup(fake.netns, "sb1", "ns", "p", "u")
    assert fake.masquerade.calls == [("ensure", "10.250.7.0/24")]  # once per process and CIDR
    fake.masquerade.fail = True  # the runtime reports NetworkReady false and calls again later
    with pytest.raises(CniError, match="masquerade rules"):
        await fake.net.configure("10.250.8.0/24")
    await NoNetwork().configure("10.0.0.0/24")


async def test_setup_before_configure_is_a_typed_error(fake):
    assert not fake.net.ready()
    with pytest.raises(CniConfigError, match="not configured"):
        await fake.net.setup(fake.netns, "sb1", "ns", "p", "uid")


async def test_configure_writes_the_list_once(fake):
    assert fake.net.write_config("10.250.0.0/24")
    assert not fake.net.write_config("10.250.0.0/24")
    assert fake.net.ready() and fake.net.pod_cidr == "10.250.0.0/24"
    on_disk = json.loads(fake.net.conflist_path.read_text())
    assert [p["type"] for p in on_disk["plugins"]] == ["bridge", "portmap"]
    assert on_disk["plugins"][0]["ipam"]["dataDir"].startswith(str(fake.data))
    # a restarted kubelet reads it back
    again = PodNetwork(fake.data, str(fake.bin), network_name=fake.net.network_name)
    assert again.pod_cidr == "10.250.0.0/24"
    assert fake.net.write_config("10.250.1.0/24") and fake.net.pod_cidr == "10.250.1.0/24"
    with pytest.raises(CniConfigError):
        fake.net.write_config("not-a-cidr")


async def test_setup_and_teardown(fake):
    fake.net.write_config("10.250.0.0/24")
    ips = await fake.net.setup(fake.netns, "sb1", "default", "web", "u-1",
                               [PortMapping(container_port=80, host_port=8080), PortMapping(container_port=81)])
    assert ips == ["10.250.0.9"]
    entries = read_log(fake.log)
    assert [(e["plugin"], e["command"], e["ifname"]) for e in entries] == [
        ("loopback", "ADD", "lo"), ("bridge", "ADD", "eth0"), ("portmap", "ADD", "eth0")]
    assert "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=u-1" \
        in entries[1]["args"]
    assert entries[2]["stdin"]["runtimeConfig"] == {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    assert fake.net.attached_sandboxes() == ["sb1"]
    # host sysctls were set, and the old value recorded
    assert (fake.proc / "net/ipv4/ip_forward").read_text().strip() == "1"
    assert fake.net.sysctls.recorded() == {"net.ipv4.ip_forward": "0"}

    # setting up again is a no-op giving the same answer
    fake.log.unlink()
    assert await fake.net.setup(fake.netns, "sb1", "default", "web", "u-1") == ["10.250.0.9"]
    assert read_log(fake.log) == []

    await fake.net.teardown("/gone", "sb1")
    entries = read_log(fake.log)
    assert [(e["plugin"], e["command"]) for e in entries] == [("portmap", "DEL"), ("bridge", "DEL")]
    assert all(e["stdin"]["prevResult"] == BRIDGE_RESULT and e["netns"] == "/gone" for e in entries)
    assert entries[0]["stdin"]["runtimeConfig"]["portMappings"][0]["hostPort"] == 8080  # as at ADD
    assert fake.net.attached_sandboxes() == []

    # teardown again (no record left): a plain DEL with the arguments given, still fine
    fake.log.unlink()
    await fake.net.teardown("", "sb1", "default", "web", "u-1", [PortMapping(container_port=80, host_port=8080)])
    entries = read_log(fake.log)
    assert [(e["plugin"], e["command"]) for e in entries] == [("portmap", "DEL"), ("bridge", "DEL")]
    assert "prevResult" not in entries[0]["stdin"] and "K8S_POD_NAME=web" in entries[0]["args"]
    assert entries[0]["stdin"]["runtimeConfig"]["portMappings"][0]["hostPort"] == 8080


async def test_a_pod_without_host_ports_skips_portmap_and_its_del_too(fake):
    fake.net.write_config("10.250.0.0/24")
    fake.net.loopback = False  # as on a real node: the runtime's sandbox brought lo up already
    assert await fake.net.setup(fake.netns, "sb1", "default", "web", "u-1", [PortMapping(container_port=80)]) \
        == ["10.250.0.9"]
    assert [(e["plugin"], e["command"]) for e in read_log(fake.log)] == [("bridge", "ADD")]
    fake.log.unlink()
    await fake.net.teardown(fake.netns, "sb1")
    assert [(e["plugin"], e["command"]) for e in read_log(fake.log)] == [("bridge", "DEL")]
    assert fake.net.attached_sandboxes() == []


async def test_only_dels_of_ipmasq_attachments_sweep_the_nat_table(fake, monkeypatch):
    swept = []

    async def remove_attachment(self, network, container_id):
        swept.append(container_id)
        return []

    monkeypatch.setattr(IptablesSweeper, "remove_attachment", remove_attachment)
    fake.net.write_config("10.250.0.0/24")
    await fake.net.setup(fake.netns, "plain", "ns", "p", "u", [PortMapping(container_port=80, host_port=8080)])
    await fake.net.teardown(fake.netns, "plain")
    assert swept == []  # no ipMasq: bridge made no chain; portmap's DEL removes its own
    old = fake.net.network.to_dict()
    old["plugins"][0]["ipMasq"] = True
    fake.net.conflist_path.write_text(json.dumps(old))
    fake.net._network = None
    await fake.net.setup(fake.netns, "masq", "ns", "p", "u")
    await fake.net.teardown("", "masq")
    assert swept == ["masq"]  # bridge's DEL keeps its chain when the netns is gone: the sweep takes it


async def test_setup_needs_an_existing_netns(fake):
    fake.net.write_config("10.250.0.0/24")
    with pytest.raises(CniConfigError, match="does not exist"):
        await fake.net.setup("/nonexistent/netns", "sb1", "ns", "p", "u")
    with pytest.raises(CniConfigError, match="container id"):
        await fake.net.setup(fake.netns, "bad id", "ns", "p", "u")


async def test_failed_add_is_rolled_back(fake):
    fake.net.write_config("10.250.0.0/24")
    write_plugin(fake.bin, "portmap", fake.log, exit_code=1, answer={"code": 100, "msg": "port taken"},
                 only_command="ADD")
    with pytest.raises(CniError, match="port taken"):
        await fake.net.setup(fake.netns, "sb1", "ns", "p", "u", [PortMapping(container_port=80, host_port=8080)])
    commands = [(e["plugin"], e["command"]) for e in read_log(fake.log)]
    assert commands[-2:] == [("portmap", "DEL"), ("bridge", "DEL")]
    assert fake.net.attached_sandboxes() == []


async def test_failed_add_whose_rollback_fails_keeps_a_record(fake):
    fake.net.write_config("10.250.0.0/24")
    write_plugin(fake.bin, "portmap", fake.log, exit_code=1, answer={"code": 100, "msg": "iptables broken"})
    with pytest.raises(CniError, match="iptables broken"):
        await fake.net.setup(fake.netns, "sb1", "ns", "p", "u", [PortMapping(container_port=80, host_port=8080)])
    assert fake.net.attached_sandboxes() == ["sb1"]  # so cleanup_leftovers can retry the DEL


async def test_failed_del_keeps_the_record_for_a_retry(fake):
    fake.net.write_config("10.250.0.0/24")
    await fake.net.setup(fake.netns, "sb1", "ns", "p", "u")
    write_plugin(fake.bin, "bridge", fake.log, exit_code=1, answer={"code": 11, "msg": "busy"})
    with pytest.raises(CniError, match="busy"):
        await fake.net.teardown(fake.netns, "sb1")
    assert fake.net.attached_sandboxes() == ["sb1"]


async def test_cleanup_leftovers_deletes_only_dead_sandboxes(fake):
    fake.net.write_config("10.250.0.0/24")
    for sandbox in ("live1", "dead1", "dead2"):
        await fake.net.setup(fake.netns, sandbox, "ns", sandbox, "u")
    fake.log.unlink()
    # a fresh PodNetwork (a restarted kubelet) finds the records on disk
    restarted = PodNetwork(fake.data, str(fake.bin), network_name=fake.net.network_name,
                           proc_sys=str(fake.proc))
    assert sorted(await restarted.cleanup_leftovers(["live1"])) == ["dead1", "dead2"]
    assert sorted({e["id"] for e in read_log(fake.log)}) == ["dead1", "dead2"]
    assert restarted.attached_sandboxes() == ["live1"]


async def test_masquerade_rules_once_per_process_and_pod_cidr(fake):
    fake.net.write_config("10.250.0.0/24")
    await asyncio.gather(*(fake.net.setup(fake.netns, f"sb{i}", "ns", f"p{i}", "u") for i in range(3)))
    assert fake.masquerade.calls == [("ensure", "10.250.0.0/24")]
    # the bridge plugin masquerades nothing itself any more
    assert [e["stdin"]["ipMasq"] for e in read_log(fake.log) if e["plugin"] == "bridge"] == [False] * 3
    fake.net.write_config("10.250.1.0/24")  # a new pod CIDR: the rules follow it
    await fake.net.setup(fake.netns, "sb9", "ns", "p9", "u")
    assert fake.masquerade.calls[-1] == ("ensure", "10.250.1.0/24")
    # a restarted kubelet ensures them again (something may have removed them meanwhile)
    restarted = PodNetwork(fake.data, str(fake.bin), network_name=fake.net.network_name, proc_sys=str(fake.proc))
    await restarted.setup(fake.netns, "sb10", "ns", "p10", "u")
    assert fake.masquerade.calls[-1] == ("ensure", "10.250.1.0/24") and len(fake.masquerade.calls) == 3


async def test_masquerade_failure_fails_the_setup_before_any_add_and_is_retried(fake):
    fake.net.write_config("10.250.0.0/24")
    fake.masquerade.fail = True
    with pytest.raises(CniError, match="masquerade rules.*no nat table"):
        await fake.net.setup(fake.netns, "sb1", "ns", "p", "u")
    assert read_log(fake.log) == [] and fake.net.attached_sandboxes() == []
    fake.masquerade.fail = False
    assert await fake.net.setup(fake.netns, "sb1", "ns", "p", "u") == ["10.250.0.9"]
    assert fake.masquerade.calls == [("ensure", "10.250.0.0/24")] * 2


async def test_pods_attached_before_the_change_are_deleted_with_their_own_ipmasq_config(fake):
    fake.net.write_config("10.250.0.0/24")
    old = fake.net.network.to_dict()
    old["plugins"][0]["ipMasq"] = True  # what an older kubelet wrote and the attachment recorded
    fake.net.conflist_path.write_text(json.dumps(old))
    fake.net._network = None
    await fake.net.setup(fake.netns, "old1", "ns", "p", "u")
    fake.log.unlink()
    restarted = PodNetwork(fake.data, str(fake.bin), network_name=fake.net.network_name, proc_sys=str(fake.proc))
    assert restarted.network.plugins[0]["ipMasq"] is True
    assert restarted.write_config("10.250.0.0/24") and restarted.network.plugins[0]["ipMasq"] is False
    await restarted.teardown(fake.netns, "old1")
    [delete] = read_log(fake.log)
    # the bridge plugin's DEL sees ipMasq and removes the pod's own CNI-xxx chain
    assert delete["command"] == "DEL" and delete["stdin"]["ipMasq"] is True


# -- masquerade rules ---------------------------------------------------------------------------

def test_masquerade_chain_names_and_rules():
    assert pod_masquerade_chain("kyb") == "KYB-POD-MASQ"
    other = pod_masquerade_chain("kyb-1a2b3c")
    assert other.startswith("KYB-POD-MASQ-") and len(other) <= 28 and other != pod_masquerade_chain("kyb-1a2b3d")
    rules = chain_rules("KYB-POD-MASQ", "10.244.0.7/24", "c")
    assert [r[2:4] for r in rules[:2]] == [["-d", "10.244.0.0/24"], ["-d", "224.0.0.0/4"]]
    assert [r[-1] for r in rules] == ["RETURN", "RETURN", "MASQUERADE"]
    assert chain_rules("X", "fd00:10::/64", "c")[1][3] == "ff00::/8"
    text = restore_input("KYB-POD-MASQ", "10.244.0.0/24", "kyb pod network kyb masquerade").decode()
    assert text.splitlines()[:2] == ["*nat", ":KYB-POD-MASQ - [0:0]"] and text.endswith("COMMIT\n")
    assert '--comment "kyb pod network kyb masquerade" -j MASQUERADE' in text


# -- sysctls ------------------------------------------------------------------------------------

def test_sysctls_set_record_and_restore(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net/ipv4").mkdir(parents=True)
    (proc / "net/bridge").mkdir(parents=True)
    (proc / "net/ipv4/ip_forward").write_text("0\n")
    (proc / "net/bridge/bridge-nf-call-iptables").write_text("1\n")
    sysctls = HostSysctls(tmp_path / "record.json", proc_sys=str(proc))
    assert sysctls.ensure() == {"net.ipv4.ip_forward": "0"}
    assert (proc / "net/ipv4/ip_forward").read_text().strip() == "1"
    assert sysctls.ensure() == {}  # idempotent
    # someone turns it off again; we turn it on, but remember the first value we found
    (proc / "net/ipv4/ip_forward").write_text("0\n")
    assert HostSysctls(tmp_path / "record.json", proc_sys=str(proc)).ensure() == {"net.ipv4.ip_forward": "0"}
    assert sysctls.recorded() == {"net.ipv4.ip_forward": "0"}
    assert sysctls.restore() == {"net.ipv4.ip_forward": "0"}
    assert (proc / "net/ipv4/ip_forward").read_text().strip() == "0"
    # bridge-nf-call-iptables was already on: never recorded, never turned off
    assert (proc / "net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    assert sysctls.recorded() == {} and sysctls.restore() == {}


def test_a_cluster_leaving_keeps_the_sysctls_another_cluster_on_the_host_still_needs(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net/ipv4").mkdir(parents=True)
    (proc / "net/ipv4/ip_forward").write_text("0\n")
    wanted = {"net.ipv4.ip_forward": "1"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = HostSysctls(tmp_path / "a/record.json", proc_sys=str(proc), wanted=wanted)
    second = HostSysctls(tmp_path / "b/record.json", proc_sys=str(proc), wanted=wanted)
    assert first.ensure() == {"net.ipv4.ip_forward": "0"}
    assert second.ensure() == {} and second.recorded() == {}  # found it on: nothing of its own to record
    assert first.restore() == {}  # the second cluster still needs forwarding
    assert (proc / "net/ipv4/ip_forward").read_text().strip() == "1"
    assert second.recorded() == {"net.ipv4.ip_forward": "0"}  # what the host had: handed over
    assert second.restore() == {"net.ipv4.ip_forward": "0"}  # the last one out puts it back
    assert (proc / "net/ipv4/ip_forward").read_text().strip() == "0"
    assert not (tmp_path / "sysctl-claims").exists()  # beside the fake /proc/sys; gone with the last claim
    # a cluster whose directory was removed without an uninstall claims nothing any more
    first.ensure()
    second.ensure()
    shutil.rmtree(tmp_path / "b")
    assert first.restore() == {"net.ipv4.ip_forward": "0"}
    assert not (tmp_path / "sysctl-claims").exists()


def test_sysctls_missing_key_is_not_fatal(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net/ipv4").mkdir(parents=True)
    (proc / "net/ipv4/ip_forward").write_text("1\n")
    assert HostSysctls(tmp_path / "r.json", proc_sys=str(proc)).ensure() == {}


# -- iptables names and dumps -------------------------------------------------------------------

def test_chain_names_match_the_plugins():
    # as the bridge and portmap plugins name them (sha512 of network name + container id)
    assert masquerade_chain("kybexp", "abc123") == "CNI-797d8ff5c0dfe7e19680196e"
    assert hostport_chain("kybexp", "abc123") == "CNI-DN-797d8ff5c0dfe7e196801"
    assert attachment_comment("kyb", "x1") == 'name: "kyb" id: "x1"'


def test_nat_table_parse():
    dump = "\n".join([
        "-P PREROUTING ACCEPT",
        "-N CNI-HOSTPORT-DNAT",
        "-N CNI-abc",
        "-A POSTROUTING -s 10.1.0.2/32 -m comment --comment \"name: \\\"kyb\\\" id: \\\"c1\\\"\" -j CNI-abc",
        "-A CNI-abc ! -d 224.0.0.0/4 -j MASQUERADE",
    ])
    table = NatTable.parse(dump)
    assert table.chains == ("CNI-HOSTPORT-DNAT", "CNI-abc")
    first = table.rules[0]
    assert first.chain == "POSTROUTING" and first.target == "CNI-abc"
    assert first.comment == 'name: "kyb" id: "c1"'
    assert table.references("CNI-abc") == [first]
