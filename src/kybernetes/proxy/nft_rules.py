"""One service port's share of the nftables proxy table (kube-proxy's nftables layout), pure.

The iptables mode walks a chain of per-service rules for every packet; here the top-level
chains look the destination up in verdict maps, so a packet costs one hash lookup whatever the
number of services, and a service is a handful of map elements plus its own chains:

    map service-ips            daddr . l4proto . dport -> goto service-X (cluster IP; local-X for
                               internalTrafficPolicy Local) | goto external-X (external/LB IPs)
    map service-nodeports      l4proto . nodePort      -> goto external-X   (on local addresses)
    map no-endpoint-services   daddr . l4proto . dport -> goto reject-chain | drop (Local policy
    map no-endpoint-nodeports  l4proto . nodePort      ->                    without local endpoint)
    map firewall-ips           LB IP . l4proto . port  -> goto firewall-X  (loadBalancerSourceRanges)
    set endpoint-hairpin       E . E for every endpoint address E: postrouting masquerades a
                               DNATed packet whose source is its new destination (a pod reaching
                               itself through its Service), as the iptables mode's SEP chains do

    service-X   off-cluster sources to the cluster IP -> mark for masquerade; then endpoint i of
                n with probability 1/(n-i): numgen random mod (n-i) == 0 -> dnat to ip:port
    local-X     the same over this node's endpoints
    external-X  Cluster policy: mark for masquerade, goto service-X; Local policy: pods and the
                node itself short-circuit to service-X (the node's traffic masqueraded), else local-X
    firewall-X  allowed source ranges return; everything else is dropped (before DNAT)
  sessionAffinity ClientIP only:
    service-X   a client in @affinity-E goes to endpoint-E; the random pick goes to endpoint-i
    endpoint-E  update @affinity-E { ip saddr } (timeout: the affinity's); dnat to ip:port

Two departures from kube-proxy's nftables layout, both measured on nft 1.0.6 / kernel 6.x:
- no ``numgen random mod n vmap {...}``: each is an anonymous set, and the kernel names a new
  anonymous set by scanning every set in the table - quadratic (4k services: 4.7 s against
  0.3 s for the same choice as a rule cascade; 10k: minutes);
- no endpoint chains (but for affinity): what a change costs grows with the chains and rules of
  the table. ``nft`` (1.0.6) dumps every chain of the family before it applies any rule or
  element change (partial syncs avoid that now: nft_tool.py commits them over netlink), and the
  kernel re-validates every chain reachable from the base chains - each service chain once per
  nat hook - on every commit that adds a rule or a jump/goto element. 6 chains per 5-endpoint
  service instead of 1 made a one-service change at 10k services cost ~0.5 s instead of ~80 ms.

Which endpoints serve what comes from topology.py, exactly as in the iptables mode
(rules_service.py), so both modes agree. Names carry a hash of what they stand for plus the
readable ``ns/name/proto/port`` so ``nft list table`` reads like the Services.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.proxy.topology import cidr_contains, each_port, route

SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
FIREWALL_IPS = "firewall-ips"
HAIRPIN = "endpoint-hairpin"  # a set: its elements have no verdict ("")
MAPS = (SERVICE_IPS, SERVICE_NODEPORTS, NO_ENDPOINT_SERVICES, NO_ENDPOINT_NODEPORTS, FIREWALL_IPS, HAIRPIN)

MARK_MASQ = "mark-for-masquerade"
REJECT_CHAIN = "reject-chain"
# A hashed per-service name (the top-level chains such as firewall-check must not match).
SERVICE_CHAIN = re.compile(r"^(service|local|external|firewall|endpoint)-[0-9A-F]{8}-")
AFFINITY_SET = re.compile(r"^affinity-[0-9A-F]{8}-")

ElementKey = tuple[str, str]  # (map name, key text)


@dataclass(frozen=True)
class NftContext:
    cluster_cidr: str = ""  # pods' addresses: other sources reaching a cluster IP are masqueraded
    masquerade_all: bool = False
    node_ip: str = ""  # for loadBalancerSourceRanges that include the node itself


@dataclass
class NftService:
    """A Service's map elements, chains (name -> rules, in creation order) and affinity sets."""

    elements: dict[ElementKey, str] = field(default_factory=dict)  # -> verdict ("" in a set)
    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, int] = field(default_factory=dict)  # affinity set -> timeout (s)
    endpoint_count: int = 0
    udp_targets: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)

    def extend(self, other: NftService) -> None:
        for key, value in other.elements.items():
            self.elements.setdefault(key, value)  # the first port claiming an address keeps it
        self.chains.update(other.chains)
        self.sets.update(other.sets)
        self.endpoint_count += other.endpoint_count
        self.udp_targets.update(other.udp_targets)


@functools.lru_cache(maxsize=65536)
def _hash8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8].upper()


def port_base(port: ServicePort) -> str:
    return f"{port.namespace}/{port.name}/{port.proto}/{port.port_name}"


def service_chain(kind: str, port: ServicePort) -> str:
    """``service-``, ``local-``, ``external-`` or ``firewall-`` chain of a service port."""
    base = port_base(port)
    return f"{kind}-{_hash8(base)}-{base}"


def endpoint_chain(port: ServicePort, endpoint: Endpoint) -> str:
    base = f"{port_base(port)}__{endpoint.ip}/{endpoint.port}"
    return f"endpoint-{_hash8(base)}-{base}"


def affinity_set(port: ServicePort, endpoint: Endpoint) -> str:
    return "affinity-" + endpoint_chain(port, endpoint)[len("endpoint-"):]


def is_service_chain(name: str) -> bool:
    return SERVICE_CHAIN.match(name) is not None


