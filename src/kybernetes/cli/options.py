"""Flags shared by ``kyb server`` and ``kyb up``."""

from __future__ import annotations

from pathlib import Path

import click

from kybernetes.cli.paths import default_data_dir


def cluster_options(func):
    """--data-dir, --port, --bind-address, --store, --cluster-cidr, --service-cidr, --disable, --quiet.

    --service-cidr is checked here and kept in the click context (``service_cidr()``), so the
    commands' signatures need not change; control_plane.prepare passes it to the apiserver."""
    for decorator in reversed([
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="State, PKI and kubeconfig [default: /var/lib/kybernetes for root, "
                          "else ~/.local/share/kybernetes]."),
        click.option("--port", type=click.IntRange(1, 65535), default=6443, show_default=True,
                     help="The apiserver's HTTPS port."),
        click.option("--bind-address", default="0.0.0.0", show_default=True,
                     help="Address the apiserver listens on."),
        click.option("--store", "store_url", default="", metavar="URL", callback=check_store_url,
                     help="sqlite:///PATH or etcd://HOST:PORT[,...] [default: sqlite in the data dir]."),
        click.option("--cluster-cidr", default="10.42.0.0/16", show_default=True,
                     help="Pod addresses; each node gets a /24 podCIDR from it."),
        click.option("--service-cidr", default="10.43.0.0/16", show_default=True, expose_value=False,
                     callback=_remember_service_cidr,
                     help="Service cluster IPs (IPv4, or IPv4,IPv6 for dual stack); the apiserver "
                          "allocates from it."),
        click.option("--disable", "disabled", multiple=True, type=click.Choice(COMPONENTS),
                     help="A component not to run (repeatable)."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
    ]):
        func = decorator(func)
    return func


def resolve_data_dir(data_dir: Path | None) -> Path:
    return (data_dir or default_data_dir()).expanduser().absolute()


STORE_SCHEMES = ("sqlite://", "etcd://")

# Components `--disable` can leave out (the apiserver is the cluster: it cannot be disabled).
# kubelet, proxy and dns are the node's (``kyb up``); ``kyb server`` runs none of them anyway.
COMPONENTS = ("scheduler", "controller-manager", "kubelet", "proxy", "dns")


def check_store_url(ctx, param, value: str) -> str:
    """Refuse a store URL no backend understands before anything starts."""
    if value and not value.startswith(STORE_SCHEMES):
        raise click.BadParameter(f"{value!r}: use sqlite:///PATH, sqlite://:memory: or etcd://HOST:PORT[,...]")
    return value


SERVICE_CIDR_KEY = "kybernetes.service_cidr"


def _remember_service_cidr(ctx, param, value: str) -> str:
    from kybernetes.apiserver.service_alloc_ranges import parse_service_cidrs

    try:
        parse_service_cidrs(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    ctx.meta[SERVICE_CIDR_KEY] = value
    return value


def service_cidr(default: str = "10.43.0.0/16") -> str:
    """The --service-cidr of the running command (the default outside one)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(SERVICE_CIDR_KEY, default) if ctx is not None else default
