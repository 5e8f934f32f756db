"""The CNI exec protocol against fake plugins (small shell scripts that log what they were given)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from kybernetes.kubelet.network.cache import Attachment, AttachmentCache
from kybernetes.kubelet.network.cni import (
    CniConfigError,
    CniError,
    CniExec,
    CniPluginNotFoundError,
    CniTimeoutError,
    NetworkConfigList,
    RuntimeConf,
    result_ips,
)
from kybernetes.kubelet.network.config import bridge_conflist, port_mappings_capability

RESULT = {"cniVersion": "1.0.0",
          "interfaces": [{"name": "br"}, {"name": "eth0", "sandbox": "/ns"}],
          "ips": [{"interface": 0, "address": "10.9.0.1/24"}, {"interface": 1, "address": "10.9.0.5/24"},
                  {"interface": 1, "address": "fd00::5/64"}]}


def write_plugin(bin_dir: Path, name: str, log: Path, *, answer: dict | None = None, exit_code: int = 0,
                 stdout: str | None = None, sleep: float = 0, only_command: str = "") -> None:
    """A plugin that appends "<name> <env> <stdin>" to ``log`` as a JSON line and answers
    (with ``only_command``: answers so for that command only, and succeeds silently otherwise)."""
    out = stdout if stdout is not None else json.dumps(answer) if answer is not None else ""
    other = f'[ "$CNI_COMMAND" = "{only_command}" ] || exit 0' if only_command else ""
    script = f"""#!/bin/sh
