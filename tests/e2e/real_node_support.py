"""Support for the real-node e2e tests (no tests here): `kyb up` with its real kubelet, images
from a registry on loopback reached through registries.yaml, and a teardown that leaves the host
as it was.

    with real_cluster() as rc:                 # registry + `kyb up --stop-pods ...`
        rc.cluster.kubectl(...)                 # the KybCluster
        rc.apply(POD_YAML); rc.wait_pod("p", lambda pod: ...)
        rc.host_state()                         # our netns files, veths, mounts, cgroups, conmons

Teardown: every pod deleted, `kyb up` stopped (its kubelet removes every container with
--stop-pods), the pod network uninstalled (bridge, IPAM, iptables chains), the runtime's leftovers
removed by force if a test failed half-way, and the temp dirs deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from kybernetes.kubelet.network import PodNetwork
from kybernetes.kubelet.real_machine import HostNames
from kybernetes.kubelet.runtime.runc import cgroups, linux
from kybernetes.proxy import cleanup as proxy_cleanup
from kybernetes.proxy.iptables import Iptables, detect_backend
from tests.support.oci import build_image, busybox_layer, push_image
from tests.support.registry import LocalRegistry

from .cluster import KybCluster, free_port

IMAGE = "docker.io/library/busybox:1.36"  # served by the loopback registry through the mirror


def requirements_missing() -> str:
    if os.geteuid() != 0:
        return "needs root"
    for path in ("/usr/sbin/runc", "/usr/bin/conmon", "/bin/busybox", "/usr/bin/docker-registry",
                 "/usr/lib/cni/bridge"):
        if not Path(path).exists():
            return f"needs {path} (make setup installs it)"
    return ""


@dataclass
class RealCluster:
    cluster: KybCluster
    registry: LocalRegistry
    names: HostNames

    def kubectl(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.cluster.kubectl(*args, **kwargs)

    def apply(self, manifest: str | dict) -> None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        self.kubectl("apply", "-f", "-", input=text)

    def pod(self, name: str, namespace: str = "default") -> dict | None:
        out = self.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def wait_pod(self, name: str, check: Callable[[dict], bool], timeout: float = 60.0, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        pod = None
        while time.monotonic() < deadline:
            pod = self.pod(name)
            if pod is not None and check(pod):
                return pod
            time.sleep(0.3)
        status = json.dumps((pod or {}).get("status"), indent=1)
        events = self.kubectl("get", "events", "-o", "wide", check=False).stdout[-3000:]
        raise AssertionError(f"pod {name}: {what or 'condition'} not reached in {timeout}s\nstatus: {status}\n"
                             f"events:\n{events}\nlog:\n{self.cluster.log_tail(60)}")

    def wait_node_ready(self, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nodes = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)["items"]
            for node in nodes:
                ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
                if ready and node["spec"].get("podCIDR"):
                    return node
            time.sleep(0.3)
        raise AssertionError(f"the node was not Ready with a podCIDR in {timeout}s:\n{self.cluster.log_tail(60)}")

    def delete_pod(self, name: str, *, wait: bool = True) -> None:
        self.kubectl("delete", "pod", name, "--ignore-not-found", f"--wait={'true' if wait else 'false'}",
                     timeout=90)

    def host_state(self) -> dict[str, list[str]]:
        """What of ours is on the host now: sandbox namespace files, veths on our bridge, mounts
        under our dirs, pod cgroups, conmon processes of this node."""
        data = str(self.cluster.data_dir)
        run = str(self.names.run_dir)
        ns_dir = self.names.run_dir / "ns" / "net"
        state = {"mounts": sorted(m for m in linux.mount_points() if m.startswith((data, run)))}
        state["netns"] = sorted(p.name for p in ns_dir.iterdir()) if ns_dir.is_dir() else []
        links = subprocess.run(["ip", "-o", "link", "show", "master", self.names.bridge], capture_output=True,
                               text=True).stdout
        state["veths"] = sorted(line.split(":")[1].strip() for line in links.splitlines() if line.strip())
        root = Path("/sys/fs/cgroup/memory") / self.names.cgroup_root
        if not root.exists():
            root = Path("/sys/fs/cgroup/unified") / self.names.cgroup_root
        state["cgroups"] = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        state["conmon"] = sorted(line.split()[0] for line in ps.splitlines() if "conmon" in line and data in line)
        return state


def busybox_pod(name: str, *command: str, **spec_extra) -> dict:
    container = {"name": spec_extra.pop("container_name", "main"), "image": IMAGE, "command": list(command)}
    container.update(spec_extra.pop("container", {}))
    spec = {"containers": [container], "terminationGracePeriodSeconds": 1, **spec_extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def container_status(pod: dict, name: str = "main", init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    return next((c for c in (pod.get("status") or {}).get(key) or [] if c.get("name") == name), {})


def condition(pod: dict, type_: str) -> str:
    return next((c.get("status", "") for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == type_), "")


def _registries_yaml(path: Path, registry: LocalRegistry) -> Path:
    path.write_text(yaml.safe_dump({"mirrors": {"docker.io": {"endpoint": [registry.url]}}}))
    return path


def _force_cleanup(rc: RealCluster) -> None:
    """After a failed test: kill and delete whatever the kubelet could not remove."""
    runc_root = rc.names.run_dir / "runc"
    for state in list(runc_root.iterdir()) if runc_root.exists() else []:
        subprocess.run(["runc", "--root", str(runc_root), "delete", "--force", state.name], capture_output=True)
    for pid in rc.host_state()["conmon"]:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)
    for m in sorted(linux.mount_points(), key=len, reverse=True):
        if m.startswith((str(rc.cluster.data_dir), str(rc.names.run_dir))):
            linux.umount(m)
    cgroups.remove_tree(f"/{rc.names.cgroup_root}")
    subprocess.run(["rm", "-rf", str(rc.names.run_dir)], capture_output=True)


@contextlib.contextmanager
def real_cluster(tmp: Path, *extra_args: str, tags: tuple[str, ...] = ("1.36",),
                 home: Path | None = None) -> Iterator[RealCluster]:
    """A registry serving busybox at ``tags`` (images that differ in their config), then `kyb up`
    with its real node; ``extra_args`` are more `kyb up` flags. With ``home``, `kyb up` runs with
    HOME there and no KUBECONFIG, so it merges its context into home/.kube/config."""
    with LocalRegistry() as registry:
        for tag in tags:
            image = build_image([busybox_layer()], cmd=["sh"], labels={"org.opencontainers.image.version": tag})
            push_image(registry.url, "library/busybox", tag, image)
        config = _registries_yaml(tmp / "registries.yaml", registry)
        cidr = f"10.{random.randint(160, 250)}.0.0/16"
        cluster = KybCluster(Path(tempfile.mkdtemp(prefix="kyb-e2e-")), free_port(),
                             ("--node", "--kubelet-port", "0", "--cluster-cidr", cidr, "--registry-config",
                              str(config), "--stop-pods", *extra_args))
        if home is not None:
            cluster.up_env = {k: v for k, v in cluster.env.items() if k != "KUBECONFIG"} | {"HOME": str(home)}
        rc = RealCluster(cluster, registry, HostNames.for_data_dir(cluster.data_dir))
        try:
            cluster.start()
            rc.wait_node_ready()
            yield rc
        finally:
            try:
                rc.kubectl("delete", "deployments,pods", "--all", "--wait=true", "--timeout=60s", check=False,
                           timeout=90)
                cluster.stop()
                report = asyncio.run(PodNetwork(cluster.data_dir, network_name=rc.names.network,
                                                bridge_name=rc.names.bridge).uninstall())
                # kyb up's node runs the Service proxy too: its chains go with the cluster.
                asyncio.run(proxy_cleanup(Iptables(detect_backend("auto"))))
                leaked = {k: v for k, v in rc.host_state().items() if v}
                if rc.names.run_dir.exists():
                    leaked["run dir"] = [str(p) for p in rc.names.run_dir.rglob("*")] or [str(rc.names.run_dir)]
                if report.errors:
                    leaked["pod network uninstall"] = report.errors
                _force_cleanup(rc)
                assert not leaked, f"kyb up --stop-pods left behind: {leaked}"
            finally:
                cluster.close()
