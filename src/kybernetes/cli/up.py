"""``kyb up``: a whole cluster on this machine, in the foreground.

The control plane (see control_plane.py), with --node this machine's node (``kyb kubelet``,
runc containers, see cli/kubelet.py; the service proxy ``kyb proxy`` and the cluster DNS ``kyb dns``
behind the kube-dns Service, see cli/agent.py) and, with --sim-nodes N, simulated nodes beside it. Starting
again on the same --data-dir keeps every object: the store, the CA and the certificates are
reused, only the kubeconfig is rewritten (the port may have changed). Pods keep running when
``kyb up`` stops, as with k3s, unless --stop-pods is given; the next start takes them over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
from pathlib import Path

import click

from kybernetes import KUBERNETES_VERSION, __version__
from kybernetes.cli.agent import DNS_UPSTREAM_HELP, check_dns_upstream, cluster_dns_ip, node_service_specs
from kybernetes.cli.component import announce, log_format_option
from kybernetes.cli.control_plane import control_plane_specs, prepare, run_supervised, simulated_nodes_spec
from kybernetes.cli.kubelet import kubelet_spec
from kybernetes.cli.options import cluster_options, resolve_data_dir
from kybernetes.cli.proxy import DEFAULT_PROXY_MODE, PROXY_MODE_HELP, PROXY_MODES
from kybernetes.cli.status import COMPONENTS_FILE, PID_FILE, pid_alive


@click.command()
@cluster_options
@click.option("--sim-nodes", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="Simulated nodes (fake runtime) to run beside the cluster.")
@click.option("--node/--no-node", "run_node", default=True, show_default=True,
              help="Run this machine's node (kubelet with runc containers) beside the control plane.")
@click.option("--node-name", default="", help="This machine's Node [default: the hostname, lower case].")
@click.option("--node-ip", default="", help="The node's InternalIP [default: --bind-address when it is one "
                                            "address, else the default route's interface address].")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=10250, show_default=True,
              help="The kubelet server's port (0: any free port).")
@click.option("--registry-config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="registries.yaml (k3s format): registry mirrors and credentials for the node.")
@click.option("--stop-pods", is_flag=True, help="Stop and remove every pod of the node when kyb up stops.")
@click.option("--dns-upstream", default="", callback=check_dns_upstream, help=DNS_UPSTREAM_HELP)
@click.option("--proxy-mode", type=click.Choice(PROXY_MODES), default=DEFAULT_PROXY_MODE, show_default=True,
              help=PROXY_MODE_HELP)
@click.option("--no-kubeconfig-merge", is_flag=True,
              help="Do not merge the admin kubeconfig into ~/.kube/config (or $KUBECONFIG) as context kybernetes.")
@log_format_option
def up(data_dir, port, bind_address, store_url, cluster_cidr, disabled, quiet, sim_nodes, node_name, node_ip,
       kubelet_port, registry_config, stop_pods, no_kubeconfig_merge, run_node, dns_upstream, proxy_mode) -> None:
    """Run a one-machine cluster in the foreground until SIGTERM or Ctrl-C."""
    data_dir = resolve_data_dir(data_dir)
    refuse_if_running(data_dir / PID_FILE)
    if not quiet:
        announce(f"Kybernetes {__version__} (Kubernetes {KUBERNETES_VERSION}), data in {data_dir}")
    plane = prepare(data_dir, port=port, bind_address=bind_address, store_url=store_url,
                    cluster_cidr=cluster_cidr, disabled=disabled)
    merged = None if no_kubeconfig_merge else merge_admin_kubeconfig(plane.kubeconfig)

    def all_ready() -> None:
        if quiet:
            return
        announce(f"Cluster ready at {plane.server_url}. To use it:")
        announce(f"  export KUBECONFIG={shlex.quote(str(plane.kubeconfig))}; kubectl get ns")
        if merged:
            announce(f"  or: kubectl --context kybernetes get ns   (merged into {merged})")

    specs = control_plane_specs(plane, quiet=quiet)
    if run_node and "kubelet" not in disabled:
        specs += node_specs(plane, node_name=node_name, node_ip=node_ip, kubelet_port=kubelet_port,
                            registry_config=registry_config, stop_pods=stop_pods, quiet=quiet,
                            dns_upstream=dns_upstream, proxy_mode=proxy_mode)
    if sim_nodes:
        specs.append(simulated_nodes_spec(plane, sim_nodes, quiet=quiet))
    with pid_file(data_dir / PID_FILE):
        code = run_supervised(specs, quiet=quiet, on_all_ready=all_ready, state_file=data_dir / COMPONENTS_FILE)
    sys.exit(code)


def node_specs(plane, *, node_name: str, node_ip: str, kubelet_port: int, registry_config: Path | None,
               stop_pods: bool, quiet: bool, dns_upstream: str = "", proxy_mode: str = DEFAULT_PROXY_MODE) -> list:
    """This machine's node: the service proxy and the cluster DNS (unless --disable'd), then the
    kubelet, which gives pods the kube-dns Service's cluster IP as their nameserver."""
    from kybernetes.kubelet.real_machine import node_name as default_node_name
    from kybernetes.kubelet.real_machine import primary_address

    name = node_name or default_node_name()
    address = node_ip or (plane.bind_address if plane.bind_address not in ("0.0.0.0", "::", "") else "")
    dns_ip = cluster_dns_ip(plane.service_cidr) if "dns" not in plane.disabled else ""
    specs = node_service_specs(kubeconfig=plane.kubeconfig, node_name=name, node_address=address or primary_address(),
                               cluster_cidr=plane.cluster_cidr, dns_service_ip=dns_ip, disabled=plane.disabled,
                               quiet=quiet, dns_upstream=dns_upstream, proxy_mode=proxy_mode)
    specs.append(kubelet_spec(plane, node_name=name, node_ip=address, kubelet_port=kubelet_port,
                              registry_config=registry_config, cluster_dns=dns_ip, stop_pods=stop_pods, quiet=quiet))
    return specs


