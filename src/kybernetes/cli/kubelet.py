"""``kyb kubelet``: this machine's node agent, running the pods bound to it in runc containers.

    kyb kubelet --kubeconfig node.kubeconfig --data-dir /var/lib/kybernetes \\
        [--node-name N] [--node-ip IP] [--registry-config registries.yaml] [--kubelet-port 10250] \\
        [--tls-cert-file F --tls-private-key-file K --client-ca-file CA] \\
        [--cluster-dns IP] [--cluster-domain cluster.local] [--stop-pods] \\
        [--container-log-max-size 10Mi] [--container-log-max-files 5]

Runs until SIGTERM or Ctrl-C; the pods keep running afterwards unless --stop-pods is given, and a
kubelet started again on the same data dir takes them over (same container IDs, no restarts).
Needs root, runc, conmon and the CNI plugins (see kybernetes.kubelet.real_node).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
from pathlib import Path

import click

from kybernetes.cli.component import (
    LOG_LEVELS,
    log_format_option,
    make_client,
    run_until_signalled,
    setup_logging,
)
from kybernetes.cli.options import resolve_data_dir

log = logging.getLogger("kybernetes.kubelet")

REQUIRED_BINARIES = ("runc", "conmon")


def _ip(ctx, param, value):
    if value in (None, ""):
        return value
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise click.BadParameter(f"{v!r} is not an IP address") from None
    return value


def _log_max_size(ctx, param, value):
    from kybernetes.api.quantity import QuantityError, parse_quantity

    try:
        size = int(parse_quantity(value))
    except (QuantityError, ValueError, TypeError):
        raise click.BadParameter(f"{value!r} is not a size (e.g. 10Mi)") from None
    if size < 1:
        raise click.BadParameter("must be greater than zero")
    return size


def check_prerequisites() -> None:
    """Refuse to start where pods cannot run, with the fix in the message."""
    if os.geteuid() != 0:
        raise click.ClickException("the kubelet must run as root (it creates namespaces, mounts and cgroups)")
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin")
               is None]
    if missing:
        raise click.ClickException(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")


def dump_tasks() -> None:
    """SIGUSR1: log where every task of the kubelet waits (for a pod that seems stuck)."""
    import asyncio
    import io

    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=20, file=out)
    log.warning("tasks:\n%s", out.getvalue())


@click.command("kubelet")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="How the kubelet reaches the apiserver (its node credentials).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Images, container state, logs and volumes [default: /var/lib/kybernetes for root].")
@click.option("--node-name", default="", help="The Node's name [default: the hostname, lower case].")
@click.option("--node-ip", default="", callback=_ip, help="The node's InternalIP [default: the address of the "
                                                          "default route's interface].")
@click.option("--registry-config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="registries.yaml (k3s format): registry mirrors and credentials.")
@click.option("--address", "kubelet_address", default="0.0.0.0", show_default=True, callback=_ip,
              help="Address the kubelet server listens on.")
@click.option("--kubelet-port", type=click.IntRange(0, 65535), default=10250, show_default=True,
              help="The kubelet server's port (0: any free port).")
@click.option("--tls-cert-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The kubelet server's certificate.")
@click.option("--tls-private-key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Its private key.")
@click.option("--client-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CA of the client certificates the server accepts (the apiserver's).")
@click.option("--cluster-dns", multiple=True, callback=_ip, help="The cluster DNS server pods use (repeatable).")
@click.option("--cluster-domain", default="cluster.local", show_default=True, help="The cluster's DNS domain.")
@click.option("--stop-pods", is_flag=True, help="Stop and remove every pod of this node when the kubelet stops.")
@click.option("--container-log-max-size", default="10Mi", show_default=True, callback=_log_max_size,
              help="Size at which a container's log file is rotated.")
@click.option("--container-log-max-files", type=click.IntRange(min=2), default=5, show_default=True,
              help="Log files kept per container, the live one included.")
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def kubelet(kubeconfig, data_dir, node_name, node_ip, registry_config, kubelet_address, kubelet_port,
            tls_cert_file, tls_private_key_file, client_ca_file, cluster_dns, cluster_domain, stop_pods,
            container_log_max_size, container_log_max_files, log_level) -> None:
    """Run this machine's node: the pods bound to it, in runc containers."""
    if bool(tls_cert_file) != bool(tls_private_key_file):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file go together")
    setup_logging(log_level)
    check_prerequisites()
    from kybernetes.kubelet.images.errors import RegistriesConfigError
    from kybernetes.kubelet.log_rotation import LogRotationPolicy
    from kybernetes.kubelet.real_node import RealNodeOptions, build_real_node

    options = RealNodeOptions(
        data_dir=resolve_data_dir(data_dir), node_name=node_name, node_ip=node_ip, registry_config=registry_config,
        kubelet_address=kubelet_address, kubelet_port=kubelet_port, tls_cert_file=tls_cert_file,
        tls_key_file=tls_private_key_file, client_ca_file=client_ca_file, cluster_dns=list(cluster_dns),
        cluster_domain=cluster_domain, stop_pods=stop_pods,
        log_rotation=LogRotationPolicy(container_log_max_size, container_log_max_files))
    client = make_client(kubeconfig, qps=50, burst=100, user_agent="kyb-kubelet")
    heartbeats = make_client(kubeconfig, qps=0, burst=1, user_agent="kyb-kubelet")

    async def main() -> None:
        import asyncio
        import signal

        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
        async with client, heartbeats:
            try:
                node = await build_real_node(client, options, heartbeat_client=heartbeats)
            except RegistriesConfigError as e:
                raise click.ClickException(str(e)) from None
            log.info("node %s (%s) starting; data in %s", node.name, node.kubelet.config.internal_ip,
                     options.data_dir)
            await node.run()

    # uvloop, as every component: conmon's stdio goes to a file (runtime/runc/conmon.py), so no
    # daemonized child holds a pipe the loop would wait on.
    run_until_signalled("kubelet", main)


