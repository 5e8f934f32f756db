"""Which endpoints a service port's traffic may go to from this node (kube-proxy's rules).

- Cluster policy: every ready endpoint; when none is ready anywhere, the endpoints that are
  still serving while terminating (so a rolling update's last pods keep answering).
- Local policy (internalTrafficPolicy or externalTrafficPolicy Local): the ready endpoints on
  this node; when none, this node's serving-and-terminating ones.
``has_endpoints`` says whether the service has any usable endpoint anywhere: without one its
addresses are REJECTed; with some but no local one, Local-policy traffic is DROPped.

``route`` turns that into the decisions both modes write in their own terms (iptables chains in
rules_service.py, nftables maps and chains in nft_rules.py): which chain takes internal and
external traffic, and which of the per-port chains exist at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from kybernetes.proxy.model import Endpoint, ServicePort


@dataclass(frozen=True, slots=True)
class Categorized:
    cluster: list[Endpoint]
    local: list[Endpoint]
    reachable: list[Endpoint]  # union of the two, each once: the endpoints that get a chain
    has_endpoints: bool


def categorize(endpoints: list[Endpoint], port: ServicePort) -> Categorized:
    cluster: list[Endpoint] = []
    has_endpoints = False
    if port.uses_cluster_endpoints:
        cluster = [e for e in endpoints if e.ready]
        if not cluster:
            cluster = [e for e in endpoints if e.serving and e.terminating]
        has_endpoints = bool(cluster)
    if not port.uses_local_endpoints:
        return Categorized(cluster, [], cluster, has_endpoints)

    local_ready = [e for e in endpoints if e.is_local and e.ready]
    local = local_ready or [e for e in endpoints if e.is_local and e.serving and e.terminating]
    if any(e.ready or (e.serving and e.terminating) for e in endpoints):
        has_endpoints = True
    if not port.uses_cluster_endpoints:
        return Categorized([], local, local, has_endpoints)
    seen = {e.address for e in cluster}
    reachable = cluster + [e for e in local if e.address not in seen]
    return Categorized(cluster, local, reachable, has_endpoints)


@dataclass(frozen=True, slots=True)
class Routing:
    """Where one service port's traffic goes from this node, whatever the mode writes."""

    cat: Categorized
    internal_local: bool  # internal traffic goes to the node-local chain (internalTrafficPolicy Local)
    has_internal: bool  # that chain has an endpoint (else the cluster IP is rejected / dropped)
    external_local: bool  # external traffic ends in the node-local chain (externalTrafficPolicy Local)
    has_external: bool
    uses_cluster_chain: bool  # the chain balancing over every endpoint exists
    uses_local_chain: bool  # the chain balancing over this node's endpoints exists
    uses_ext_chain: bool  # the chain for external addresses and node ports exists
    uses_fw_chain: bool  # the chain checking loadBalancerSourceRanges exists
    # UDP only: (cluster IP, node port) -> endpoint IPs in use, for clearing stale conntrack entries
    udp_targets: dict[tuple[str, int], frozenset[str]]

    def internal_chain(self, cluster_chain: str, local_chain: str) -> str:
        """Which of the port's two balancing chains takes traffic to the cluster IP."""
        return local_chain if self.internal_local else cluster_chain

    def external_chain(self, cluster_chain: str, local_chain: str) -> str:
        """Which of them external traffic ends in (after the external chain's masquerading)."""
        return local_chain if self.external_local else cluster_chain


def each_port(ports: list[ServicePort], endpoints: dict[tuple[str, str], list[Endpoint]],
              ) -> Iterator[tuple[ServicePort, list[Endpoint]]]:
    """Each port of a Service with its endpoints (``endpoints`` keyed by port name and protocol)."""
    for port in ports:
        yield port, endpoints.get((port.port_name, port.protocol), [])


def route(endpoints: list[Endpoint], port: ServicePort) -> Routing:
    cat = categorize(endpoints, port)
    has = cat.has_endpoints
    udp = {(port.cluster_ip, port.node_port): frozenset(e.ip for e in cat.reachable)} if port.protocol == "UDP" else {}
    return Routing(
        cat=cat,
        internal_local=port.internal_policy_local,
        has_internal=bool(cat.local) if port.internal_policy_local else has,
        external_local=port.external_policy_local,
        has_external=bool(cat.local) if port.external_policy_local else has,
        uses_cluster_chain=bool(cat.cluster) and port.uses_cluster_endpoints,
        uses_local_chain=bool(cat.local) and port.uses_local_endpoints,
        uses_ext_chain=has and port.externally_accessible,
        uses_fw_chain=has and bool(port.load_balancer_ips) and bool(port.load_balancer_source_ranges),
        udp_targets=udp)


def cidr_contains(cidr: str, ip: str) -> bool:
    """Whether ``ip`` (may be empty) is within ``cidr``; False for anything unparsable."""
    if not ip:
        return False
    try:
        return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return False
