"""Entry point of ``kyb`` (pyproject: ``kyb = "kybernetes.cli.main:main"``)."""

from __future__ import annotations

import click

from kybernetes.cli.agent import agent
from kybernetes.cli.apiserver import apiserver
from kybernetes.cli.controller_manager import controller_manager
from kybernetes.cli.dns import dns
from kybernetes.cli.doctor import doctor
from kybernetes.cli.images import images
from kybernetes.cli.kubeconfig import kubeconfig
from kybernetes.cli.kubelet import kubelet
from kybernetes.cli.proxy import proxy
from kybernetes.cli.scheduler import scheduler
from kybernetes.cli.server import server
from kybernetes.cli.simulate_nodes import simulate_nodes
from kybernetes.cli.status import status
from kybernetes.cli.uninstall import uninstall
from kybernetes.cli.up import up
from kybernetes.cli.version import version


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Kybernetes: Kubernetes, written in Python."""


cli.add_command(version)
cli.add_command(apiserver)
cli.add_command(controller_manager)
cli.add_command(server)
cli.add_command(up)
cli.add_command(kubeconfig)
cli.add_command(scheduler)
cli.add_command(simulate_nodes)
cli.add_command(proxy)
cli.add_command(dns)
cli.add_command(images)
cli.add_command(kubelet)
cli.add_command(agent)
cli.add_command(status)
cli.add_command(doctor)
cli.add_command(uninstall)


def main() -> None:
    cli(prog_name="kyb")