# -- kyb up: the kubelet as a supervised child ------------------------------------------------------

NODE_CLIENT_GROUPS = ("system:nodes",)
# Extra groups on the node's certificate. None: RBAC's system:node ClusterRole (bound to the group
# system:nodes by the default policy, apiserver/rbac_bootstrap_policy.py) grants what a kubelet does.
INTERIM_GROUPS: tuple[str, ...] = ()


def node_credentials(plane, node_name: str, node_ip: str) -> tuple[Path, Path, Path]:
    """(kubeconfig, serving cert, serving key) of the node under DATA_DIR/pki, issued by the cluster
    CA at every start: a client certificate CN system:node:<name> and a serving certificate for the
    kubelet server valid for the node's name and addresses."""
    from kybernetes.apiserver.pki import issue_client_cert, issue_serving_cert
    from kybernetes.client.kubeconfig import admin_kubeconfig, write_kubeconfig
    from kybernetes.util.files import PUBLIC, write_atomic
    from kybernetes.util.netaddr import local_addresses, local_hostnames

    pki = plane.pki
    client = issue_client_cert(pki.ca, f"system:node:{node_name}", [*NODE_CLIENT_GROUPS, *INTERIM_GROUPS])
    kubeconfig = plane.data_dir / "kubelet.kubeconfig"
    write_kubeconfig(kubeconfig, admin_kubeconfig(plane.server_url, pki.ca.cert_pem, client.cert_pem,
                                                  client.key_pem, user=f"system:node:{node_name}"))
    hosts = [node_name, *([node_ip] if node_ip else []), *local_addresses(), *local_hostnames()]
    serving = issue_serving_cert(pki.ca, hosts)
    cert, key = pki.directory / "kubelet-server.crt", pki.directory / "kubelet-server.key"
    write_atomic(key, serving.key_pem)
    write_atomic(cert, serving.cert_pem, PUBLIC)
    return kubeconfig, cert, key


def kubelet_spec(plane, *, node_name: str = "", node_ip: str = "", kubelet_port: int = 10250,
                 registry_config: Path | None = None, cluster_dns: str = "", stop_pods: bool = False,
                 quiet: bool = False):
    """The kubelet child of ``kyb up``: the node on the same data dir as the control plane. A
    cluster bound to one address (``--bind-address 127.0.0.1``) keeps its node on that address."""
    import sys

    from kybernetes.kubelet.real_machine import node_name as default_node_name
    from kybernetes.util.supervisor import ChildSpec

    name = node_name or default_node_name()
    if not node_ip and plane.bind_address not in ("0.0.0.0", "::", ""):
        node_ip = plane.bind_address
    kubeconfig, cert, key = node_credentials(plane, name, node_ip)
    argv = [sys.executable, "-m", "kybernetes.cli", "kubelet", "--kubeconfig", str(kubeconfig),
            "--data-dir", str(plane.data_dir), "--node-name", name, "--kubelet-port", str(kubelet_port),
            "--tls-cert-file", str(cert), "--tls-private-key-file", str(key),
            "--client-ca-file", str(plane.pki.ca_cert_file), "--log-level", "warning" if quiet else "info"]
    if node_ip:
        argv += ["--node-ip", node_ip, "--address", node_ip]
    if registry_config:
        argv += ["--registry-config", str(Path(registry_config).absolute())]
    if cluster_dns:
        argv += ["--cluster-dns", cluster_dns]
    if stop_pods:
        argv.append("--stop-pods")
    return ChildSpec("kubelet", argv)
