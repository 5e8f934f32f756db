"""What ``kyb server`` and ``kyb up`` share: prepare a data dir, then supervise components.

    DATA_DIR/pki/...        cluster CA, serving and admin certificates (apiserver/pki.py)
    DATA_DIR/kubeconfig     admin kubeconfig, https://127.0.0.1:PORT (rewritten at every start)
    DATA_DIR/state.db       the SQLite store, unless --store says otherwise

Every component runs as its own process (``python -m kybernetes.cli <component> ...``), as
docs/architecture.md describes; util.supervisor starts them in order, waits for each to be
ready, restarts one that dies and stops all of them on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kybernetes.apiserver.pki import ClusterPki, PkiError, ensure_cluster_pki
from kybernetes.cli.component import announce, current_log_format, setup_logging
from kybernetes.cli.options import service_cidr as options_service_cidr
from kybernetes.cli.paths import local_server_url
from kybernetes.cli.status import ComponentStates
from kybernetes.client.kubeconfig import admin_kubeconfig, write_kubeconfig
from kybernetes.util.files import ensure_private_dir
from kybernetes.util.netaddr import local_addresses, local_hostnames
from kybernetes.util.readiness import ca_ssl_context, http_ok
from kybernetes.util.supervisor import ChildFailedError, ChildSpec, Supervisor


@dataclass(frozen=True)
class ControlPlane:
    data_dir: Path
    pki: ClusterPki
    kubeconfig: Path
    server_url: str
    bind_address: str
    port: int
    store_url: str
    cluster_cidr: str = "10.42.0.0/16"
    disabled: tuple[str, ...] = ()
    service_cidr: str = "10.43.0.0/16"


def kubernetes_service_ips(service_cidr: str) -> list[str]:
    """The ``kubernetes`` Service's cluster IPs (the first address of each service CIDR): in-cluster
    clients reach the apiserver there (KUBERNETES_SERVICE_HOST), so its certificate names them."""
    import ipaddress

    ips = []
    for cidr in service_cidr.split(","):
        try:
            ips.append(str(ipaddress.ip_network(cidr.strip(), strict=False).network_address + 1))
        except ValueError:
            continue  # --service-cidr's own check reports it
    return ips


def prepare(data_dir: Path, *, port: int, bind_address: str, store_url: str,
            cluster_cidr: str = "10.42.0.0/16", disabled: tuple[str, ...] = (),
            service_cidr: str | None = None) -> ControlPlane:
    """Create (or reuse) the data dir, the PKI and the admin kubeconfig. ``service_cidr`` defaults
    to the command's --service-cidr (options.service_cidr)."""
    if service_cidr is None:
        service_cidr = options_service_cidr()
    ensure_private_dir(data_dir)
    hosts = [*local_addresses(), *local_hostnames(), *kubernetes_service_ips(service_cidr)]
    if bind_address not in ("0.0.0.0", "::", ""):
        hosts.append(bind_address)
    try:
        pki = ensure_cluster_pki(data_dir / "pki", hosts)
    except PkiError as e:
        raise click.ClickException(str(e)) from None
    server_url = local_server_url(bind_address, port)
    kubeconfig = data_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, admin_kubeconfig(
        server_url, pki.ca.cert_pem, pki.admin_cert_file.read_bytes(), pki.admin_key_file.read_bytes()))
    return ControlPlane(data_dir, pki, kubeconfig, server_url, bind_address, port, store_url,
                        cluster_cidr, tuple(disabled), service_cidr)


def apiserver_spec(plane: ControlPlane, *, quiet: bool = False) -> ChildSpec:
    argv = [sys.executable, "-m", "kybernetes.cli", "apiserver",
            "--data-dir", str(plane.data_dir),
            "--bind-address", plane.bind_address,
            "--port", str(plane.port),
            "--tls-cert-file", str(plane.pki.serving_cert_file),
            "--tls-private-key-file", str(plane.pki.serving_key_file),
            "--client-ca-file", str(plane.pki.ca_cert_file),
            "--service-cluster-ip-range", plane.service_cidr,
            # The controller-manager's namespace controller empties deleted namespaces.
            *(["--no-inline-namespace-cleanup"] if "controller-manager" not in plane.disabled else []),
            "--log-level", "warning" if quiet else "info"]
    if plane.store_url:
        argv += ["--store", plane.store_url]
    tls = ca_ssl_context(plane.pki.ca_cert_file)
    url = f"{plane.server_url}/readyz"

    async def ready() -> bool:
        return await http_ok(url, tls, timeout=1.0)

    return ChildSpec("apiserver", argv, ready=ready)


