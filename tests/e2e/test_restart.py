"""`kyb up` comes back after kill -9 of everything and a reboot-like cleanup of the host.

A reboot kills every process of the cluster at once (kyb up, its components, conmon and the
containers) and loses what lives in memory: /run (runc's state, the pods' namespace files), the
pod network's veths and bridge, tmpfs and overlay mounts, cgroups, iptables rules. What is on disk
stays: the data dir with the store, the PKI, the images, the runtime's records, the CNI IPAM files.
Starting `kyb up` again on the same data dir must bring back every object and run the pod again,
in a new sandbox with a new container (restartCount may rise, as in Kubernetes after a reboot).

Real node: run under the shared lock (flock /tmp/kyb-e2e.lock, see the session rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime.runc import cgroups, linux
from kybernetes.proxy import cleanup as proxy_cleanup
from kybernetes.proxy.iptables import Iptables, detect_backend

from .cluster import _descendants
from .real_node_support import RealCluster, busybox_pod, container_status, real_cluster, requirements_missing

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")


def _cgroup_pids(cgroup_root: str) -> set[int]:
    pids: set[int] = set()
    for root in cgroups.hierarchies():
        top = root / cgroup_root
        for dirpath, _, files in os.walk(top) if top.is_dir() else ():
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError, ValueError):
                    pids |= {int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()}
    return pids


def _naming(*needles: str) -> set[int]:
    """Processes whose command line names one of ``needles`` (conmon names the data dir)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if any(n.encode() in cmdline for n in needles):
                    found.add(int(entry.name))
    return found


def kill_everything(rc: RealCluster) -> int:
    """kill -9 every process of the cluster, as a power cut would; how many there were."""
    proc = rc.cluster.process
    assert proc is not None
    killed: set[int] = set()
    for _attempt in range(20):
        pids = {proc.pid, *_descendants(proc.pid), *_cgroup_pids(rc.names.cgroup_root),
                *_naming(str(rc.cluster.data_dir), str(rc.names.run_dir))} - killed
        pids = {p for p in pids if linux.process_alive(p)}
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed |= pids
        time.sleep(0.1)
    proc.wait(10)
    rc.cluster.process = None
    return len(killed)


def forget_like_a_reboot(rc: RealCluster) -> None:
    """Remove what a reboot loses: mounts (namespace files, tmpfs volumes, overlay root
    filesystems), the run dir, the pod network's links, our cgroups, the Service proxy's rules."""
    data, run = str(rc.cluster.data_dir), str(rc.names.run_dir)
    for mount in sorted((m for m in linux.mount_points() if m.startswith((data + "/", run))), key=len,
                        reverse=True):
        linux.umount(mount)
    subprocess.run(["rm", "-rf", run], check=True)
    links = subprocess.run(["ip", "-o", "link", "show", "master", rc.names.bridge], capture_output=True,
                           text=True).stdout
    for line in links.splitlines():
        subprocess.run(["ip", "link", "del", line.split(":")[1].strip().split("@")[0]], capture_output=True)
    subprocess.run(["ip", "link", "del", rc.names.bridge], capture_output=True)
    cgroups.remove_tree(f"/{rc.names.cgroup_root}")
    asyncio.run(proxy_cleanup(Iptables(detect_backend("auto"))))
    assert not cgroups.exists_anywhere(f"/{rc.names.cgroup_root}")
    assert not any(m.startswith((data + "/", run)) for m in linux.mount_points())
    assert not Path("/sys/class/net", rc.names.bridge).exists()


def running(pod: dict) -> bool:
    return "running" in (container_status(pod).get("state") or {})


def test_the_cluster_comes_back_after_kill_9_and_a_reboot_like_cleanup(tmp_path):
    with real_cluster(tmp_path) as rc:
        rc.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                  "data": {"greeting": "hello again"}})
        rc.apply(busybox_pod("survivor", "sh", "-c", "cat /config/greeting; echo; sleep 3600",
                             container={"volumeMounts": [{"name": "config", "mountPath": "/config"}]},
                             volumes=[{"name": "config", "configMap": {"name": "settings"}}]))
        before = rc.wait_pod("survivor", running, what="running")
        old_container = container_status(before)["containerID"]

        assert kill_everything(rc) >= 5  # kyb up, its components, conmon, the container
        forget_like_a_reboot(rc)
        rc.cluster.start()

        node = rc.wait_node_ready()
        assert node["metadata"]["name"] == before["spec"]["nodeName"]
        assert rc.kubectl("get", "configmap", "settings", "-o", "jsonpath={.data.greeting}").stdout == "hello again"
        after = rc.wait_pod("survivor", lambda p: running(p) and container_status(p)["containerID"] != old_container,
                            timeout=60, what="running in a new container")
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["status"]["podIP"], after["status"]
        logs = rc.kubectl("logs", "survivor").stdout
        assert "hello again" in logs, logs
        # the new sandbox has a working network namespace and the volume mounted again
        out = rc.kubectl("exec", "survivor", "--", "sh", "-c", "cat /config/greeting; ip -o addr show eth0")
        assert "hello again" in out.stdout and after["status"]["podIP"] in out.stdout, out.stdout
        assert container_status(after)["restartCount"] >= 1
        # the lost sandbox's address went back to the pool when the runtime found it gone
        assert allocated_addresses(rc) == [after["status"]["podIP"]]


def allocated_addresses(rc: RealCluster) -> list[str]:
    """The pod addresses host-local IPAM holds (one file per address) for this node."""
    found = []
    for path in (rc.cluster.data_dir / "cni" / "ipam").rglob("*"):
        with contextlib.suppress(ValueError):
            found.append(str(ipaddress.ip_address(path.name)))
    return sorted(found)
