"""``kyb kubeconfig``: print the admin kubeconfig, or merge it into ~/.kube/config.

    kyb kubeconfig                      print DATA_DIR/kubeconfig
    kyb kubeconfig --merge              add context "kybernetes" to $KUBECONFIG or ~/.kube/config,
                                        leaving every other context (and the current one) alone
    kyb kubeconfig --merge --use        ...and make it the current context
"""

from __future__ import annotations

from pathlib import Path

import click

from kybernetes.cli.options import resolve_data_dir
from kybernetes.client.kubeconfig import KubeconfigError, default_kubeconfig_path, merge_into, read_kubeconfig


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The cluster's data dir [default: as `kyb up`].")
@click.option("--merge", "merge", is_flag=True, help="Merge into --into instead of printing.")
@click.option("--into", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig to merge into [default: $KUBECONFIG's first file or ~/.kube/config].")
@click.option("--use", "make_current", is_flag=True, help="With --merge: make it the current context.")
def kubeconfig(data_dir, merge, into, make_current) -> None:
    """Print or merge the admin kubeconfig `kyb up` wrote."""
    source = resolve_data_dir(data_dir) / "kubeconfig"
    if not source.exists():
        raise click.ClickException(f"{source} does not exist; run `kyb up` first")
    if not merge:
        click.echo(source.read_text(), nl=False)
        return
    target = into or default_kubeconfig_path()
    try:
        merge_into(target, read_kubeconfig(source), make_current=make_current)
    except KubeconfigError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"merged context \"kybernetes\" into {target}")