def refuse_if_running(path: Path) -> None:
    try:
        other = int(path.read_text().strip())
    except (OSError, ValueError):
        return
    if other != os.getpid() and pid_alive(other):
        raise click.ClickException(f"kyb up is already running on this data dir (pid {other})")


@contextlib.contextmanager
def pid_file(path: Path):
    """DATA_DIR/run/kyb.pid while ``kyb up`` runs (how `kyb uninstall` finds it); refuses a second
    ``kyb up`` on the same data dir."""
    refuse_if_running(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if int(path.read_text().strip()) == os.getpid():
                path.unlink()


ADMIN_CONTEXT = "kybernetes"
ADMIN_USER = "kybernetes-admin"


def merge_admin_kubeconfig(source: Path) -> Path | None:
    """Merge the admin kubeconfig into $KUBECONFIG's first file or ~/.kube/config as context
    ``kybernetes``; other contexts and the current one stay as they were. The user is renamed so an
    unrelated "admin" user there is never replaced. The file merged into, or None (skipped, failed)."""
    from kybernetes.client.kubeconfig import (
        KubeconfigError,
        default_kubeconfig_path,
        merge_into,
        read_kubeconfig,
    )

    target = default_kubeconfig_path()
    try:
        if target.exists() and target.resolve() == source.resolve():
            return None
        doc = read_kubeconfig(source)
        for user in doc.get("users") or []:
            user["name"] = ADMIN_USER
        for context in doc.get("contexts") or []:
            context["context"]["user"] = ADMIN_USER
        merge_into(target, doc)
    except (KubeconfigError, OSError) as e:
        announce(f"kyb: could not merge the kubeconfig into {target}: {e}", err=True, level=logging.WARNING)
        return None
    return target
