"""Entry point of ``kyb`` (pyproject: ``kyb = "kybernetes.cli.main:main"``).

Commands are loaded when named: ``kyb scheduler`` imports the scheduler's module and what it
needs, not the kubelet's or the apiserver's. Every component of ``kyb up`` is such a process,
so this keeps each one's start-up time and memory to its own (``kyb --help`` and the generated
docs/configuration.md still list every command).
"""

from __future__ import annotations

import importlib

import click

# name -> (module, attribute); `kyb --help` lists them sorted
COMMANDS = {
    "version": ("kybernetes.cli.version", "version"),
    "apiserver": ("kybernetes.cli.apiserver", "apiserver"),
    "controller-manager": ("kybernetes.cli.controller_manager", "controller_manager"),
    "server": ("kybernetes.cli.server", "server"),
    "up": ("kybernetes.cli.up", "up"),
    "kubeconfig": ("kybernetes.cli.kubeconfig", "kubeconfig"),
    "scheduler": ("kybernetes.cli.scheduler", "scheduler"),
    "simulate-nodes": ("kybernetes.cli.simulate_nodes", "simulate_nodes"),
    "proxy": ("kybernetes.cli.proxy", "proxy"),
    "dns": ("kybernetes.cli.dns", "dns"),
    "images": ("kybernetes.cli.images", "images"),
    "kubelet": ("kybernetes.cli.kubelet", "kubelet"),
    "agent": ("kybernetes.cli.agent", "agent"),
    "status": ("kybernetes.cli.status", "status"),
    "doctor": ("kybernetes.cli.doctor", "doctor"),
    "uninstall": ("kybernetes.cli.uninstall", "uninstall"),
}


def load_command(name: str) -> click.Command | None:
    if name not in COMMANDS:
        return None
    module, attribute = COMMANDS[name]
    return getattr(importlib.import_module(module), attribute)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (``commands`` fills as they are)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name) or load_command(cmd_name)
        if command is not None:
            self.commands[cmd_name] = command
        return command

    def all_commands(self) -> dict[str, click.Command]:
        """Every command, imported (for the docs generator and tests)."""
        return {name: self.get_command(click.Context(self), name) for name in COMMANDS}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Kybernetes: Kubernetes, written in Python."""


def main() -> None:
    cli(prog_name="kyb")
