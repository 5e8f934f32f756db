"""``kyb up``: a whole cluster on this machine, in the foreground.

Today that is the control plane (see control_plane.py) and, with --sim-nodes N, simulated
nodes; the real node components (kubelet, proxy, DNS) join the same supervisor as they land. Starting again on the same --data-dir keeps every object:
the store, the CA and the certificates are reused, only the kubeconfig is rewritten (the port
may have changed).
"""

from __future__ import annotations

import shlex
import sys

import click

from kybernetes import KUBERNETES_VERSION, __version__
from kybernetes.cli.control_plane import control_plane_specs, prepare, run_supervised, simulated_nodes_spec
from kybernetes.cli.options import cluster_options, resolve_data_dir


@click.command()
@cluster_options
@click.option("--sim-nodes", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="Simulated nodes (fake runtime) to run beside the cluster.")
def up(data_dir, port, bind_address, store_url, cluster_cidr, disabled, quiet, sim_nodes) -> None:
    """Run a one-machine cluster in the foreground until SIGTERM or Ctrl-C."""
    data_dir = resolve_data_dir(data_dir)
    if not quiet:
        click.echo(f"Kybernetes {__version__} (Kubernetes {KUBERNETES_VERSION}), data in {data_dir}")
    plane = prepare(data_dir, port=port, bind_address=bind_address, store_url=store_url,
                    cluster_cidr=cluster_cidr, disabled=disabled)

    def all_ready() -> None:
        if quiet:
            return
        click.echo(f"Cluster ready at {plane.server_url}. To use it:")
        click.echo(f"  export KUBECONFIG={shlex.quote(str(plane.kubeconfig))}; kubectl get ns")

    specs = control_plane_specs(plane, quiet=quiet)
    if sim_nodes:
        specs.append(simulated_nodes_spec(plane, sim_nodes, quiet=quiet))
    sys.exit(run_supervised(specs, quiet=quiet, on_all_ready=all_ready))
