"""Running a client-side component (controller-manager, scheduler, simulated nodes) in the
foreground: uvloop, logging, a client from a kubeconfig, and a clean stop on SIGTERM/SIGINT
(the component's task is cancelled, so leases are released and watches closed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from kybernetes.client.kubeconfig import KubeconfigError

LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"])


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def make_client(kubeconfig: Path | None, *, qps: float, burst: int, user_agent: str) -> Any:
    from kybernetes.client import ApiClient

    try:
        return ApiClient.from_kubeconfig(kubeconfig, qps=qps, burst=burst, user_agent=user_agent)
    except (KubeconfigError, OSError, ValueError) as e:
        raise click.ClickException(f"cannot load kubeconfig: {e}") from None


def run_until_signalled(name: str, main: Callable[[], Awaitable[Any]]) -> None:
    """Run ``main()`` until it returns or SIGTERM/SIGINT arrives; exit 0 on a clean stop."""

    async def runner() -> None:
        task = asyncio.ensure_future(main())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(runner())
    else:
        try:
            uvloop.run(runner())
        except Exception as e:
            if not type(e).__module__.startswith("kybernetes."):
                raise
            click.echo(f"kyb {name}: {e}", err=True)
            sys.exit(1)
