"""What a real node reports about the machine it runs on, and the host names it may claim.

    machine_node_config(...)  NodeConfig from the machine: addresses, CPU, memory, ephemeral
                              storage (the data dir's filesystem), pods=110, nodeInfo (kernel,
                              OS image from /etc/os-release, machine id, boot id, architecture)
    HostNames.for_data_dir    the names of what the node puts on the host (runtime directory
                              under /run, cgroup root, CNI bridge and network)

Why host names depend on the data dir: every data dir is one node, and two nodes on one machine
(two ``kyb up`` in tests, a node beside a test cluster) must never share a bridge, a cgroup tree
or runc's state directory, or uninstalling one would tear down the other. The default data dir
keeps the plain names (``/run/kybernetes``, cgroup ``kybernetes``, bridge ``kyb0``); any other gets
a short suffix derived from its path, stable across restarts so a restarted node finds its
containers again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.node_status import NodeConfig
from kybernetes.util.netaddr import local_addresses

DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")
DEFAULT_RUN_DIR = Path("/run/kybernetes")
MAX_PODS = 110

_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
                  "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class HostNames:
    run_dir: Path
    cgroup_root: str
    bridge: str
    network: str

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> HostNames:
        path = Path(data_dir).absolute()
        if path == DEFAULT_DATA_DIR:
            return cls(DEFAULT_RUN_DIR, "kybernetes", "kyb0", "kyb")
        suffix = hashlib.sha256(str(path).encode()).hexdigest()[:6]
        return cls(Path(f"{DEFAULT_RUN_DIR}-{suffix}"), f"kybernetes-{suffix}", f"kyb-{suffix}", f"kyb-{suffix}")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def os_image() -> str:
    """PRETTY_NAME of /etc/os-release (what ``kubectl get nodes -o wide`` shows as OS-IMAGE)."""
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"') or "Linux"
    return "Linux"


def memory_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def architecture() -> str:
    machine = platform.machine()
    return _ARCHITECTURES.get(machine, machine or "amd64")


def node_name() -> str:
    """The hostname, lower case, as the kubelet's default --hostname-override."""
    return socket.gethostname().lower() or "localhost"


def primary_address() -> str:
    """The IPv4 address of the interface holding the default route, else the first non-loopback
    address, else loopback. (A UDP socket's connect only picks a route; nothing is sent.)"""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            address = s.getsockname()[0]
            if address and not address.startswith("0."):
                return address
    except OSError:
        pass
    for address in local_addresses():
        if "." in address and not address.startswith("127."):
            return address
    return "127.0.0.1"


def _kibibytes(n: int) -> str:
    return f"{n // 1024}Ki"


def machine_node_config(name: str, data_dir: Path | str, *, internal_ip: str = "", kubelet_version: str,
                        runtime_version: str, labels: dict[str, str] | None = None,
                        pods: int = MAX_PODS) -> NodeConfig:
    try:
        storage = shutil.disk_usage(data_dir).total
    except OSError:
        storage = 0
    boot_id = _read("/proc/sys/kernel/random/boot_id")
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    return NodeConfig(
        name=name, internal_ip=internal_ip or primary_address(), cpu=str(cpu_count()),
        memory=_kibibytes(memory_bytes()), pods=pods, ephemeral_storage=_kibibytes(storage),
        labels=dict(labels or {}), kubelet_version=kubelet_version, container_runtime_version=runtime_version,
        os_image=os_image(), kernel_version=platform.release(), operating_system="linux",
        architecture=architecture(), machine_id=machine_id,
        system_uuid=_read("/sys/class/dmi/id/product_uuid") or machine_id, boot_id=boot_id)
