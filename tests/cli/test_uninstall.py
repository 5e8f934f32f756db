"""kyb up → pods → kyb status → kyb uninstall --purge, with a host-state snapshot before and after:
nothing of ours may be left (process, mount, netns, interface, iptables chain, cgroup, file).

As root with runc, conmon, the CNI plugins and a registry binary, `kyb up` runs its real kubelet
and one pod runs in runc on the pod network (so there are containers, a netns, a veth, iptables
chains and cgroups to remove); otherwise the node is simulated. Other clusters may run on this
host at the same time, so only what can be traced to this data dir counts (its dirs, its bridge
and network name, its cgroup root, the chains its pods' rules used).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kybernetes.cli.main import cli
from kybernetes.cli.uninstall import leftovers
from kybernetes.kubelet.real_machine import HostNames
from kybernetes.util import hoststate
from tests.e2e.cluster import KybCluster, free_port
from tests.e2e.real_node_support import requirements_missing


def _ours(state: hoststate.HostState, names: HostNames, chains: set[str]) -> dict[str, list[str]]:
    """The parts of a snapshot that belong to the cluster of ``names``."""
    def mine(item: str) -> bool:
        return (names.bridge in item or f'\\"{names.network}\\"' in item or any(c in item for c in chains)
                or names.cgroup_root in item.split("/"))

    out = {k: sorted(v) for k, v in state.as_dict().items() if k in ("processes", "mounts", "files") and v}
    for kind in ("interfaces", "iptables", "cgroups"):
        found = sorted(i for i in getattr(state, kind) if mine(i))
        if found:
            out[kind] = found
    netns = sorted(n for n in state.netns if n.startswith(str(names.run_dir)))
    if netns:
        out["netns"] = netns
    return out


def _chains_of(state: hoststate.HostState, names: HostNames) -> set[str]:
    """CNI-* and KYB-* chains the rules naming our network jump to or live in (the CNI plugins'
    rules name it in quotes, the kubelet's pod-network masquerade rule in its comment)."""
    chains = set()
    for rule in state.iptables:
        if f'\\"{names.network}\\"' in rule or f"kyb pod network {names.network} masquerade" in rule:
            words = rule.split()
            chains |= {w for w in words if w.startswith(("CNI-", "KYB-")) and w != "CNI-HOSTPORT-DNAT"}
    return chains


def _wait(check, timeout: float, what: str, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached in {timeout}s\n{log()}")


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper"},
       "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": "docker.io/library/busybox:1.36",
                                "command": ["sleep", "3600"]}]}}


@contextlib.contextmanager
def _registry(tmp: Path, real: bool):
    if not real:
        yield []
        return
    from tests.support.oci import build_image, busybox_layer, push_image
    from tests.support.registry import LocalRegistry

    with LocalRegistry() as registry:
        push_image(registry.url, "library/busybox", "1.36", build_image([busybox_layer()], cmd=["sh"]))
        config = tmp / "registries.yaml"
        config.write_text(yaml.safe_dump({"mirrors": {"docker.io": {"endpoint": [registry.url]}}}))
        yield ["--registry-config", str(config), "--kubelet-port", "0"]


