"""The iptables rules of one service port, in kube-proxy's layout (iptables mode).

    nat KUBE-SERVICES   -d <clusterIP> --dport P      -> KUBE-SVC-X (or KUBE-SVL-X: internal Local)
                        -d <externalIP|LB IP> --dport -> KUBE-EXT-X (LB with source ranges: KUBE-FW-X)
    nat KUBE-NODEPORTS  --dport <nodePort>            -> KUBE-EXT-X
    KUBE-SVC-X          masquerade off-cluster sources, then [affinity: recent --rcheck per endpoint]
                        random 1/n, 1/(n-1), ... -> KUBE-SEP-E (last one unconditional)
    KUBE-SVL-X          the same over this node's endpoints only
    KUBE-EXT-X          Cluster policy: mark for masquerade -> KUBE-SVC-X
                        Local policy: pods -> SVC, node-local sources masqueraded -> SVC, else -> SVL
    KUBE-FW-X           allowed source ranges -> KUBE-EXT-X; what falls through is dropped in filter
    KUBE-SEP-E          source is the endpoint itself (hairpin) -> mark for masquerade;
                        [affinity: recent --set]; DNAT to ip:port
    filter              no endpoints: REJECT (KUBE-SERVICES for the cluster IP, KUBE-EXTERNAL-SERVICES
                        for external addresses and node ports); Local policy without a local
                        endpoint: DROP; healthCheckNodePort: ACCEPT in KUBE-NODEPORTS

Every function here is pure: given a port, its endpoints and the context, the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.topology import cidr_contains, each_port, route


@dataclass(frozen=True)
class RuleContext:
    names: ChainNames
    cluster_cidr: str = ""  # pods' addresses: traffic from elsewhere to a cluster IP is masqueraded
    masquerade_all: bool = False
    node_ip: str = ""  # for loadBalancerSourceRanges that include the node itself
    comments: bool = True  # per-endpoint comments (dropped for very large rule sets, as kube-proxy)


@dataclass
class ServiceRules:
    """One Service's share of the restore input, kept between syncs so unchanged services are
    not regenerated (their top-level lines are still written every sync)."""

    nat_services: list[str] = field(default_factory=list)
    nat_nodeports: list[str] = field(default_factory=list)
    filter_services: list[str] = field(default_factory=list)
    filter_external: list[str] = field(default_factory=list)
    filter_nodeports: list[str] = field(default_factory=list)
    filter_firewall: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)  # nat chains this service owns, declared
    chain_rules: list[str] = field(default_factory=list)  # their rules
    endpoint_count: int = 0
    # UDP ports: (cluster IP, node port) -> endpoint IPs in use, for clearing stale conntrack entries
    udp_targets: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)

    def extend(self, other: ServiceRules) -> None:
        for name in ("nat_services", "nat_nodeports", "filter_services", "filter_external",
                     "filter_nodeports", "filter_firewall", "chains", "chain_rules"):
            getattr(self, name).extend(getattr(other, name))
        self.endpoint_count += other.endpoint_count
        self.udp_targets.update(other.udp_targets)


_PROBABILITIES: dict[int, str] = {}


def probability(n: int) -> str:
    """``1/n`` as kube-proxy writes it (ten decimals), cached."""
    text = _PROBABILITIES.get(n)
    if text is None:
        text = _PROBABILITIES[n] = f"{1.0 / n:0.10f}"
    return text


def service_rules(ports: list[ServicePort], endpoints: dict[tuple[str, str], list[Endpoint]],
                  ctx: RuleContext) -> ServiceRules:
    """All rules of one Service (every port)."""
    rules = ServiceRules()
    for port, serving in each_port(ports, endpoints):
        rules.extend(port_rules(port, serving, ctx))
    return rules


def port_rules(port: ServicePort, endpoints: list[Endpoint], ctx: RuleContext) -> ServiceRules:
    n = ctx.names
    out = ServiceRules()
    proto = port.proto
    name = port.name_string
    port_hash = n.service_hash(name, proto)
    svc_chain, svl_chain = n.svc(port_hash), n.svl(port_hash)
    ext_chain, fw_chain = n.ext(port_hash), n.fw(port_hash)
    routing = route(endpoints, port)
    cat = routing.cat
    out.endpoint_count = len(cat.reachable)
    out.udp_targets.update(routing.udp_targets)
    has_endpoints, has_internal, has_external = cat.has_endpoints, routing.has_internal, routing.has_external
    internal_chain = routing.internal_chain(svc_chain, svl_chain)
    external_policy_chain = routing.external_chain(svc_chain, svl_chain)
    uses_ext_chain, uses_fw_chain = routing.uses_ext_chain, routing.uses_fw_chain
    lb_chain = fw_chain if uses_fw_chain else ext_chain

    if not has_endpoints:
        internal_target = external_target = "REJECT"
        internal_comment = external_comment = f'"{name} has no endpoints"'
    else:
        internal_target = external_target = "DROP"
        internal_comment = external_comment = f'"{name} has no local endpoints"'

    match = f"-m {proto} -p {proto}"
    cluster_dest = f"-d {port.cluster_ip} --dport {port.port}"

    # Capture the cluster IP.
    if has_internal:
        out.nat_services.append(f'-A {n.services} -m comment --comment "{name} cluster IP" {match} '
                                f"{cluster_dest} -j {internal_chain}")
    else:
        out.filter_services.append(f"-A {n.services} -m comment --comment {internal_comment} {match} "
                                   f"{cluster_dest} -j {internal_target}")

    # Capture external IPs and load-balancer ingress IPs.
    for ip in port.external_ips:
        if has_endpoints:
            out.nat_services.append(f'-A {n.services} -m comment --comment "{name} external IP" {match} '
                                    f"-d {ip} --dport {port.port} -j {ext_chain}")
        if not has_external:
            out.filter_external.append(f"-A {n.external_services} -m comment --comment {external_comment} "
                                       f"{match} -d {ip} --dport {port.port} -j {external_target}")
    for ip in port.load_balancer_ips:
        if has_endpoints:
            out.nat_services.append(f'-A {n.services} -m comment --comment "{name} loadbalancer IP" {match} '
                                    f"-d {ip} --dport {port.port} -j {lb_chain}")
        if uses_fw_chain:
            out.filter_firewall.append(f'-A {n.proxy_firewall} -m comment --comment "{name} traffic not '
                                       f'accepted by {fw_chain}" {match} -d {ip} --dport {port.port} -j DROP')
        if not has_external:
            out.filter_external.append(f"-A {n.external_services} -m comment --comment {external_comment} "
                                       f"{match} -d {ip} --dport {port.port} -j {external_target}")

    # Capture the node port (on every local address: KUBE-SERVICES jumps here for dst-type LOCAL).
    if port.node_port:
        if has_endpoints:
            out.nat_nodeports.append(f'-A {n.nodeports} -m comment --comment "{name}" {match} '
                                     f"--dport {port.node_port} -j {ext_chain}")
        if not has_external:
            out.filter_external.append(f"-A {n.external_services} -m comment --comment {external_comment} "
                                       f"-m addrtype --dst-type LOCAL {match} --dport {port.node_port} "
                                       f"-j {external_target}")
    if port.health_check_node_port:
        out.filter_nodeports.append(f'-A {n.nodeports} -m comment --comment "{name} health check node port" '
                                    f"-m tcp -p tcp --dport {port.health_check_node_port} -j ACCEPT")

    # The service's own chains.
    rules = out.chain_rules
    if has_internal:
        if ctx.masquerade_all:
            rules.append(f'-A {internal_chain} -m comment --comment "{name} cluster IP" {match} {cluster_dest} '
                         f"-j {n.mark_masq}")
        elif ctx.cluster_cidr:
            # Off-cluster traffic to a service IP may leave through another node: masquerade it.
            rules.append(f'-A {internal_chain} -m comment --comment "{name} cluster IP" {match} {cluster_dest} '
                         f"! -s {ctx.cluster_cidr} -j {n.mark_masq}")
    if uses_ext_chain:
        out.chains.append(ext_chain)
        if not port.external_policy_local:
            rules.append(f'-A {ext_chain} -m comment --comment "masquerade traffic for {name} external '
                         f'destinations" -j {n.mark_masq}')
        else:
            if ctx.cluster_cidr:
                rules.append(f'-A {ext_chain} -m comment --comment "pod traffic for {name} external '
                             f'destinations" -s {ctx.cluster_cidr} -j {svc_chain}')
            rules.append(f'-A {ext_chain} -m comment --comment "masquerade LOCAL traffic for {name} external '
                         f'destinations" -m addrtype --src-type LOCAL -j {n.mark_masq}')
            rules.append(f'-A {ext_chain} -m comment --comment "route LOCAL traffic for {name} external '
                         f'destinations" -m addrtype --src-type LOCAL -j {svc_chain}')
        if has_external:
            rules.append(f"-A {ext_chain} -j {external_policy_chain}")
    if uses_fw_chain:
        out.chains.append(fw_chain)
        head = f'-A {fw_chain} -m comment --comment "{name} loadbalancer IP"'
        allow_from_node = False
        for source in port.load_balancer_source_ranges:
            rules.append(f"{head} -s {source} -j {ext_chain}")
            allow_from_node = allow_from_node or cidr_contains(source, ctx.node_ip)
        if allow_from_node:
            # A node reaching its own LB address may loop back with the LB IP as source.
            for ip in port.load_balancer_ips:
                rules.append(f"{head} -s {ip} -j {ext_chain}")
        rules.append(f'-A {fw_chain} -m comment --comment "other traffic to {name} will be dropped by '
                     f'{n.proxy_firewall}"')
    if routing.uses_cluster_chain:
        out.chains.append(svc_chain)
        _balance(rules, port, svc_chain, cat.cluster, ctx)
    if routing.uses_local_chain:
        out.chains.append(svl_chain)
        _balance(rules, port, svl_chain, cat.local, ctx)
    for ep in cat.reachable:
        sep = n.sep(name, proto, ep.address)
        out.chains.append(sep)
        comment = f'-m comment --comment "{name}" ' if ctx.comments else ""
        rules.append(f"-A {sep} {comment}-s {ep.ip} -j {n.mark_masq}")  # hairpin: a pod reaching itself
        affinity = f"-m recent --name {sep} --set " if port.affinity_timeout else ""
        rules.append(f"-A {sep} {comment}{affinity}{match} -j DNAT --to-destination {ep.address}")
    return out


def _balance(rules: list[str], port: ServicePort, chain: str, endpoints: list[Endpoint],
             ctx: RuleContext) -> None:
    """Session-affinity lookups first, then random balancing: 1/n, 1/(n-1), ..., the last always."""
    n = ctx.names
    name = port.name_string
    proto = port.proto
    if port.affinity_timeout:
        for ep in endpoints:
            sep = n.sep(name, proto, ep.address)
            comment = f'-m comment --comment "{name} -> {ep.address}" ' if ctx.comments else ""
            rules.append(f"-A {chain} {comment}-m recent --name {sep} --rcheck --seconds {port.affinity_timeout} "
                         f"--reap -j {sep}")
    count = len(endpoints)
    for i, ep in enumerate(endpoints):
        sep = n.sep(name, proto, ep.address)
        comment = f'-m comment --comment "{name} -> {ep.address}" ' if ctx.comments else ""
        chance = f"-m statistic --mode random --probability {probability(count - i)} " if i < count - 1 else ""
        rules.append(f"-A {chain} {comment}{chance}-j {sep}")