def controller_manager_spec(plane: ControlPlane, *, quiet: bool = False) -> ChildSpec:
    argv = [sys.executable, "-m", "kybernetes.cli", "controller-manager",
            "--kubeconfig", str(plane.kubeconfig),
            "--root-ca-file", str(plane.pki.ca_cert_file),
            "--cluster-cidr", plane.cluster_cidr,
            "--log-level", "warning" if quiet else "info"]
    return ChildSpec("controller-manager", argv)


def scheduler_spec(plane: ControlPlane, *, quiet: bool = False) -> ChildSpec:
    argv = [sys.executable, "-m", "kybernetes.cli", "scheduler",
            "--kubeconfig", str(plane.kubeconfig),
            "--log-level", "warning" if quiet else "info"]
    return ChildSpec("scheduler", argv)


def control_plane_specs(plane: ControlPlane, *, quiet: bool = False) -> list[ChildSpec]:
    """Every control-plane component that exists, in start order."""
    specs = [apiserver_spec(plane, quiet=quiet)]
    if "scheduler" not in plane.disabled:
        specs.append(scheduler_spec(plane, quiet=quiet))
    if "controller-manager" not in plane.disabled:
        specs.append(controller_manager_spec(plane, quiet=quiet))
    return specs


def simulated_nodes_spec(plane: ControlPlane, count: int, *, quiet: bool = False) -> ChildSpec:
    """``--sim-nodes N``: N simulated nodes beside the real ones, in one child process."""
    argv = [sys.executable, "-m", "kybernetes.cli", "simulate-nodes", "--count", str(count),
            "--kubeconfig", str(plane.kubeconfig), "--name-prefix", "sim-"]
    return ChildSpec("simulated-nodes", argv)


START_CRITICAL = ("apiserver", "kubelet")


def run_supervised(specs: list[ChildSpec], *, quiet: bool, on_all_ready, state_file: Path | None = None) -> int:
    """Run ``specs`` in the foreground until SIGTERM/SIGINT; the process exit code. With ``state_file``
    (DATA_DIR/run/components.json) every child's pid, state and restarts are kept there for `kyb status`.
    The command's --log-format goes to every child, and its own lines follow it (announce). The
    children are spawned at once, each behind a start gate (util/supervisor.py), and let go in order."""
    setup_logging("warning" if quiet else "info")
    log_format = current_log_format()
    for spec in specs:
        if log_format != "text":
            spec.argv = [*spec.argv, "--log-format", log_format]
        # our own components import behind a start gate while the ones before them start
        spec.gated = spec.argv[1:3] == ["-m", "kybernetes.cli"]
        # A Ready node waits for the apiserver and then the kubelet: the others import at a
        # lower priority meanwhile (two cores, five Python processes importing at once).
        spec.yields_at_start = spec.gated and spec.name not in START_CRITICAL
    states = ComponentStates(state_file, [s.name for s in specs]) if state_file else None

    def ready(name: str, pid: int) -> None:
        if states:
            states.update(name, pid=pid, state="running")
        if not quiet:
            announce(f"  {click.style('✓', fg='green')} {name:<20} running (pid {pid})")

    def restarted(name: str, code: int) -> None:
        if states:
            states.update(name, state="restarting", last_exit_code=code, restarts=states.components[name].restarts + 1)
        announce(f"  {click.style('!', fg='yellow')} {name} exited (code {code}); restarting", err=True,
                 level=logging.WARNING)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        supervisor = Supervisor(on_ready=ready, on_restart=restarted)
        watcher = asyncio.ensure_future(_announce_when_ready(supervisor, on_all_ready))
        try:
            await supervisor.run(specs, stop)
        except ChildFailedError as e:
            announce(f"kyb: {e}", err=True, level=logging.ERROR)
            return 1
        finally:
            watcher.cancel()
            if states:
                states.stopped()
        if not quiet:
            announce("stopped")
        return 0

    return asyncio.run(main())


async def _announce_when_ready(supervisor: Supervisor, on_all_ready) -> None:
    await supervisor.started.wait()
    on_all_ready()
