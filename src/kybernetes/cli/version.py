"""``kyb version``."""

from __future__ import annotations

import click

from kybernetes import KUBERNETES_VERSION, __version__


@click.command()
@click.option("--short", is_flag=True, help="Print only our version.")
def version(short: bool) -> None:
    """Print the Kybernetes version and the Kubernetes version it serves."""
    if short:
        click.echo(__version__)
        return
    click.echo(f"Kybernetes {__version__}")
    click.echo(f"Kubernetes API {KUBERNETES_VERSION}")