in=$(cat)
{f'sleep {sleep}' if sleep else ''}
printf '%s\\n' "{{\\"plugin\\": \\"{name}\\", \\"command\\": \\"$CNI_COMMAND\\", \\"id\\": \\"$CNI_CONTAINERID\\", \\
\\"netns\\": \\"$CNI_NETNS\\", \\"ifname\\": \\"$CNI_IFNAME\\", \\"args\\": \\"$CNI_ARGS\\", \\"path\\": \\"$CNI_PATH\\", \\
\\"stdin\\": $in}}" >> {log}
{other}
cat <<'EOF'
{out}
EOF
exit {exit_code}
"""
    path = bin_dir / name
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def read_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def two_plugin_list(**first) -> NetworkConfigList:
    return NetworkConfigList.from_dict({
        "cniVersion": "1.0.0", "name": "testnet",
        "plugins": [{"type": "first", "x": 1, **first},
                    {"type": "second", "capabilities": {"portMappings": True}}]})


@pytest.fixture
def plugins(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    write_plugin(bin_dir, "first", log, answer={"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}]})
    write_plugin(bin_dir, "second", log, answer=RESULT)
    return SimpleNamespace(bin=bin_dir, log=log, exec=CniExec([str(tmp_path / "nothing"), str(bin_dir)]))


RT = RuntimeConf("sb1", "/var/run/netns/x", "eth0", (("K8S_POD_NAMESPACE", "ns"), ("K8S_POD_NAME", "p")),
                 {"portMappings": [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp"}],
                  "bandwidth": {"rate": 1}})


async def test_add_runs_plugins_in_order_chaining_prev_result(plugins):
    result = await plugins.exec.add_list(two_plugin_list(), RT)
    assert result == RESULT
    first, second = read_log(plugins.log)
    assert [first["plugin"], second["plugin"]] == ["first", "second"]
    assert first["command"] == "ADD" and first["id"] == "sb1" and first["netns"] == "/var/run/netns/x"
    assert first["ifname"] == "eth0"
    assert first["args"] == "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"
    assert first["path"].endswith("/bin") and ":" in first["path"]
    assert first["stdin"]["name"] == "testnet" and first["stdin"]["cniVersion"] == "1.0.0"
    assert first["stdin"]["x"] == 1
    assert "prevResult" not in first["stdin"] and "runtimeConfig" not in first["stdin"]
    assert second["stdin"]["prevResult"]["ips"] == [{"address": "10.1.0.2/24"}]
    # only the capabilities a plugin declares reach it
    assert second["stdin"]["runtimeConfig"] == {"portMappings": RT.capability_args["portMappings"]}


async def test_del_runs_in_reverse_with_the_cached_result(plugins):
    await plugins.exec.del_list(two_plugin_list(), RT, RESULT)
    entries = read_log(plugins.log)
    assert [e["plugin"] for e in entries] == ["second", "first"]
    assert all(e["command"] == "DEL" and e["stdin"]["prevResult"] == RESULT for e in entries)


async def test_del_tries_every_plugin_and_raises_the_first_error(plugins):
    write_plugin(plugins.bin, "second", plugins.log, exit_code=1,
                 answer={"cniVersion": "1.0.0", "code": 11, "msg": "try again", "details": "busy"})
    with pytest.raises(CniError) as e:
        await plugins.exec.del_list(two_plugin_list(), RT, None)
    assert [x["plugin"] for x in read_log(plugins.log)] == ["second", "first"]
    assert (e.value.code, e.value.msg, e.value.details, e.value.plugin) == (11, "try again", "busy", "second")
    assert "try again" in str(e.value)


async def test_check_passes_the_result(plugins):
    await plugins.exec.check_list(two_plugin_list(), RT, RESULT)
    assert [(e["plugin"], e["command"]) for e in read_log(plugins.log)] == [("first", "CHECK"), ("second", "CHECK")]


async def test_plugin_error_json_becomes_a_typed_error_and_stops_the_add(plugins):
    write_plugin(plugins.bin, "first", plugins.log, exit_code=1,
                 answer={"cniVersion": "1.0.0", "code": 7, "msg": "invalid network config"})
    with pytest.raises(CniError) as e:
        await plugins.exec.add_list(two_plugin_list(), RT)
    assert e.value.code == 7 and e.value.msg == "invalid network config" and e.value.command == "ADD"
    assert [x["plugin"] for x in read_log(plugins.log)] == ["first"]


async def test_plugin_failing_without_json_reports_its_output(plugins):
    write_plugin(plugins.bin, "first", plugins.log, exit_code=3, stdout="boom: no such thing")
    with pytest.raises(CniError, match="exited with status 3: boom: no such thing"):
        await plugins.exec.add_list(two_plugin_list(), RT)


async def test_unparsable_result_is_an_error(plugins):
    write_plugin(plugins.bin, "second", plugins.log, stdout="{not json")
    with pytest.raises(CniError, match="unparsable result"):
        await plugins.exec.add_list(two_plugin_list(), RT)


async def test_missing_plugin(plugins):
    with pytest.raises(CniPluginNotFoundError, match="'nope' not found"):
        await plugins.exec.add_list(two_plugin_list(type="nope"), RT)
    with pytest.raises(CniConfigError):
        await plugins.exec.add_list(two_plugin_list(type="../first"), RT)


async def test_slow_plugin_is_killed(plugins, tmp_path):
    write_plugin(plugins.bin, "first", plugins.log, answer={}, sleep=5)
    quick = CniExec([str(plugins.bin)], timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(CniTimeoutError):
        await quick.add_list(two_plugin_list(), RT)
    assert loop.time() - started < 3


@pytest.mark.parametrize("rt", [
    RuntimeConf("", "/ns"), RuntimeConf("-bad", "/ns"), RuntimeConf("a b", "/ns"),
    RuntimeConf("ok", "/ns", ifname="a-very-long-interface"), RuntimeConf("ok", "/ns", ifname="a/b"),
    RuntimeConf("ok", "/ns", args=(("K", "a;b"),)), RuntimeConf("ok", "/ns", args=(("", "v"),)),
])
async def test_invalid_runtime_arguments_run_nothing(plugins, rt):
    with pytest.raises(CniConfigError):
        await plugins.exec.add_list(two_plugin_list(), rt)
    assert read_log(plugins.log) == []


@pytest.mark.parametrize("data", [
    [], {"cniVersion": "1.0.0", "plugins": [{"type": "a"}]}, {"name": "n", "plugins": [{"type": "a"}]},
    {"name": "bad name", "cniVersion": "1.0.0", "plugins": [{"type": "a"}]},
    {"name": "n", "cniVersion": "1.0.0", "plugins": []}, {"name": "n", "cniVersion": "1.0.0", "plugins": [{}]},
])
def test_invalid_config_lists(data):
    with pytest.raises(CniConfigError):
        NetworkConfigList.from_dict(data)


def test_load_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(CniConfigError, match="no network configuration"):
        NetworkConfigList.load(tmp_path / "none.conflist")
    (tmp_path / "bad.conflist").write_text("{")
    with pytest.raises(CniConfigError, match="cannot read"):
        NetworkConfigList.load(tmp_path / "bad.conflist")


def test_result_ips_are_the_pods_ipv4_first():
    assert result_ips(RESULT) == ["10.9.0.5", "fd00::5"]
    assert result_ips({"ips": [{"address": "fd00::1/64"}, {"address": "10.0.0.2/8"}]}) == ["10.0.0.2", "fd00::1"]
    assert result_ips(None) == [] and result_ips({}) == []


def test_bridge_conflist_shape(tmp_path):
    net = bridge_conflist("10.244.3.7/24", str(tmp_path / "ipam"), network_name="n1", bridge_name="br-n1")
    bridge, portmap = net.plugins
    assert net.name == "n1"
    assert bridge["type"] == "bridge" and bridge["bridge"] == "br-n1"
    assert bridge["isGateway"] and bridge["hairpinMode"]
    assert bridge["ipMasq"] is False  # one node-wide rule set instead (masquerade.py)
    assert bridge["ipam"] == {"type": "host-local", "ranges": [[{"subnet": "10.244.3.0/24"}]],
                              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(tmp_path / "ipam")}
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    with pytest.raises(CniConfigError, match="invalid pod CIDR"):
        bridge_conflist("10.244.300.0/24", "/x")
    with pytest.raises(CniConfigError, match="too small"):
        bridge_conflist("10.1.1.1/31", "/x")
    with pytest.raises(CniConfigError, match="bridge name"):
        bridge_conflist("10.1.1.0/24", "/x", bridge_name="x" * 16)


def test_port_mappings_capability_keeps_only_host_ports():
    pm = SimpleNamespace
    mappings = [pm(container_port=80, host_port=8080, protocol="TCP", host_ip=""),
                pm(container_port=53, host_port=5353, protocol="UDP", host_ip="127.0.0.1"),
                pm(container_port=9000, host_port=0, protocol="TCP", host_ip="")]
    assert port_mappings_capability(mappings) == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}]


@pytest.mark.parametrize("mapping", [
    {"container_port": 0, "host_port": 80}, {"container_port": "80", "host_port": 80},
    {"container_port": 80, "host_port": 70000}, {"container_port": 80, "host_port": 80, "protocol": "ICMP"},
    {"container_port": 80, "host_port": 80, "host_ip": "localhost"},
])
def test_bad_port_mappings_are_typed_errors(mapping):
    with pytest.raises(CniConfigError):
        port_mappings_capability([SimpleNamespace(**{"protocol": "TCP", "host_ip": "", **mapping})])


def test_attachment_cache_round_trip(tmp_path):
    cache = AttachmentCache(tmp_path / "results")
    assert cache.all() == [] and cache.get("n", "c", "eth0") is None
    entry = Attachment("n", "c", "eth0", "/ns", {"name": "n"}, [["K8S_POD_NAME", "p"]], {"portMappings": []})
    cache.save(entry)
    assert cache.get("n", "c", "eth0") == entry
    done = Attachment(**{**entry.__dict__, "result": RESULT})
    cache.save(done)
    assert cache.all() == [done]
    (tmp_path / "results" / "garbage").write_text("{nope")
    (tmp_path / "results" / "foreign").write_text(json.dumps({"kind": "other"}))
    assert cache.all() == [done]
    assert oct(os.stat(tmp_path / "results" / entry.key).st_mode & 0o777) == "0o600"
    cache.remove(done)
    cache.remove(done)
    assert cache.all() == []


def test_the_cache_finds_and_removes_entries_an_older_node_left_in_its_legacy_directory(tmp_path):
    legacy = AttachmentCache(tmp_path / "data" / "results")
    old = Attachment("net", "old-sandbox", "eth0", "/run/netns/old", {"cniVersion": "1.0.0"})
    legacy.save(old)
    cache = AttachmentCache(tmp_path / "run" / "results", legacy=tmp_path / "data" / "results")
    new = Attachment("net", "new-sandbox", "eth0", "/run/netns/new", {"cniVersion": "1.0.0"})
    cache.save(new)
    assert not (tmp_path / "data" / "results" / new.key).exists()  # new entries go to the run dir
    assert cache.get("net", "old-sandbox", "eth0") == old and cache.get("net", "new-sandbox", "eth0") == new
    assert [a.container_id for a in cache.all()] == ["new-sandbox", "old-sandbox"]
    cache.remove(old)
    assert cache.get("net", "old-sandbox", "eth0") is None and [a.container_id for a in cache.all()] == ["new-sandbox"]
