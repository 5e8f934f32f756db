"""``kyb status``: the components of the cluster on this machine, and its nodes.

    COMPONENT            STATE      PID     RESTARTS
    apiserver            running    4242    0
    ...
    NODE                 READY   AGE   VERSION
    vm-1                 True    3m    v1.31.0

Components come from DATA_DIR/run/components.json, which the supervisor of ``kyb up`` rewrites
at every change (ComponentStates, called from cli/control_plane.run_supervised); a file whose
supervisor is gone shows every component as ``not running``, since a crashed ``kyb up`` cannot
say so itself. Nodes come from the apiserver, through the admin kubeconfig. Exit code 0 when
every component runs and every node is Ready, 1 otherwise (scripts can wait on it).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from kybernetes.cli.options import resolve_data_dir

COMPONENTS_FILE = Path("run") / "components.json"
PID_FILE = Path("run") / "kyb.pid"


@dataclass
class ComponentState:
    name: str
    pid: int = 0
    state: str = "pending"  # pending, running, restarting, stopped
    restarts: int = 0
    last_exit_code: int | None = None
    since: float = 0.0


class ComponentStates:
    """The supervisor's view of its children, kept in a JSON file other processes read."""

    def __init__(self, path: Path, names: list[str]):
        self.path = Path(path)
        now = time.time()
        self.components = {name: ComponentState(name, since=now) for name in names}
        self.write()

    def update(self, name: str, **changes) -> None:
        state = self.components.setdefault(name, ComponentState(name))
        for key, value in changes.items():
            setattr(state, key, value)
        state.since = time.time()
        self.write()

    def stopped(self) -> None:
        for state in self.components.values():
            state.state, state.pid, state.since = "stopped", 0, time.time()
        self.write()

    def write(self) -> None:
        doc = {"supervisorPid": os.getpid(), "updated": time.time(),
               "components": [asdict(c) for c in self.components.values()]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            tmp.replace(self.path)
        except OSError:
            pass  # status is informational: never let it stop the supervisor


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_components(data_dir: Path) -> list[dict]:
    """The components of the file, with ``state`` corrected to what /proc says now."""
    path = data_dir / COMPONENTS_FILE
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    supervisor_alive = pid_alive(int(doc.get("supervisorPid") or 0))
    out = []
    for c in doc.get("components") or []:
        c = dict(c)
        if c.get("state") in ("running", "restarting", "pending") and \
                (not supervisor_alive or (c.get("state") == "running" and not pid_alive(int(c.get("pid") or 0)))):
            c["state"] = "not running"
        out.append(c)
    return out


def _age(timestamp: str) -> str:
    try:
        seconds = int((datetime.now(UTC) - datetime.fromisoformat(timestamp.replace("Z", "+00:00"))).total_seconds())
    except (ValueError, AttributeError):
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def node_rows(nodes: list[dict]) -> list[dict]:
    rows = []
    for node in nodes:
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = next((c.get("status", "Unknown") for c in conditions if c.get("type") == "Ready"), "Unknown")
        rows.append({"name": node["metadata"]["name"], "ready": ready,
                     "age": _age(node["metadata"].get("creationTimestamp", "")),
                     "version": ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")})
    return rows


def fetch_nodes(kubeconfig: Path, timeout: float) -> list[dict]:
    """The cluster's nodes through the admin kubeconfig; raises ClickException when unreachable."""
    import asyncio

    from kybernetes.client import ApiClient
    from kybernetes.client.kubeconfig import KubeconfigError
    from kybernetes.client.resource import NODES

    async def main() -> list[dict]:
        async with ApiClient.from_kubeconfig(kubeconfig, qps=0, burst=1, user_agent="kyb-status") as client:
            body = await asyncio.wait_for(client.list(NODES), timeout)
            return body.get("items") or []

    try:
        return asyncio.run(main())
    except KubeconfigError as e:
        raise click.ClickException(f"cannot load kubeconfig: {e}") from None
    except TimeoutError:
        raise click.ClickException(f"the apiserver did not answer within {timeout:g}s") from None
    except Exception as e:  # connection refused, TLS, API errors: one line, no traceback
        raise click.ClickException(f"cannot list nodes: {e}") from None


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The cluster's data dir [default: as `kyb up`].")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True,
              help="Seconds to wait for the apiserver.")
def status(data_dir, output, timeout) -> None:
    """Show the components of the cluster on this machine and its nodes."""
    data_dir = resolve_data_dir(data_dir)
    if not data_dir.exists():
        raise click.ClickException(f"{data_dir} does not exist; no cluster was started with this data dir")
    components = read_components(data_dir)
    nodes, error = [], ""
    kubeconfig = data_dir / "kubeconfig"
    if not kubeconfig.exists():
        error = f"{kubeconfig} does not exist"
    else:
        try:
            nodes = node_rows(fetch_nodes(kubeconfig, timeout))
        except click.ClickException as e:
            error = e.message
    healthy = (bool(components) and all(c["state"] == "running" for c in components) and not error
               and bool(nodes) and all(n["ready"] == "True" for n in nodes))
    if output == "json":
        click.echo(json.dumps({"components": components, "nodes": nodes, "error": error, "healthy": healthy},
                              indent=1))
    else:
        _print_table(components, nodes, error)
    raise SystemExit(0 if healthy else 1)


def _print_table(components: list[dict], nodes: list[dict], error: str) -> None:
    if components:
        click.echo(f"{'COMPONENT':<20} {'STATE':<12} {'PID':<8} RESTARTS")
        for c in components:
            color = "green" if c["state"] == "running" else "red"
            state = click.style(f"{c['state']:<12}", fg=color)
            click.echo(f"{c['name']:<20} {state} {c.get('pid') or '-':<8} {c.get('restarts', 0)}")
    else:
        click.echo("no components: `kyb up` has not run on this data dir")
    click.echo()
    if error:
        click.echo(f"nodes: {error}")
        return
    click.echo(f"{'NODE':<30} {'READY':<8} {'AGE':<8} VERSION")
    for n in nodes:
        click.echo(f"{n['name']:<30} {n['ready']:<8} {n['age']:<8} {n['version']}")
    if not nodes:
        click.echo("(no nodes)")
