"""``kyb dns``: the cluster DNS server as its own process (run on every node by ``kyb up`` / agent).

    kyb dns --kubeconfig FILE --listen ADDR:PORT [--cluster-domain cluster.local]
            [--upstream 127.0.0.1:5353,...] [--dns-service-ip 10.43.0.10]
            [--node-name N --advertise-address IP]

Without --upstream, names outside the cluster domain go to the nameservers of /etc/resolv.conf.
With --node-name and --advertise-address it also writes the kube-dns Service in kube-system and
this node's endpoint behind it (the --listen port), so pods reach it at the Service's cluster IP.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from kybernetes.cli.component import (
    LOG_LEVELS,
    announce,
    log_format_option,
    make_client,
    run_until_signalled,
    setup_logging,
)

log = logging.getLogger(__name__)


def _host_port(value: str, param_hint: str) -> tuple[str, int]:
    from kybernetes.dns.forward import parse_host_port

    try:
        return parse_host_port(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=param_hint) from None


@click.command()
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Kubeconfig to reach the apiserver [default: $KUBECONFIG or ~/.kube/config].")
@click.option("--listen", default="0.0.0.0:53", show_default=True,
              help="Address and port for UDP and TCP (IPv6 as [addr]:port).")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("--upstream", "upstreams", default="",
              help="Comma-separated resolvers for other names, ADDR[:PORT] [default: /etc/resolv.conf's].")
@click.option("--dns-service-ip", default="10.43.0.10", show_default=True,
              help="The kube-dns Service IP (answered for ns.dns.<domain>; the Service's cluster IP).")
@click.option("--node-name", default="", help="With --advertise-address: register this node behind kube-dns.")
@click.option("--advertise-address", default="", help="This node's address the service proxy sends DNS to.")
@click.option("--cache-size", type=click.IntRange(min=0), default=10000, show_default=True,
              help="Upstream answers kept (0: no cache).")
@click.option("--cache-max-ttl", type=click.IntRange(min=0), default=30, show_default=True,
              help="Longest time in seconds an upstream answer is kept.")
@click.option("--kube-api-qps", type=float, default=50.0, show_default=True)
@click.option("--kube-api-burst", type=int, default=100, show_default=True)
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def dns(kubeconfig, listen, cluster_domain, upstreams, dns_service_ip, node_name, advertise_address, cache_size,
        cache_max_ttl, kube_api_qps, kube_api_burst, log_level) -> None:
    """Serve cluster DNS until SIGTERM or Ctrl-C."""
    import ipaddress

    from kybernetes.dns import ClusterDns, DnsConfig, ensure_kube_dns
    from kybernetes.dns.forward import parse_upstreams

    setup_logging(log_level)
    host, port = _host_port(listen, "--listen")
    try:
        upstream_list = parse_upstreams(upstreams) if upstreams else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--upstream") from None
    for value, hint in ((dns_service_ip, "--dns-service-ip"), (advertise_address, "--advertise-address")):
        if value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise click.BadParameter(f"{value!r} is not an IP address", param_hint=hint) from None
    if bool(node_name) != bool(advertise_address):
        raise click.UsageError("--node-name and --advertise-address go together")
    domain = cluster_domain.strip(".").lower()
    if not domain or any(not label for label in domain.split(".")):
        raise click.BadParameter(f"{cluster_domain!r} is not a domain name", param_hint="--cluster-domain")
    config = DnsConfig(host=host, port=port, cluster_domain=domain, upstreams=upstream_list,
                       dns_ip=dns_service_ip, cache_size=cache_size, cache_max_ttl=cache_max_ttl)

    async def main() -> None:
        async with make_client(kubeconfig, qps=kube_api_qps, burst=kube_api_burst, user_agent="kyb-dns") as client:
            async with ClusterDns(client, config) as server:
                if node_name:
                    await ensure_kube_dns(client, node_name=node_name, node_address=advertise_address,
                                          port=server.address[1], cluster_ip=dns_service_ip)
                announce(f"kyb dns: serving {domain} on {server.address[0]}:{server.address[1]} (UDP and TCP)",
                         err=True, logger="kybernetes.dns")
                await server.serve_forever()

    run_until_signalled("dns", main)
