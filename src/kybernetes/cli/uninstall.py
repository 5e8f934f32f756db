"""``kyb uninstall [--purge]``: stop the cluster on this machine and take back what it put there.

    1. processes   kyb up (DATA_DIR/run/kyb.pid): SIGTERM, SIGKILL with its descendants after
                   --timeout; then any other process naming our dirs (a component orphaned by
                   kill -9), except conmon, which the runtime stops with its container
    2. containers  the runtime's own uninstall (every sandbox and container it recorded, its
                   namespace mount, its cgroup root), then a sweep of what it no longer knows:
                   ``runc --root RUN_DIR/runc list`` entries deleted by force, processes left in
                   our cgroups killed, the cgroups removed
    3. network     the pod network's uninstall (CNI DEL of every attachment, the bridge, host-local
                   state, our iptables chains, the sysctls we changed); the Service proxy's chains
                   and rules (``kyb proxy --cleanup``)
    4. mounts      whatever is still mounted under the data dir or the node's /run dir, deepest first
    5. files       the node's /run dir and DATA_DIR/run; with --purge the data dir itself and the
                   ``kybernetes`` context `kyb up` merged into ~/.kube/config

Every step is best effort and idempotent: a failure is reported and the next step still runs, so
a second ``kyb uninstall`` finishes what the first could not. The exit code is 1 when anything
failed or something of ours is still there afterwards (checked with util.hoststate).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import click

from kybernetes.cli.options import resolve_data_dir
from kybernetes.cli.status import PID_FILE, pid_alive
from kybernetes.util import hoststate


class Steps:
    """Collects what each step did and what failed, and prints it as it goes."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.errors: list[str] = []

    def done(self, what: str) -> None:
        if not self.quiet:
            click.echo(f"  {click.style('✓', fg='green')} {what}")

    def failed(self, what: str) -> None:
        self.errors.append(what)
        click.echo(f"  {click.style('✗', fg='red')} {what}", err=True)


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (the components run in their own process groups)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if pid_alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _stop(pids: list[int], timeout: float) -> list[int]:
    """SIGTERM, then SIGKILL what is left after ``timeout``; the pids that had to be killed."""
    _signal(pids, signal.SIGTERM)
    left = _wait_gone(pids, timeout)
    _signal(left, signal.SIGKILL)
    _wait_gone(left, 5.0)
    return left


