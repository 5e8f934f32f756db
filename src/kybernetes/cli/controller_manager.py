"""``kyb controller-manager``: every controller of controllers/registry.py in one process,
leader-elected on the Lease kube-system/kube-controller-manager."""

from __future__ import annotations

from pathlib import Path

import click

from kybernetes.cli.component import (
    LOG_LEVELS,
    log_format_option,
    make_client,
    run_until_signalled,
    setup_logging,
)


@click.command("controller-manager")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Kubeconfig to reach the apiserver [default: $KUBECONFIG or ~/.kube/config].")
@click.option("--controllers", default="*", show_default=True,
              help="Comma-separated controller names; '*' for all, '-name' to leave one out.")
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True)
@click.option("--root-ca-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CA published as the kube-root-ca.crt ConfigMap in every namespace.")
@click.option("--cluster-cidr", default="10.42.0.0/16", show_default=True,
              help="Pod addresses: each node gets a podCIDR from this range.")
@click.option("--node-cidr-mask-size", type=click.IntRange(8, 30), default=24, show_default=True)
@click.option("--node-monitor-grace-period", type=float, default=40.0, show_default=True,
              help="Seconds without a lease renewal or status before a node is Unknown.")
@click.option("--max-endpoints-per-slice", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--terminated-pod-gc-threshold", type=int, default=12500, show_default=True)
@click.option("--kube-api-qps", type=float, default=50.0, show_default=True)
@click.option("--kube-api-burst", type=int, default=100, show_default=True)
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def controller_manager(kubeconfig, controllers, leader_elect, root_ca_file, cluster_cidr, node_cidr_mask_size,
                       node_monitor_grace_period, max_endpoints_per_slice, terminated_pod_gc_threshold,
                       kube_api_qps, kube_api_burst, log_level) -> None:
    """Run the controllers until SIGTERM or Ctrl-C."""
    from kybernetes.controllers.manager import ControllerManager
    from kybernetes.controllers.registry import CONTROLLERS

    setup_logging(log_level)
    selected = select_controllers(controllers, CONTROLLERS)
    options = {
        "root_ca_file": str(root_ca_file) if root_ca_file else None,
        "cluster_cidr": cluster_cidr,
        "node_cidr_mask_size_ipv4": node_cidr_mask_size,
        "node_monitor_grace_period": node_monitor_grace_period,
        "max_endpoints_per_slice": max_endpoints_per_slice,
        "terminated_pod_gc_threshold": terminated_pod_gc_threshold,
    }

    async def main() -> None:
        async with make_client(kubeconfig, qps=kube_api_qps, burst=kube_api_burst,
                               user_agent="kyb-controller-manager") as client:
            await ControllerManager(client, selected, leader_elect=leader_elect, options=options).run()

    run_until_signalled("controller-manager", main)


def select_controllers(spec: str, available: dict) -> dict:
    """Kubernetes' --controllers syntax: '*' (all), 'name' (add), '-name' (leave out)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n.lstrip("-") for n in names if n != "*" and n.lstrip("-") not in available]
    if unknown:
        raise click.BadParameter(f"unknown controller(s): {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(available))}", param_hint="--controllers")
    chosen = set(available) if "*" in names else set()
    chosen |= {n for n in names if n != "*" and not n.startswith("-")}
    chosen -= {n[1:] for n in names if n.startswith("-")}
    return {name: cls for name, cls in available.items() if name in chosen}
