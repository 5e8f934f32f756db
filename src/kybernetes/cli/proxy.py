"""``kyb proxy``: the Service proxy for one node (flags named as kube-proxy's).

The default mode is nftables (a table of its own, one atomic transaction a sync): on hosts
whose iptables is the nf_tables backend, iptables-restore takes tens of seconds at thousands of
services where nft takes a second or two (bench/proxy.py). iptables stays fully supported.

    kyb proxy --kubeconfig FILE --node-name N [--proxy-mode nftables|iptables] [--cluster-cidr CIDR]
              [--masquerade-all] [--min-sync-period 1s] [--sync-period 30s]
    kyb proxy --cleanup            remove every chain, jump rule and table the proxy made (both
                                   modes), then exit
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from pathlib import Path

import click

from kybernetes.cli.component import (
    LOG_LEVELS,
    log_format_option,
    make_client,
    run_until_signalled,
    setup_logging,
)

PROXY_MODES = ("iptables", "nftables")
DEFAULT_PROXY_MODE = "nftables"
PROXY_MODE_HELP = ("iptables: chains in the host's filter and nat tables (iptables-restore); nftables: a table of "
                   "its own, ip kybernetes-proxy (nft; faster at many services).")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(ctx, param, value: str) -> float:
    """Go-style durations as kube-proxy takes them: 1s, 500ms, 30s, 1m (a bare number is seconds)."""
    found = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not found:
        raise click.BadParameter(f"{value!r}: use a duration such as 500ms, 1s, 30s or 1m")
    return float(found.group(1)) * _UNIT[found.group(2)]


def check_cidr(ctx, param, value: str) -> str:
    if not value:
        return ""
    try:
        return str(ipaddress.IPv4Network(value, strict=False))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IPv4 CIDR such as 10.42.0.0/16") from None


@click.command()
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig to reach the apiserver [default: $KUBECONFIG or ~/.kube/config].")
@click.option("--proxy-mode", type=click.Choice(PROXY_MODES), default=DEFAULT_PROXY_MODE, show_default=True,
              help=PROXY_MODE_HELP)
@click.option("--node-name", "--hostname-override", "node_name", default="",
              help="This node's name: endpoints on it are local [default: the host name].")
@click.option("--cluster-cidr", default="", callback=check_cidr,
              help="Pod addresses; traffic to a cluster IP from outside them is masqueraded.")
@click.option("--masquerade-all", is_flag=True, help="Masquerade all traffic to cluster IPs.")
@click.option("--min-sync-period", default="1s", show_default=True, callback=parse_duration,
              help="Least time between two syncs of the rules (rate limit under churn).")
@click.option("--sync-period", default="30s", show_default=True, callback=parse_duration,
              help="Longest time between two syncs (periodic check and resync).")
@click.option("--iptables-masquerade-bit", "masquerade_bit", type=click.IntRange(0, 31), default=14,
              show_default=True, help="Packet mark bit that asks for masquerade.")
@click.option("--iptables-localhost-nodeports/--no-iptables-localhost-nodeports", "localhost_nodeports",
              default=True, show_default=True,
              help="Serve node ports on 127.0.0.1 too (sets net.ipv4.conf.all.route_localnet=1).")
@click.option("--iptables-backend", type=click.Choice(["auto", "nft", "legacy"]), default="auto",
              show_default=True, help="Which iptables to drive [auto: the one `iptables` points at].")
@click.option("--node-ip", default="", help="This node's address (for loadBalancerSourceRanges).")
@click.option("--cleanup", "do_cleanup", is_flag=True,
              help="Remove all our chains, rules and nftables table (both modes), then exit.")
@click.option("--kube-api-qps", type=click.FloatRange(min=0), default=50.0, show_default=True)
@click.option("--kube-api-burst", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def proxy(kubeconfig, proxy_mode, node_name, cluster_cidr, masquerade_all, min_sync_period, sync_period,
          masquerade_bit, localhost_nodeports, iptables_backend, node_ip, do_cleanup, kube_api_qps,
          kube_api_burst, log_level) -> None:
    """Program this node's packet filter for Services until SIGTERM or Ctrl-C."""
    setup_logging(log_level)
    from kybernetes.proxy import ProxyConfig, cleanup, run_service_proxy
    from kybernetes.proxy.iptables import Iptables, IptablesError, detect_backend
    from kybernetes.proxy.nft_tool import NftError, find_nft

    iptables = None
    try:
        iptables = Iptables(detect_backend(iptables_backend))
    except (IptablesError, ValueError) as e:
        # The nftables mode and the cleanup of its table need no iptables.
        if proxy_mode == "iptables" and not do_cleanup:
            raise click.ClickException(str(e)) from None
    if proxy_mode == "nftables" and not do_cleanup and find_nft() is None:
        raise click.ClickException("--proxy-mode nftables (the default) needs nft (Debian package: nftables); "
                                   "install it or use --proxy-mode iptables")
    if do_cleanup:
        try:
            removed = asyncio.run(cleanup(iptables))
        except (IptablesError, NftError) as e:
            raise click.ClickException(f"cleanup failed: {e}") from None
        click.echo("removed the proxy's chains and rules" if removed else "nothing to clean up")
        return
    try:
        config = ProxyConfig(node_name=node_name or socket.gethostname(), cluster_cidr=cluster_cidr,
                             masquerade_all=masquerade_all, masquerade_bit=masquerade_bit,
                             min_sync_period=min_sync_period, sync_period=sync_period,
                             localhost_nodeports=localhost_nodeports, node_ip=node_ip)
    except ValueError as e:
        raise click.ClickException(str(e)) from None

    async def main() -> None:
        async with make_client(kubeconfig, qps=kube_api_qps, burst=kube_api_burst, user_agent="kyb-proxy") as client:
            await run_service_proxy(client, config, iptables, mode=proxy_mode)

    run_until_signalled("proxy", main)