def test_uninstall_purge_leaves_the_host_as_it_found_it(tmp_path, monkeypatch):
    real = not requirements_missing()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # kyb up merges its context into ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    root = tmp_path / "cluster"
    root.mkdir()
    data_dir = root / "data"
    names = HostNames.for_data_dir(data_dir)
    before = hoststate.snapshot([data_dir])

    with _registry(tmp_path, real) as node_args:
        cidr = f"10.{200 + (free_port() % 50)}.0.0/16"
        cluster = KybCluster(root, free_port(), ("--sim-nodes", "1", "--cluster-cidr", cidr, *node_args,
                                                 *(["--node"] if real else ["--disable", "kubelet"])))
        cluster.up_env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}  # merge into $HOME
        try:
            cluster.start()
            nodes = _wait(lambda: _ready_nodes(cluster, 2 if real else 1), 60, "nodes Ready", cluster.log_tail)
            node = next(n for n in nodes if not n.startswith("sim-")) if real else nodes[0]
            pod = {**POD, "spec": {**POD["spec"], "nodeName": node}}
            cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
            # What matters here is what the pod put on the host: its sandbox and container (a real
            # node's status reaching the API is the kubelet's tests' business).
            _wait(lambda: _container_started(data_dir) if real else _phase(cluster, "sleeper") == "Running",
                  120, "pod started", lambda: cluster.kubectl("get", "events", check=False).stdout
                  + cluster.log_tail(30))

            merged = yaml.safe_load((home / ".kube" / "config").read_text())
            assert [c["name"] for c in merged["contexts"]] == ["kybernetes"]
            assert merged["contexts"][0]["context"]["user"] == "kybernetes-admin"

            status = CliRunner().invoke(cli, ["status", "--data-dir", str(data_dir), "-o", "json"])
            doc = json.loads(status.output)
            assert status.exit_code == 0, status.output
            assert {c["name"] for c in doc["components"]} >= {"apiserver", "scheduler", "controller-manager",
                                                              "simulated-nodes"}
            assert all(c["state"] == "running" and c["pid"] > 0 for c in doc["components"])
            assert {n["name"] for n in doc["nodes"]} == set(nodes)

            running = hoststate.snapshot([data_dir])
            chains = _chains_of(running, names)
            during = _ours(running, names, chains)
            assert during["processes"] and during["files"]
            if real:
                assert during["netns"] and during["cgroups"] and chains
                assert any(i.startswith(names.bridge) for i in during["interfaces"])

            result = subprocess.run([cluster.kyb_path, "uninstall", "--data-dir", str(data_dir), "--purge"],
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            cluster.process = None  # uninstall stopped it
        finally:
            with contextlib.suppress(Exception):
                subprocess.run([cluster.kyb_path, "uninstall", "--data-dir", str(data_dir), "--purge", "-q"],
                               capture_output=True, timeout=120)
            cluster.close()

    after = hoststate.snapshot([data_dir])
    assert _ours(after, names, chains) == _ours(before, names, chains) == {}
    assert leftovers(data_dir) == {}
    assert not (home / ".kube" / "config").exists()


def _ready_nodes(cluster: KybCluster, count: int) -> list[str]:
    out = cluster.kubectl("get", "nodes", "-o", "json", check=False)
    if out.returncode != 0:
        return []
    ready = [n["metadata"]["name"] for n in json.loads(out.stdout)["items"]
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
             and (n["spec"].get("podCIDR") or n["metadata"]["name"].startswith("sim-"))]
    return ready if len(ready) >= count else []


def _container_started(data_dir: Path) -> bool:
    state = hoststate.snapshot([data_dir], ["processes", "netns"])
    return bool(state.netns) and any(" /usr/bin/conmon " in f" {p} " or "conmon" in p.split(" ", 2)[1]
                                     for p in state.processes)


def _phase(cluster: KybCluster, name: str) -> str:
    out = cluster.kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}", check=False)
    return out.stdout.strip()


def test_uninstall_of_a_data_dir_that_never_ran_is_a_no_op(tmp_path):
    result = CliRunner().invoke(cli, ["uninstall", "--data-dir", str(tmp_path / "never"), "--purge"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "never").exists()


def test_merge_keeps_other_contexts_users_and_the_current_one(tmp_path, monkeypatch):
    from kybernetes.cli.up import merge_admin_kubeconfig
    from kybernetes.client.kubeconfig import admin_kubeconfig, write_kubeconfig

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    target = tmp_path / ".kube" / "config"
    write_kubeconfig(target, {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
                              "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}}],
                              "users": [{"name": "admin", "user": {"token": "prod-token"}}],
                              "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}]})
    source = tmp_path / "data" / "kubeconfig"
    write_kubeconfig(source, admin_kubeconfig("https://127.0.0.1:1", b"ca", b"cert", b"key"))
    assert merge_admin_kubeconfig(source) == target
    doc = yaml.safe_load(target.read_text())
    assert doc["current-context"] == "prod"
    assert {u["name"]: u["user"] for u in doc["users"]}["admin"] == {"token": "prod-token"}
    assert sorted(c["name"] for c in doc["contexts"]) == ["kybernetes", "prod"]
    assert {c["name"]: c["context"] for c in doc["contexts"]}["kybernetes"]["user"] == "kybernetes-admin"
    monkeypatch.setenv("KUBECONFIG", str(source))  # merging a file into itself: nothing to do
    assert merge_admin_kubeconfig(source) is None


@pytest.mark.parametrize("merge", [True, False])
def test_up_merges_unless_no_kubeconfig_merge(tmp_path, monkeypatch, merge):
    import kybernetes.cli.up as up_module

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    seen = {}

    def run_supervised(specs, **kwargs):  # everything up to starting the components, for real
        seen["pid_file"] = (tmp_path / "data" / "run" / "kyb.pid").read_text().strip()
        seen["state_file"] = kwargs["state_file"]
        return 0

    monkeypatch.setattr(up_module, "run_supervised", run_supervised)
    args = ["up", "--data-dir", str(tmp_path / "data"), "--disable", "kubelet", "--quiet", "--port", "16443"]
    result = CliRunner().invoke(cli, args + ([] if merge else ["--no-kubeconfig-merge"]))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / ".kube" / "config").exists() == merge
    assert seen["pid_file"].isdigit() and seen["state_file"] == tmp_path / "data" / "run" / "components.json"
    assert not (tmp_path / "data" / "run" / "kyb.pid").exists()  # removed when kyb up ends
