"""``kyb agent``: one node of a cluster whose control plane runs elsewhere (``kyb server``).

    kyb agent --kubeconfig node.kubeconfig [--data-dir D] [--node-name N] [--node-ip IP]
              [--registry-config registries.yaml] [--kubelet-port 10250]
              [--tls-cert-file F --tls-private-key-file K --client-ca-file CA] [--disable dns]
              [--dns-upstream 192.0.2.53,127.0.0.1:5353] [--proxy-mode iptables|nftables]

Runs the node's components as supervised children, each restarted with backoff if it dies: the
service proxy (``kyb proxy``), the cluster DNS (``kyb dns``, answering on the node's address, port
53, which the kubelet then gives pods as their nameserver) and the kubelet (``kyb kubelet``). Joining with ``--server URL --token T`` (bootstrap tokens) is the multi-node work's; for
now the node's kubeconfig is given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kybernetes.cli.component import announce, log_format_option
from kybernetes.cli.kubelet import _ip
from kybernetes.cli.options import resolve_data_dir
from kybernetes.cli.proxy import DEFAULT_PROXY_MODE, PROXY_MODE_HELP, PROXY_MODES

AGENT_COMPONENTS = ("proxy", "dns")


def dns_listen_port(address: str, preferred: int = 53) -> int:
    """Port 53 on ``address`` when both UDP and TCP are free there, else a free high port (both
    protocols): the kube-dns Service's targetPort then points at it, so pods still ask port 53."""
    import socket

    def free(port: int) -> int:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as tcp, socket.socket(family, socket.SOCK_DGRAM) as udp:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            udp.bind((address, tcp.getsockname()[1]))
            return tcp.getsockname()[1]

    for port in (preferred, 0, 0, 0):
        try:
            return free(port)
        except OSError:
            continue
    raise click.ClickException(f"no free port for the cluster DNS on {address}")


def check_dns_upstream(ctx, param, value: str) -> str:
    """--dns-upstream: comma-separated ADDR[:PORT]; refused before anything starts when malformed."""
    from kybernetes.dns.forward import parse_upstreams

    try:
        parse_upstreams(value or "")
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value or ""


DNS_UPSTREAM_HELP = ("Resolvers the cluster DNS forwards other names to, comma-separated ADDR[:PORT] "
                     "[default: the nameservers of /etc/resolv.conf].")


def cluster_dns_ip(service_cidr: str) -> str:
    """The kube-dns Service's cluster IP: the tenth address of the (first) service CIDR, as k3s
    picks it (10.43.0.10 for 10.43.0.0/16)."""
    import ipaddress

    network = ipaddress.ip_network(service_cidr.split(",")[0].strip(), strict=False)
    return str(network.network_address + 10)


def node_service_specs(*, kubeconfig: Path, node_name: str, node_address: str, cluster_cidr: str = "",
                       dns_service_ip: str = "", disabled: tuple[str, ...] = (), quiet: bool = False,
                       dns_upstream: str = "", proxy_mode: str = DEFAULT_PROXY_MODE) -> list:
    """The node's service proxy (``kyb proxy``) and cluster DNS (``kyb dns``) children. With
    ``dns_service_ip`` the DNS server registers the kube-dns Service at that cluster IP with this
    node's address and port behind it (the proxy DNATs the cluster IP there); without, pods are
    given the node's address directly and the server listens on port 53. ``dns_upstream`` is
    ``kyb dns --upstream`` (names outside the cluster domain go there); ``proxy_mode`` is
    ``kyb proxy --proxy-mode``."""
    from kybernetes.util.supervisor import ChildSpec

    level = "warning" if quiet else "info"
    specs = []
    if "proxy" not in disabled:
        argv = [sys.executable, "-m", "kybernetes.cli", "proxy", "--kubeconfig", str(kubeconfig),
                "--node-name", node_name, "--node-ip", node_address, "--proxy-mode", proxy_mode, "--log-level", level]
        if cluster_cidr:
            argv += ["--cluster-cidr", cluster_cidr]
        specs.append(ChildSpec("proxy", argv))
    if "dns" not in disabled:
        argv = [sys.executable, "-m", "kybernetes.cli", "dns", "--kubeconfig", str(kubeconfig), "--log-level", level]
        if dns_service_ip:
            port = dns_listen_port(node_address)
            argv += ["--listen", _join_host_port(node_address, port), "--dns-service-ip", dns_service_ip,
                     "--node-name", node_name, "--advertise-address", node_address]
        else:
            argv += ["--listen", _join_host_port(node_address, 53)]
        if dns_upstream:
            argv += ["--upstream", dns_upstream]
        specs.append(ChildSpec("dns", argv))
    return specs


def _join_host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def agent_specs(*, kubeconfig: Path, data_dir: Path, node_name: str, node_ip: str, registry_config: Path | None,
                kubelet_port: int, tls: tuple[Path | None, Path | None, Path | None], disabled: tuple[str, ...],
                stop_pods: bool, quiet: bool, dns_upstream: str = "", proxy_mode: str = DEFAULT_PROXY_MODE) -> list:
    from kybernetes.kubelet.real_machine import node_name as default_node_name
    from kybernetes.kubelet.real_machine import primary_address
    from kybernetes.util.supervisor import ChildSpec

    name = node_name or default_node_name()
    address = node_ip or primary_address()
    level = "warning" if quiet else "info"
    specs = node_service_specs(kubeconfig=kubeconfig, node_name=name, node_address=address, disabled=disabled,
                               quiet=quiet, dns_upstream=dns_upstream, proxy_mode=proxy_mode)
    dns = "dns" not in disabled
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
@click.option("--dns-upstream", default="", callback=check_dns_upstream, help=DNS_UPSTREAM_HELP)
@click.option("--proxy-mode", type=click.Choice(PROXY_MODES), default=DEFAULT_PROXY_MODE, show_default=True,
              help=PROXY_MODE_HELP)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@log_format_option
def agent(kubeconfig, data_dir, node_name, node_ip, registry_config, kubelet_port, tls_cert_file,
          tls_private_key_file, client_ca_file, disabled, stop_pods, dns_upstream, proxy_mode, quiet) -> None:
    """Run this machine's node components against a cluster's apiserver."""
    from kybernetes.cli.control_plane import run_supervised

    if bool(tls_cert_file) != bool(tls_private_key_file):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file go together")
    specs = agent_specs(kubeconfig=kubeconfig.absolute(), data_dir=resolve_data_dir(data_dir), node_name=node_name,
                        node_ip=node_ip, registry_config=registry_config, kubelet_port=kubelet_port,
                        tls=(tls_cert_file, tls_private_key_file, client_ca_file), disabled=tuple(disabled),
                        stop_pods=stop_pods, quiet=quiet, dns_upstream=dns_upstream, proxy_mode=proxy_mode)

    def all_ready() -> None:
        if not quiet:
            announce("node components running")

    sys.exit(run_supervised(specs, quiet=quiet, on_all_ready=all_ready))
