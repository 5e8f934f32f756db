"""``kyb server``: the control plane on this machine.

Prepares the data dir (PKI, admin kubeconfig) and runs each control-plane component as a
supervised child process: the apiserver, the scheduler and the controller-manager.
"""

from __future__ import annotations

import sys

import click

from kybernetes.cli.component import announce, log_format_option
from kybernetes.cli.control_plane import control_plane_specs, prepare, run_supervised
from kybernetes.cli.options import cluster_options, resolve_data_dir


@click.command()
@cluster_options
@log_format_option
def server(data_dir, port, bind_address, store_url, cluster_cidr, disabled, quiet) -> None:
    """Run the control plane in the foreground until SIGTERM or Ctrl-C."""
    plane = prepare(resolve_data_dir(data_dir), port=port, bind_address=bind_address, store_url=store_url,
                    cluster_cidr=cluster_cidr, disabled=disabled)

    def all_ready() -> None:
        if not quiet:
            announce(f"control plane ready at {plane.server_url}; admin kubeconfig: {plane.kubeconfig}")

    sys.exit(run_supervised(control_plane_specs(plane, quiet=quiet), quiet=quiet, on_all_ready=all_ready))
