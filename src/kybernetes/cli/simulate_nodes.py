"""``kyb simulate-nodes``: N simulated nodes in this process, against any apiserver.

    kyb simulate-nodes --count 100 --kubeconfig ~/.kube/config --cpu 8 --memory 32Gi

The nodes register, renew their Leases, report status and run the pods bound to them on a
fake runtime (see kybernetes.kubelet.simulated) until SIGTERM or Ctrl-C. Two clients talk to
the apiserver: one for leases and node status, unthrottled, so heartbeats never queue behind a
burst of pod-status writes (each real kubelet has its own budget); one for everything else,
limited to --qps / --burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import click

from kybernetes.api.errors import ApiError
from kybernetes.api.quantity import parse_quantity
from kybernetes.cli.component import LOG_LEVELS, log_format_option, run_loop, setup_logging

log = logging.getLogger("kybernetes.simulate-nodes")


def _quantity(ctx, param, value: str) -> str:
    try:
        if parse_quantity(value).value <= 0:
            raise ValueError
    except (ValueError, ApiError, TypeError):
        raise click.BadParameter(f"{value!r} is not a positive quantity (e.g. 4, 500m, 16Gi)") from None
    return value


def _labels(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE")
        out[key] = value
    return out


@click.command("simulate-nodes")
@click.option("--count", type=click.IntRange(0, 100_000), required=True, help="How many nodes to simulate.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The cluster to join [default: $KUBECONFIG or ~/.kube/config].")
@click.option("--context", default=None, help="The kubeconfig context [default: its current context].")
@click.option("--name-prefix", default="sim-node-", show_default=True, help="Nodes are named PREFIX0, PREFIX1, ...")
@click.option("--first-index", type=click.IntRange(0), default=0, show_default=True,
              help="The number of the first node (to run several processes side by side).")
@click.option("--cpu", default="4", show_default=True, callback=_quantity, help="CPU capacity of each node.")
@click.option("--memory", default="16Gi", show_default=True, callback=_quantity, help="Memory of each node.")
@click.option("--pods", type=click.IntRange(1, 100_000), default=110, show_default=True,
              help="How many pods each node takes.")
@click.option("--label", "labels", multiple=True, callback=_labels, metavar="KEY=VALUE",
              help="An extra label on every node (repeatable).")
@click.option("--qps", type=click.FloatRange(0), default=200.0, show_default=True,
              help="Rate limit of pod status and event writes, requests per second (0: none).")
@click.option("--burst", type=click.IntRange(1), default=400, show_default=True, help="Burst above --qps.")
@click.option("--stop-seconds", type=click.FloatRange(0), default=1.0, show_default=True,
              help="How long a container takes to stop after SIGTERM.")
@click.option("--events/--no-events", default=True, show_default=True, help="Write kubelet events.")
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def simulate_nodes(count, kubeconfig, context, name_prefix, first_index, cpu, memory, pods, labels, qps, burst,
                   stop_seconds, events, log_level) -> None:
    """Run simulated nodes (fake container runtime) until SIGTERM or Ctrl-C."""
    setup_logging(log_level)
    from kybernetes.client import ApiClient
    from kybernetes.client.kubeconfig import KubeconfigError, load_kubeconfig
    from kybernetes.kubelet.simulated import SimulationConfig

    try:
        access = load_kubeconfig(kubeconfig, context)
        config = SimulationConfig(count=count, name_prefix=name_prefix, first_index=first_index, cpu=cpu,
                                  memory=memory, pods=pods, labels=labels, stop_seconds=stop_seconds,
                                  events=events)
    except (KubeconfigError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    try:
        run_loop(_simulate(ApiClient, access, config, qps, burst))
    except KeyboardInterrupt:
        pass
    except ApiError as e:
        raise click.ClickException(f"cannot run the simulated nodes: {e}") from None


async def _simulate(client_class, access, config, qps: float, burst: int) -> None:
    from kybernetes.kubelet.simulated import build_simulation

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with client_class.from_access(access, qps=qps, burst=burst, user_agent="kyb-simulate-nodes") as client, \
            client_class.from_access(access, qps=0, user_agent="kyb-simulate-nodes") as heartbeats:
        group = await build_simulation(client, config, heartbeat_client=heartbeats)
        task = asyncio.create_task(group.run(), name="simulated nodes")
        waiter = asyncio.create_task(stop.wait())
        registered = asyncio.create_task(group.wait_registered())
        await asyncio.wait({task, registered}, return_when=asyncio.FIRST_COMPLETED)
        if registered.done() and not task.done():
            log.info("%d simulated nodes registered (%s%d .. %s%d)", config.count, config.name_prefix,
                     config.first_index, config.name_prefix, config.first_index + config.count - 1)
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, waiter, registered):
            pending.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - one line for the user, the details in the log
            log.debug("simulated nodes failed", exc_info=True)
            raise click.ClickException(f"simulated nodes stopped: {_first_error(e)}") from None


def _first_error(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
