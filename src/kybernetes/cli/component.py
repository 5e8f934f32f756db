"""Running a component in the foreground: logging (every command), and for the client-side ones
(controller-manager, scheduler, proxy, DNS, simulated nodes) uvloop, a client from a kubeconfig
and a clean stop on SIGTERM/SIGINT (the component's task is cancelled, so leases are released and
watches closed).

Logging is set up the same way by every command, from --log-level and ``--log-format text|json``
(``log_format_option``; ``kyb up``, ``server`` and ``agent`` pass the format on to their children).
``json`` writes one object per line to stderr, for log collectors (as klog's JSON format does)::

    {"ts": "2026-01-02T03:04:05.678Z", "level": "info", "component": "kubelet",
     "logger": "kybernetes.kubelet", "msg": "node vm (127.0.0.1) starting"}

plus ``exc`` (the formatted traceback) when the record carries an exception; docs/operations.md
lists the keys. Messages a command prints for people (``announce``) become records too in json
mode, so the stream stays one object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

import click

from kybernetes.client.kubeconfig import KubeconfigError
from kybernetes.util.gc_tuning import tune_for_long_running

LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"])
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LOG_FORMAT_KEY = "kybernetes.log_format"


def _remember_log_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[_LOG_FORMAT_KEY] = value
    return value


def log_format_option(func):
    """``--log-format text|json`` on a command; kept in the click context (``current_log_format()``), so
    the command's signature does not change and setup_logging finds it."""
    return click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
                        expose_value=False, callback=_remember_log_format,
                        help="text: a line per record; json: a JSON object per line (ts, level, component, "
                             "logger, msg, exc).")(func)


def current_log_format() -> str:
    """The running command's --log-format ("text" outside a command)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_LOG_FORMAT_KEY, "text") if ctx is not None else "text"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: ts (RFC 3339, UTC, milliseconds), level, component, logger, msg,
    and exc / stack when the record has them."""

    def __init__(self, component: str = "") -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        doc = {"ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "level": record.levelname.lower()}
        if self.component:
            doc["component"] = self.component
        doc["logger"] = record.name
        doc["msg"] = record.getMessage()
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class _KybHandler(logging.StreamHandler):
    """The handler setup_logging installs (so a second call replaces it, and nothing else)."""


def setup_logging(level: str, log_format: str | None = None, *, component: str | None = None,
                  stream: TextIO | None = None) -> None:
    """Log ``level`` and above to stderr (or ``stream``) as text or JSON lines. ``log_format`` and
    ``component`` default to the running command's --log-format and name. As logging.basicConfig,
    it leaves a root logger alone that something else (a test harness) already gave handlers."""
    fmt = log_format or current_log_format()
    if fmt not in LOG_FORMATS:
        raise click.BadParameter(f"log format {fmt!r}: use one of {', '.join(LOG_FORMATS)}")
    if component is None:
        ctx = click.get_current_context(silent=True)
        component = (ctx.info_name or "") if ctx is not None else ""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _KybHandler)]
    if root.handlers and not ours and stream is None:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = _KybHandler(stream)
    handler.setFormatter(JsonFormatter(component) if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    if fmt == "json":
        logging.captureWarnings(True)  # warnings.warn output as records, not free text
        sys.excepthook = _log_uncaught


def _log_uncaught(exc_type, exc, tb) -> None:
    """With json logs, a crash's traceback is a record too (level critical, the traceback in exc)."""
    logging.getLogger("kybernetes").critical("uncaught %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))


def announce(message: str, *, err: bool = False, level: int = logging.INFO, logger: str = "kybernetes.cli") -> None:
    """A line for people: printed as is (on stderr with ``err``) with --log-format text, a record
    of ``level`` with json."""
    if current_log_format() == "json":
        if not logging.getLogger().handlers:  # before the command set logging up
            setup_logging("info")
        logging.getLogger(logger).log(level, click.unstyle(message).strip())
    else:
        click.echo(message, err=err)


def make_client(kubeconfig: Path | None, *, qps: float, burst: int, user_agent: str) -> Any:
    from kybernetes.client import ApiClient

    try:
        return ApiClient.from_kubeconfig(kubeconfig, qps=qps, burst=burst, user_agent=user_agent)
    except (KubeconfigError, OSError, ValueError) as e:
        raise click.ClickException(f"cannot load kubeconfig: {e}") from None


def run_loop(coro: Awaitable[Any]) -> None:
    """Run ``coro`` to its end on uvloop (asyncio's loop without it), with the garbage collector
    set for a long-running component (util/gc_tuning.py)."""
    tune_for_long_running()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay usable without it
        asyncio.run(coro)  # type: ignore[arg-type]
    else:
        uvloop.run(coro)  # type: ignore[arg-type]


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
        run_loop(runner())
    except Exception as e:
        if not type(e).__module__.startswith("kybernetes."):
            raise
        click.echo(f"kyb {name}: {e}", err=True)
        sys.exit(1)
