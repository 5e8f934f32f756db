"""``kyb scheduler``: the scheduler as its own process (flags named as kube-scheduler's).

    kyb scheduler --kubeconfig FILE [--leader-elect=true|false] [--scheduler-name NAME ...]
                  [--kube-api-qps 50 --kube-api-burst 100] [--percentage-of-nodes-to-score N]

Every --scheduler-name adds a profile (default: default-scheduler); pods naming another
scheduler are left alone. Events use a second client with the same limits, as kube-scheduler's
event broadcaster does, so events never eat into the budget for bindings.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import click

from kybernetes.cli.component import LOG_LEVELS, log_format_option, run_loop, setup_logging


@click.command()
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig of the apiserver [default: $KUBECONFIG or ~/.kube/config].")
@click.option("--context", default=None, help="Kubeconfig context [default: current-context].")
@click.option("--leader-elect", type=bool, default=True, is_flag=False, flag_value=True, show_default=True,
              help="Take the Lease kube-system/kube-scheduler before scheduling (--leader-elect=false: don't).")
@click.option("--leader-elect-resource-name", "lease_name", default="",
              help="Lease name [default: kube-scheduler, or the scheduler name for other schedulers].")
@click.option("--scheduler-name", "scheduler_names", multiple=True,
              help="schedulerName this scheduler serves (repeat for several profiles) [default: default-scheduler].")
@click.option("--kube-api-qps", type=click.FloatRange(min=0), default=50.0, show_default=True,
              help="Client requests per second (0: unlimited).")
@click.option("--kube-api-burst", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--percentage-of-nodes-to-score", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Stop filtering after this share of nodes fit (0: adaptive, as Kubernetes).")
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def scheduler(kubeconfig, context, leader_elect, lease_name, scheduler_names, kube_api_qps, kube_api_burst,
              percentage_of_nodes_to_score, log_level) -> None:
    """Assign nodes to pods until SIGTERM or Ctrl-C."""
    setup_logging(log_level)
    from kybernetes.client import ApiClient
    from kybernetes.client.kubeconfig import KubeconfigError, load_kubeconfig
    from kybernetes.scheduler.runner import SchedulerRunner

    try:
        access = load_kubeconfig(kubeconfig, context)
    except (KubeconfigError, OSError, ValueError) as e:
        raise click.ClickException(str(e)) from None

    async def main() -> None:
        limits = {"qps": kube_api_qps, "burst": kube_api_burst, "user_agent": "kyb-scheduler"}
        async with ApiClient.from_access(access, **limits) as client, \
                ApiClient.from_access(access, **limits) as event_client:
            runner = SchedulerRunner(client, scheduler_names=list(scheduler_names), leader_elect=leader_elect,
                                     lease_name=lease_name, event_client=event_client,
                                     percentage_of_nodes_to_score=percentage_of_nodes_to_score or None)
            # SIGTERM/SIGINT cancel the run, so the lease is released for a successor at once.
            task = asyncio.ensure_future(runner.run())
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, task.cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        run_loop(main())
    except KeyboardInterrupt:
        pass
    except Exception as e:
        if not type(e).__module__.startswith("kybernetes."):
            raise
        click.echo(f"kyb scheduler: {e}", err=True)
        sys.exit(1)
