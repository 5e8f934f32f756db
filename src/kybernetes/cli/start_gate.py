"""The child side of the supervisor's start gate (util/supervisor.py): import first, then wait.

``kyb up`` spawns its components at once, each behind a gate, so that the seconds Python spends
importing a component overlap the apiserver's start instead of following it. Here, before the
command runs: import the command's module and the modules its body will import, then block
on the gate until the supervisor says go (one byte), or exit quietly when it closed the gate
without a word (it stopped before this component's turn).
"""

from __future__ import annotations

import importlib
import os
import sys

from kybernetes.util.supervisor import START_GATE_ENV

# What each component imports once it runs (the heavy part of its start).
PRELOAD = {
    "apiserver": ("kybernetes.apiserver.server", "kybernetes.apiserver.authn"),
    "scheduler": ("kybernetes.scheduler.runner",),
    "controller-manager": ("kybernetes.controllers.manager", "kybernetes.controllers.registry"),
    "kubelet": ("kybernetes.kubelet.real_node", "kybernetes.kubelet.log_rotation"),
    "proxy": ("kybernetes.proxy", "kybernetes.proxy.iptables"),
    "dns": ("kybernetes.dns.cluster_dns", "kybernetes.dns.kube_dns_service", "kybernetes.dns.forward"),
    "simulate-nodes": ("kybernetes.kubelet.simulated",),
}


def wait_at_start_gate(argv: list[str]) -> None:
    """Preload and wait when $KYB_START_GATE_FD names a gate; return at once otherwise."""
    value = os.environ.pop(START_GATE_ENV, "")
    if not value:
        return
    try:
        fd = int(value)
    except ValueError:
        return
    from kybernetes.cli.main import load_command

    load_command(argv[0] if argv else "")  # the command's module, then what its body imports
    for module in PRELOAD.get(argv[0] if argv else "", ()):
        try:
            importlib.import_module(module)
        except ImportError:  # the command reports it properly once it runs
            pass
    try:
        go = os.read(fd, 1)
    except OSError:
        go = b""
    finally:
        os.close(fd)
    if not go:
        sys.exit(0)
