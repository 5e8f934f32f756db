"""The iptables-restore input of one sync: the top-level chains around every service's rules.

    *filter  KUBE-SERVICES / KUBE-EXTERNAL-SERVICES / KUBE-NODEPORTS / KUBE-PROXY-FIREWALL: the
             services' REJECT / DROP / ACCEPT lines; KUBE-FORWARD: let marked and established
             service traffic through a FORWARD policy of DROP; [KUBE-FIREWALL: localhost guard]
    *nat     KUBE-POSTROUTING: masquerade what KUBE-MARK-MASQ marked; KUBE-SERVICES: every
             service's capture lines, then (last) the jump to KUBE-NODEPORTS for local addresses;
             the hashed chains of the services being (re)written; stale chains flushed and deleted

The input goes to ``iptables-restore --noflush``: only the chains declared in it are flushed
and replaced, in one transaction, and the host's other chains are left alone. Jump rules from
the built-in chains are ``-I`` lines for the ones found missing (the caller looks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.rules_service import ServiceRules

NODEPORTS_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


@dataclass(frozen=True)
class Jump:
    table: str
    source: str  # a built-in chain
    target: str
    comment: str
    match: str = ""

    def rule(self) -> str:
        """The rule's arguments after ``-A/-I <source>``."""
        parts = [self.match] if self.match else []
        if self.comment:
            parts.append(f'-m comment --comment "{self.comment}"')
        parts.append(f"-j {self.target}")
        return " ".join(parts)


def jumps(names: ChainNames, localhost_guard: bool) -> list[Jump]:
    """kube-proxy's hooks from the built-in chains into ours."""
    new = "-m conntrack --ctstate NEW"
    out = [
        Jump("filter", "INPUT", names.external_services, "kubernetes externally-visible service portals", new),
        Jump("filter", "FORWARD", names.external_services, "kubernetes externally-visible service portals", new),
        Jump("filter", "INPUT", names.nodeports, "kubernetes health check service ports"),
        Jump("filter", "FORWARD", names.services, "kubernetes service portals", new),
        Jump("filter", "OUTPUT", names.services, "kubernetes service portals", new),
        Jump("filter", "FORWARD", names.forward, "kubernetes forwarding rules"),
        Jump("filter", "INPUT", names.proxy_firewall, "kubernetes load balancer firewall", new),
        Jump("filter", "OUTPUT", names.proxy_firewall, "kubernetes load balancer firewall", new),
        Jump("filter", "FORWARD", names.proxy_firewall, "kubernetes load balancer firewall", new),
        Jump("nat", "OUTPUT", names.services, "kubernetes service portals"),
        Jump("nat", "PREROUTING", names.services, "kubernetes service portals"),
        Jump("nat", "POSTROUTING", names.postrouting, "kubernetes postrouting rules"),
    ]
    if localhost_guard:
        out += [Jump("filter", "INPUT", names.firewall, "block incoming localnet connections"),
                Jump("filter", "OUTPUT", names.firewall, "block incoming localnet connections")]
    return out


@dataclass(frozen=True)
class TableOptions:
    names: ChainNames
    masquerade_mark: int = 1 << 14
    localhost_nodeports: bool = True
    random_fully: bool = True
    canary: bool = False  # (re)create the canary chains: full syncs only


def chain_line(chain: str) -> str:
    return f":{chain} - [0:0]"


def filter_table(opts: TableOptions, services: Iterable[ServiceRules], missing_jumps: Iterable[Jump] = ()) -> list[str]:
    n = opts.names
    mark = f"{opts.masquerade_mark:#x}"
    top = list(n.filter_top_level)
    if opts.localhost_nodeports:
        top.append(n.firewall)
    if opts.canary:
        top.append(n.canary)
    lines = ["*filter"] + [chain_line(c) for c in top]
    if opts.localhost_nodeports:
        # route_localnet lets 127.0.0.1:<nodePort> be DNATed out of the host; this keeps other
        # hosts from sending packets to 127.0.0.0/8 through the same door.
        lines.append(f'-A {n.firewall} -m comment --comment "block incoming localnet connections" '
                     "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
    services_lines: list[str] = []
    external: list[str] = []
    nodeports: list[str] = []
    firewall: list[str] = []
    for rules in services:
        services_lines += rules.filter_services
        external += rules.filter_external
        nodeports += rules.filter_nodeports
        firewall += rules.filter_firewall
    lines += services_lines + external + nodeports + firewall
    lines += [
        f"-A {n.forward} -m conntrack --ctstate INVALID -j DROP",
        f'-A {n.forward} -m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} -j ACCEPT',
        f'-A {n.forward} -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    lines += [f"-I {j.source} 1 {j.rule()}" for j in missing_jumps if j.table == "filter"]
    lines.append("COMMIT")
    return lines


def nat_table(opts: TableOptions, all_services: Mapping[str, ServiceRules], write: Iterable[str] | None,
              delete_chains: Iterable[str] = (), missing_jumps: Iterable[Jump] = ()) -> list[str]:
    """``write``: the service keys whose own chains are (re)written; None means all of them."""
    n = opts.names
    mark = f"{opts.masquerade_mark:#x}"
    keys = sorted(all_services)
    written = keys if write is None else sorted(k for k in set(write) if k in all_services)
    deleted = sorted(set(delete_chains))
    chains = list(n.nat_top_level) + ([n.canary] if opts.canary else [])
    lines = ["*nat"] + [chain_line(c) for c in chains]
    for key in written:
        lines += [chain_line(c) for c in all_services[key].chains]
    lines += [chain_line(c) for c in deleted]
    masquerade = f'-A {n.postrouting} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
    lines += [
        f"-A {n.postrouting} -m mark ! --mark {mark}/{mark} -j RETURN",
        # Clear the mark so a packet that traverses the stack again is not masqueraded twice.
        f"-A {n.postrouting} -j MARK --xor-mark {mark}",
        masquerade + (" --random-fully" if opts.random_fully else ""),
        f"-A {n.mark_masq} -j MARK --or-mark {mark}",
    ]
    nodeports: list[str] = []
    for key in keys:
        rules = all_services[key]
        lines += rules.nat_services
        nodeports += rules.nat_nodeports
    for key in written:
        lines += all_services[key].chain_rules
    local = "-m addrtype --dst-type LOCAL" + ("" if opts.localhost_nodeports else " ! -d 127.0.0.0/8")
    lines.append(f"-A {n.services} -m comment --comment {NODEPORTS_COMMENT} {local} -j {n.nodeports}")
    lines += nodeports
    lines += [f"-X {c}" for c in deleted]
    lines += [f"-I {j.source} 1 {j.rule()}" for j in missing_jumps if j.table == "nat"]
    lines.append("COMMIT")
    return lines


def chains_only(services: Iterable[ServiceRules]) -> list[str]:
    """A nat batch with just some services' own chains: used to stage a very large full sync."""
    decl: list[str] = []
    rules: list[str] = []
    for r in services:
        decl += [chain_line(c) for c in r.chains]
        rules += r.chain_rules
    return ["*nat", *decl, *rules, "COMMIT"]


def delete_only(chains: Iterable[str]) -> list[str]:
    chains = list(chains)
    return ["*nat", *(chain_line(c) for c in chains), *(f"-X {c}" for c in chains), "COMMIT"]


def flush_only(chains: Iterable[str]) -> list[str]:
    return ["*nat", *(chain_line(c) for c in chains), "COMMIT"]