def stop_kyb_up(data_dir: Path, timeout: float, steps: Steps) -> None:
    pid_path = data_dir / PID_FILE
    try:
        pid = int(pid_path.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and pid_alive(pid):
        tree = [pid, *_children(pid)]
        # kyb up stops its components itself on SIGTERM; SIGKILL only what remains after timeout
        os.kill(pid, signal.SIGTERM)
        if _wait_gone([pid], timeout):
            _signal(tree, signal.SIGKILL)
            steps.done(f"kyb up (pid {pid}) did not stop within {timeout:g}s: killed")
        else:
            steps.done(f"stopped kyb up (pid {pid})")
        _wait_gone(tree, 5.0)
    pid_path.unlink(missing_ok=True)
    strays = [int(p.split(" ", 1)[0]) for p in hoststate.snapshot([data_dir], ["processes"]).processes
              if "conmon" not in p.split(" ", 2)[1]]
    if strays:
        killed = _stop(strays, 5.0)
        steps.done(f"stopped {len(strays)} leftover process(es) ({len(killed)} killed)")


def _host_names(data_dir: Path):
    from kybernetes.kubelet.real_machine import HostNames

    return HostNames.for_data_dir(data_dir)


def remove_containers(data_dir: Path, steps: Steps) -> None:
    from kybernetes.kubelet.runtime.runc import cgroups

    names = _host_names(data_dir)
    if (data_dir / "state").is_dir():
        try:
            asyncio.run(_runtime_uninstall(data_dir, names))
            steps.done("removed every pod sandbox and container")
        except Exception as e:  # the sweep below still runs
            steps.failed(f"runtime uninstall: {e}")
    runc_root = names.run_dir / "runc"
    runc = shutil.which("runc", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if runc_root.is_dir() and runc:
        listed = subprocess.run([runc, "--root", str(runc_root), "list", "-q"], capture_output=True, text=True)
        for container in listed.stdout.split():
            gone = subprocess.run([runc, "--root", str(runc_root), "delete", "--force", container],
                                  capture_output=True, text=True)
            (steps.done if gone.returncode == 0 else steps.failed)(f"runc delete --force {container[:12]}")
    procs = _cgroup_processes(names.cgroup_root)
    if procs:
        _stop(procs, 2.0)
        steps.done(f"killed {len(procs)} process(es) left in cgroup {names.cgroup_root}")
    cgroups.remove_tree(f"/{names.cgroup_root}")
    if cgroups.exists_anywhere(f"/{names.cgroup_root}"):
        steps.failed(f"cgroup {names.cgroup_root} could not be removed")


async def _runtime_uninstall(data_dir: Path, names) -> None:
    from kybernetes.kubelet.images.service import OciImageService, default_store_dir
    from kybernetes.kubelet.network import PodNetwork
    from kybernetes.kubelet.runtime.runc import RuncRuntime
    from kybernetes.kubelet.runtime.runc.images import StoreImages

    images = OciImageService(default_store_dir(data_dir))
    network = PodNetwork(data_dir, network_name=names.network, bridge_name=names.bridge, run_dir=names.run_dir)
    runtime = RuncRuntime(data_dir, StoreImages(images.store), network=network, run_dir=names.run_dir,
                          cgroup_root=names.cgroup_root)
    await runtime.uninstall()


def _cgroup_processes(cgroup_root: str) -> list[int]:
    from kybernetes.kubelet.runtime.runc import cgroups

    pids: set[int] = set()
    for root in cgroups.hierarchies():
        top = root / cgroup_root
        for dirpath, _, files in os.walk(top) if top.is_dir() else ():
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError, ValueError):
                    pids |= {int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()}
    return sorted(pids - {os.getpid()})


def remove_network(data_dir: Path, steps: Steps) -> None:
    from kybernetes.kubelet.network import PodNetwork

    names = _host_names(data_dir)
    if (data_dir / "cni").exists() or Path("/sys/class/net", names.bridge).exists():
        try:
            report = asyncio.run(PodNetwork(data_dir, network_name=names.network, bridge_name=names.bridge,
                                            run_dir=names.run_dir).uninstall())
        except Exception as e:
            steps.failed(f"pod network uninstall: {e}")
        else:
            for error in report.errors:
                steps.failed(f"pod network: {error}")
            steps.done(f"removed the pod network ({len(report.attachments)} attachment(s), "
                       f"{len(report.chains)} iptables chain(s), links {', '.join(report.links) or 'none'})")
    _proxy_uninstall(data_dir, steps)


def _proxy_uninstall(data_dir: Path, steps: Steps) -> None:
    """The Service proxy's chains, jump rules and nftables table (what ``kyb proxy --cleanup``
    removes; a host without iptables or nft has nothing of that kind to remove)."""
    from kybernetes.proxy import cleanup
    from kybernetes.proxy.iptables import IptablesError
    from kybernetes.proxy.nft_tool import NftError

    try:
        removed = asyncio.run(cleanup())
    except (IptablesError, NftError, OSError, ValueError) as e:
        steps.failed(f"proxy cleanup: {e}")
        return
    if removed:
        steps.done("removed the Service proxy's chains, rules and nftables table")


def unmount_leftovers(data_dir: Path, steps: Steps) -> None:
    from kybernetes.kubelet.runtime.runc import linux

    dirs = [data_dir, _host_names(data_dir).run_dir]
    for mount in sorted(hoststate.snapshot([data_dir], ["mounts"]).mounts, key=len, reverse=True):
        try:
            linux.umount(mount)
            steps.done(f"unmounted {mount}")
        except OSError as e:
            steps.failed(f"umount {mount}: {e}")
    still = hoststate.snapshot([data_dir], ["mounts"]).mounts
    if not still:
        for d in dirs[1:]:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(data_dir / "run", ignore_errors=True)


def purge(data_dir: Path, steps: Steps) -> None:
    remove_merged_context(data_dir, steps)
    if hoststate.snapshot([data_dir], ["mounts"]).mounts:
        steps.failed(f"{data_dir} still has mounts under it: not removed")
        return
    if data_dir.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
        (steps.failed if data_dir.exists() else steps.done)(f"removed {data_dir}")


def remove_merged_context(data_dir: Path, steps: Steps) -> None:
    """Take out of ~/.kube/config (or $KUBECONFIG) the context `kyb up` merged, but only when its
    cluster is this one (same CA): another cluster's "kybernetes" context is not ours to remove."""
    from kybernetes.cli.up import ADMIN_CONTEXT, ADMIN_USER
    from kybernetes.client.kubeconfig import (
        KubeconfigError,
        default_kubeconfig_path,
        read_kubeconfig,
        write_kubeconfig,
    )

    target, source = default_kubeconfig_path(), data_dir / "kubeconfig"
    try:
        if not target.exists() or not source.exists() or target.resolve() == source.resolve():
            return
        ours = read_kubeconfig(source)
        ca = (ours.get("clusters") or [{}])[0].get("cluster", {}).get("certificate-authority-data")
        doc = read_kubeconfig(target)
        theirs = next((c for c in doc.get("clusters") or [] if c.get("name") == ADMIN_CONTEXT), None)
        if not ca or theirs is None or theirs.get("cluster", {}).get("certificate-authority-data") != ca:
            return
        for section, name in (("clusters", ADMIN_CONTEXT), ("contexts", ADMIN_CONTEXT), ("users", ADMIN_USER)):
            doc[section] = [e for e in doc.get(section) or [] if e.get("name") != name]
        if doc.get("current-context") == ADMIN_CONTEXT:
            doc["current-context"] = ""
        if any(doc.get(section) for section in ("clusters", "users", "contexts")):
            write_kubeconfig(target, doc)
        else:  # kyb up created it: leave no empty file behind
            target.unlink()
            with contextlib.suppress(OSError):
                target.parent.rmdir()
        steps.done(f"removed context {ADMIN_CONTEXT} from {target}")
    except (KubeconfigError, OSError) as e:
        steps.failed(f"kubeconfig {target}: {e}")


def leftovers(data_dir: Path) -> dict[str, list[str]]:
    """What of this cluster is still on the host: processes, mounts, netns files under our dirs,
    and our cgroup tree (other clusters' kybernetes-* cgroups are theirs)."""
    from kybernetes.kubelet.runtime.runc import cgroups

    state = hoststate.snapshot([data_dir], ["processes", "mounts", "netns"])
    names = _host_names(data_dir)
    mine = (str(data_dir) + "/", str(names.run_dir) + "/")
    left = {k: sorted(getattr(state, k)) for k in ("processes", "mounts") if getattr(state, k)}
    netns = sorted(n for n in state.netns if n.startswith(mine))
    if netns:
        left["netns"] = netns
    cgroup_root = names.cgroup_root
    if cgroups.exists_anywhere(f"/{cgroup_root}"):
        left["cgroups"] = [cgroup_root]
    return left


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The cluster's data dir [default: as `kyb up`].")
@click.option("--purge", "purge_data", is_flag=True, help="Also delete the data dir (every object, the PKI, images) and the "
                                            "merged kubeconfig context.")
@click.option("--timeout", type=click.FloatRange(0, 600), default=30.0, show_default=True,
              help="Seconds kyb up gets to stop before it is killed.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def uninstall(data_dir, purge_data, timeout, quiet) -> None:
    """Stop the cluster on this machine and remove what it put on the host."""
    data_dir = resolve_data_dir(data_dir)
    root_needed = (data_dir / "state").is_dir() or _host_names(data_dir).run_dir.exists()
    if root_needed and os.geteuid() != 0:
        raise click.ClickException("this node's containers, mounts and network need root to remove: "
                                   "run `sudo kyb uninstall`")
    steps = Steps(quiet)
    if not quiet:
        click.echo(f"Uninstalling the cluster of {data_dir}")
    stop_kyb_up(data_dir, timeout, steps)
    if os.geteuid() == 0:
        remove_containers(data_dir, steps)
        remove_network(data_dir, steps)
    unmount_leftovers(data_dir, steps)
    if purge_data:
        purge(data_dir, steps)
    for kind, items in leftovers(data_dir).items():
        steps.failed(f"still there: {kind}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}")
    if steps.errors:
        raise SystemExit(1)
    if not quiet:
        click.echo("done" + ("" if purge_data else f"; the data dir {data_dir} is kept (--purge deletes it)"))
