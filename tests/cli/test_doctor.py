"""kyb doctor: each check against a fake filesystem or PATH, and the command's exit code."""

from __future__ import annotations

import json
import os
import socket

from click.testing import CliRunner

from kybernetes.cli import doctor
from kybernetes.cli.main import cli
from tests.support.ports import free_port


def test_cni_plugins_missing_says_which_and_the_package(tmp_path):
    for name in ("bridge", "loopback"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        os.chmod(tmp_path / name, 0o755)
    check = doctor.check_cni_plugins(tmp_path)
    assert not check.ok
    assert "host-local" in check.detail and "portmap" in check.detail and "bridge" not in check.detail
    assert check.fix == "apt-get install containernetworking-plugins"


def test_cni_plugins_present(tmp_path):
    for name in doctor.CNI_PLUGINS:
        (tmp_path / name).write_text("")
        os.chmod(tmp_path / name, 0o755)
    assert doctor.check_cni_plugins(tmp_path).ok


def test_overlayfs_from_proc_filesystems_then_the_module_tree(tmp_path):
    filesystems = tmp_path / "filesystems"
    filesystems.write_text("nodev\tsysfs\nnodev\toverlay\n\text4\n")
    assert doctor.check_overlayfs(filesystems, tmp_path / "modules").ok
    filesystems.write_text("nodev\tsysfs\n\text4\n")
    no_module = doctor.check_overlayfs(filesystems, tmp_path / "modules")
    assert not no_module.ok and "CONFIG_OVERLAY_FS" in no_module.fix
    module_dir = tmp_path / "modules" / doctor.platform.release() / "kernel" / "fs" / "overlayfs"
    module_dir.mkdir(parents=True)
    (module_dir / "overlay.ko.xz").write_bytes(b"")
    unloaded = doctor.check_overlayfs(filesystems, tmp_path / "modules")
    assert not unloaded.ok and unloaded.fix.startswith("modprobe overlay")


def test_cgroup_layouts(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    assert doctor.check_cgroups(v2).detail == "v2 (unified)"
    (v2 / "cgroup.controllers").write_text("cpuset io\n")
    assert not doctor.check_cgroups(v2).ok
    v1 = tmp_path / "v1"
    for c in ("memory", "cpu", "cpuacct", "pids", "unified"):
        (v1 / c).mkdir(parents=True)
    assert doctor.check_cgroups(v1).ok and "v1" in doctor.check_cgroups(v1).detail
    (v1 / "pids").rmdir()
    broken = doctor.check_cgroups(v1)
    assert not broken.ok and "pids" in broken.detail


def test_port_in_use_is_reported_with_a_fix():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        busy = doctor.check_port(port, "the apiserver")
    assert not busy.ok and "in use" in busy.detail and f":{port}" in busy.fix
    assert doctor.check_port(free_port(), "the apiserver").ok


def test_missing_binary_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(doctor, "find_binary", lambda name: None)
    check = doctor.check_binary("conmon", "conmon")
    assert not check.ok and check.fix == "apt-get install conmon"


def test_etcd_is_checked_only_for_an_etcd_store(monkeypatch):
    monkeypatch.setattr(doctor, "find_binary", lambda name: None if name == "etcd" else f"/usr/bin/{name}")
    names = [c.name for c in doctor.run_checks(port=free_port(), kubelet_port=0)]
    assert "etcd" not in names
    checks = doctor.run_checks(port=free_port(), kubelet_port=0, store_url="etcd://127.0.0.1:2379")
    etcd = next(c for c in checks if c.name == "etcd")
    assert not etcd.ok and etcd.fix == "apt-get install etcd-server"


def test_command_exits_1_and_prints_every_fix_when_something_is_missing(monkeypatch):
    monkeypatch.setattr(doctor, "find_binary", lambda name: None if name in ("runc", "conmon") else "/bin/x")
    result = CliRunner().invoke(cli, ["doctor", "--port", str(free_port()), "--kubelet-port", "0"])
    assert result.exit_code == 1
    assert "apt-get install runc" in result.output and "apt-get install conmon" in result.output
    assert "problem(s) found" in result.output and "Traceback" not in result.output


def test_command_json_output_and_exit_0_when_everything_is_there(monkeypatch):
    passing = doctor.Check("x", True, "fine")
    monkeypatch.setattr(doctor, "run_checks", lambda **kw: [passing])
    result = CliRunner().invoke(cli, ["doctor", "-o", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"ok": True, "checks": [{"name": "x", "ok": True, "detail": "fine",
                                                                 "fix": ""}]}


def test_command_on_this_machine_checks_the_real_prerequisites():
    result = CliRunner().invoke(cli, ["doctor", "-o", "json", "--port", str(free_port()),
                                      "--kubelet-port", str(free_port())])
    doc = json.loads(result.output)
    names = {c["name"] for c in doc["checks"]}
    assert {"root", "runc", "conmon", "cni plugins", "iptables", "overlayfs", "cgroups", "kubectl"} <= names
    assert result.exit_code == (0 if doc["ok"] else 1)
