"""``kyb agent``: one node of a cluster whose control plane runs elsewhere (``kyb server``).

    kyb agent --kubeconfig node.kubeconfig [--data-dir D] [--node-name N] [--node-ip IP]
              [--registry-config registries.yaml] [--kubelet-port 10250]
              [--tls-cert-file F --tls-private-key-file K --client-ca-file CA] [--disable dns]

Runs the node's components as supervised children, each restarted with backoff if it dies: the
service proxy (``kyb proxy``), the cluster DNS (``kyb dns``, answering on the node's address, port
53, which the kubelet then gives pods as their nameserver) and the kubelet (``kyb kubelet``). Joining with ``--server URL --token T`` (bootstrap tokens) is the multi-node work's; for
now the node's kubeconfig is given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kybernetes.cli.kubelet import _ip
from kybernetes.cli.options import resolve_data_dir

AGENT_COMPONENTS = ("proxy", "dns")


def agent_specs(*, kubeconfig: Path, data_dir: Path, node_name: str, node_ip: str, registry_config: Path | None,
                kubelet_port: int, tls: tuple[Path | None, Path | None, Path | None], disabled: tuple[str, ...],
                stop_pods: bool, quiet: bool) -> list:
    from kybernetes.kubelet.real_machine import node_name as default_node_name
    from kybernetes.kubelet.real_machine import primary_address
    from kybernetes.util.supervisor import ChildSpec

    name = node_name or default_node_name()
    address = node_ip or primary_address()
    level = "warning" if quiet else "info"
    specs = []
    if "proxy" not in disabled:
        specs.append(ChildSpec("proxy", [sys.executable, "-m", "kybernetes.cli", "proxy", "--kubeconfig",
                                         str(kubeconfig), "--node-name", name, "--node-ip", address,
                                         "--log-level", level]))
    dns = "dns" not in disabled
    if dns:
        specs.append(ChildSpec("dns", [sys.executable, "-m", "kybernetes.cli", "dns", "--kubeconfig", str(kubeconfig),
                                       "--listen", f"{address}:53", "--log-level", level]))
    argv = [sys.executable, "-m", "kybernetes.cli", "kubelet", "--kubeconfig", str(kubeconfig),
            "--data-dir", str(data_dir), "--node-name", name, "--node-ip", address,
            "--kubelet-port", str(kubelet_port), "--log-level", level]
    cert, key, ca = tls
    if cert and key and ca:
        argv += ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key), "--client-ca-file", str(ca)]
    if registry_config:
        argv += ["--registry-config", str(Path(registry_config).absolute())]
    if dns:
        argv += ["--cluster-dns", address]
    if stop_pods:
        argv.append("--stop-pods")
    specs.append(ChildSpec("kubelet", argv))
    return specs


@click.command("agent")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="The node's credentials for the apiserver.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The node's images, containers and volumes [default: /var/lib/kybernetes for root].")
@click.option("--node-name", default="", help="The Node's name [default: the hostname, lower case].")
@click.option("--node-ip", default="", callback=_ip, help="The node's InternalIP [default: the default route's "
                                                          "interface address].")
@click.option("--registry-config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="registries.yaml (k3s format): registry mirrors and credentials.")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=10250, show_default=True)
@click.option("--tls-cert-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The kubelet server's certificate.")
@click.option("--tls-private-key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--client-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CA of the apiserver's client certificate (who may call the kubelet server).")
@click.option("--disable", "disabled", multiple=True, type=click.Choice(AGENT_COMPONENTS),
              help="A node component not to run (repeatable).")
@click.option("--stop-pods", is_flag=True, help="Stop and remove every pod when the agent stops.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def agent(kubeconfig, data_dir, node_name, node_ip, registry_config, kubelet_port, tls_cert_file,
          tls_private_key_file, client_ca_file, disabled, stop_pods, quiet) -> None:
    """Run this machine's node components against a cluster's apiserver."""
    from kybernetes.cli.control_plane import run_supervised

    if bool(tls_cert_file) != bool(tls_private_key_file):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file go together")
    specs = agent_specs(kubeconfig=kubeconfig.absolute(), data_dir=resolve_data_dir(data_dir), node_name=node_name,
                        node_ip=node_ip, registry_config=registry_config, kubelet_port=kubelet_port,
                        tls=(tls_cert_file, tls_private_key_file, client_ca_file), disabled=tuple(disabled),
                        stop_pods=stop_pods, quiet=quiet)

    def all_ready() -> None:
        if not quiet:
            click.echo("node components running")

    sys.exit(run_supervised(specs, quiet=quiet, on_all_ready=all_ready))