def is_affinity_set(name: str) -> bool:
    return AFFINITY_SET.match(name) is not None


def service_objects(ports: list[ServicePort], endpoints: dict[tuple[str, str], list[Endpoint]],
                    ctx: NftContext) -> NftService:
    """Everything one Service (all its ports) puts in the table."""
    out = NftService()
    for port, serving in each_port(ports, endpoints):
        out.extend(port_objects(port, serving, ctx))
    return out


def port_objects(port: ServicePort, endpoints: list[Endpoint], ctx: NftContext) -> NftService:
    out = NftService()
    proto = port.proto
    named = f"{_hash8(base := port_base(port))}-{base}"  # service_chain's names, hashed once
    svc, svl, ext, fw = f"service-{named}", f"local-{named}", f"external-{named}", f"firewall-{named}"
    routing = route(endpoints, port)
    cat = routing.cat
    out.endpoint_count = len(cat.reachable)
    out.udp_targets.update(routing.udp_targets)
    has_endpoints, has_internal, has_external = cat.has_endpoints, routing.has_internal, routing.has_external
    internal_chain = routing.internal_chain(svc, svl)
    external_policy_chain = routing.external_chain(svc, svl)
    uses_ext_chain, uses_fw_chain = routing.uses_ext_chain, routing.uses_fw_chain
    # No endpoint anywhere: refuse the connection; endpoints, but none here for Local: drop.
    refuse = f"goto {REJECT_CHAIN}" if not has_endpoints else "drop"
    elements = out.elements

    def element(map_name: str, key: str, verdict: str) -> None:
        elements.setdefault((map_name, key), verdict)

    # The addresses the service is reached at.
    cluster_key = f"{port.cluster_ip} . {proto} . {port.port}"
    if has_internal:
        element(SERVICE_IPS, cluster_key, f"goto {internal_chain}")
    else:
        element(NO_ENDPOINT_SERVICES, cluster_key, refuse)
    for ip in (*port.external_ips, *port.load_balancer_ips):
        key = f"{ip} . {proto} . {port.port}"
        if has_endpoints:
            element(SERVICE_IPS, key, f"goto {ext}")
        if not has_external:
            element(NO_ENDPOINT_SERVICES, key, refuse)
    if uses_fw_chain:
        for ip in port.load_balancer_ips:
            element(FIREWALL_IPS, f"{ip} . {proto} . {port.port}", f"goto {fw}")
    if port.node_port:
        key = f"{proto} . {port.node_port}"
        if has_endpoints:
            element(SERVICE_NODEPORTS, key, f"goto {ext}")
        if not has_external:
            element(NO_ENDPOINT_NODEPORTS, key, refuse)

    # The service's own chains.
    chains = out.chains
    if has_internal:
        cluster_match = f"ip daddr {port.cluster_ip} {proto} dport {port.port}"
        if ctx.masquerade_all:
            chains.setdefault(internal_chain, []).append(f"{cluster_match} jump {MARK_MASQ}")
        elif ctx.cluster_cidr:
            # Off-cluster traffic to a service IP may leave through another node: masquerade it.
            chains.setdefault(internal_chain, []).append(
                f"{cluster_match} ip saddr != {ctx.cluster_cidr} jump {MARK_MASQ}")
    if uses_ext_chain:
        rules = chains.setdefault(ext, [])
        if not port.external_policy_local:
            rules.append(f"jump {MARK_MASQ}")
        else:
            if ctx.cluster_cidr:
                rules.append(f"ip saddr {ctx.cluster_cidr} goto {svc}")  # pods: short-circuit to the cluster
            rules.append(f"fib saddr type local jump {MARK_MASQ}")  # the node itself: masquerade...
            rules.append(f"fib saddr type local goto {svc}")  # ...and reach every endpoint
        if has_external:
            rules.append(f"goto {external_policy_chain}")
    if uses_fw_chain:
        sources = list(port.load_balancer_source_ranges)
        if any(cidr_contains(cidr, ctx.node_ip) for cidr in sources):
            sources += port.load_balancer_ips  # the node reaching its own LB address loops back from it
        # One rule per range: an inline set would be an anonymous set (see the docstring).
        chains[fw] = [*(f"ip saddr {source} return" for source in sources), "drop"]
    if routing.uses_cluster_chain:
        _balance(chains.setdefault(svc, []), out, port, cat.cluster)
    if routing.uses_local_chain:
        _balance(chains.setdefault(svl, []), out, port, cat.local)
    for ep in cat.reachable:
        element(HAIRPIN, f"{ep.ip} . {ep.ip}", "")
        if port.affinity_timeout:
            chains[endpoint_chain(port, ep)] = [f"update @{affinity_set(port, ep)} {{ ip saddr }}",
                                                f"meta l4proto {proto} dnat to {ep.address}"]
    return out


def _balance(rules: list[str], out: NftService, port: ServicePort, endpoints: list[Endpoint]) -> None:
    """Clients with affinity first (to the endpoint they had), then a random pick among all."""
    if port.affinity_timeout:
        for ep in endpoints:
            name = affinity_set(port, ep)
            out.sets[name] = port.affinity_timeout
            rules.append(f"ip saddr @{name} goto {endpoint_chain(port, ep)}")
    # Endpoint i of n is taken with probability 1/(n-i) of what is left: uniform over all n.
    count = len(endpoints)
    dnat = f"meta l4proto {port.proto} "
    for i, ep in enumerate(endpoints):
        chance = f"numgen random mod {count - i} 0 " if i < count - 1 else ""
        if port.affinity_timeout:
            rules.append(f"{chance}goto {endpoint_chain(port, ep)}")
        else:
            rules.append(f"{dnat}{chance}dnat to {ep.ip}:{ep.port}")

