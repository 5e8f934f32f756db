"""The nftables proxy's own table and the ``nft -f`` transaction of one sync, pure.

    table ip kybernetes-proxy                       (ours alone: nothing else on the host is touched)
      nat-prerouting / nat-output   nat, dstnat     jump services
      nat-postrouting               nat, srcnat     jump masquerading
      filter-prerouting / filter-output  -110       new: jump firewall-check        (before DNAT)
      filter-input                  -110            new: nodeport-endpoints-check, service-
                                                    endpoints-check; [localhost guard]
      filter-forward                -110            new: jump service-endpoints-check
      filter-output-post-dnat       -90             new: jump service-endpoints-check (after DNAT)
      services                      daddr . l4proto . dport vmap @service-ips, then on local
                                    addresses l4proto . dport vmap @service-nodeports
      masquerading                  hairpin (DNATed to its own source): masquerade; marked
                                    packets: clear the mark, masquerade fully-random
      + the maps and per-service chains of nft_rules.py

A sync is one ``Changes`` rendered as one transaction (``nft -f -`` applies all of it or none):
a full sync declares the table, flushes the maps and every chain and writes everything; a
partial sync only deletes and adds the map elements of the services that changed, flushes and
refills their chains, and deletes the chains and affinity sets they no longer use - in the same
transaction, after the elements and rules referring to them are gone (the kernel counts those
references inside the transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kybernetes.proxy.nft_rules import (
    FIREWALL_IPS,
    HAIRPIN,
    MAPS,
    MARK_MASQ,
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    REJECT_CHAIN,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    ElementKey,
)

FAMILY = "ip"
DEFAULT_TABLE = "kybernetes-proxy"
ELEMENTS_PER_LINE = 1000

# name -> (type, hook, priority); priorities are numbers (nft 1.0 names only some per hook).
BASE_CHAINS: dict[str, tuple[str, str, int]] = {
    "nat-prerouting": ("nat", "prerouting", -100),
    "nat-output": ("nat", "output", -100),
    "nat-postrouting": ("nat", "postrouting", 100),
    "filter-prerouting": ("filter", "prerouting", -110),
    "filter-input": ("filter", "input", -110),
    "filter-forward": ("filter", "forward", -110),
    "filter-output": ("filter", "output", -110),
    "filter-output-post-dnat": ("filter", "output", -90),
}
MAP_TYPES = {
    SERVICE_IPS: "ipv4_addr . inet_proto . inet_service : verdict",
    SERVICE_NODEPORTS: "inet_proto . inet_service : verdict",
    NO_ENDPOINT_SERVICES: "ipv4_addr . inet_proto . inet_service : verdict",
    NO_ENDPOINT_NODEPORTS: "inet_proto . inet_service : verdict",
    FIREWALL_IPS: "ipv4_addr . inet_proto . inet_service : verdict",
}
TOP_CHAINS = ("services", "masquerading", MARK_MASQ, "service-endpoints-check", "nodeport-endpoints-check",
              "firewall-check", REJECT_CHAIN)


def table_name(prefix: str = "KUBE") -> str:
    """``kybernetes-proxy`` for the real proxy; tests and benchmarks (another chain prefix) get their own."""
    return DEFAULT_TABLE if prefix == "KUBE" else f"{DEFAULT_TABLE}-{prefix.lower()}"


@dataclass(frozen=True)
class NftTableOptions:
    table: str = DEFAULT_TABLE
    masquerade_mark: int = 1 << 14
    localhost_nodeports: bool = True


def base_rules(opts: NftTableOptions) -> dict[str, list[str]]:
    """The rules of the base and top-level chains (rewritten by every full sync)."""
    mark = f"{opts.masquerade_mark:#x}"
    not_localhost = "" if opts.localhost_nodeports else "ip daddr != 127.0.0.0/8 "
    new = "ct state new"
    input_rules = [f"{new} jump nodeport-endpoints-check", f"{new} jump service-endpoints-check"]
    if opts.localhost_nodeports:
        # route_localnet lets 127.0.0.1:<nodePort> be DNATed out of the host; keep other hosts from
        # sending packets to 127.0.0.0/8 through the same door.
        input_rules.append("ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related } "
                           "ct status & dnat == 0 drop")
    return {
        "nat-prerouting": ["jump services"],
        "nat-output": ["jump services"],
        "nat-postrouting": ["jump masquerading"],
        "filter-prerouting": [f"{new} jump firewall-check"],
        "filter-input": input_rules,
        "filter-forward": [f"{new} jump service-endpoints-check"],
        "filter-output": [f"{new} jump firewall-check"],
        "filter-output-post-dnat": [f"{new} jump service-endpoints-check"],
        "services": [f"ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}",
                     f"fib daddr type local {not_localhost}meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"],
        "masquerading": [f"ct status dnat ip saddr . ip daddr @{HAIRPIN} masquerade fully-random",
                         f"meta mark & {mark} == 0 return",
                         # Clear the mark so a packet that traverses the stack again is not masqueraded twice.
                         f"meta mark set meta mark xor {mark}",
                         "masquerade fully-random"],
        MARK_MASQ: [f"meta mark set meta mark or {mark}"],
        "service-endpoints-check": [f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"],
        "nodeport-endpoints-check": [f"{not_localhost}meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"],
        "firewall-check": [f"ip daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}"],
        REJECT_CHAIN: ["reject"],
    }


@dataclass
class Changes:
    """What one sync does to the table, in the order it is rendered."""

    base: bool = False  # declare the table, base chains, maps; flush them and rewrite their rules
    recreate: bool = False  # with base: delete the table first (recovery from a failed full sync)
    delete_elements: list[ElementKey] = field(default_factory=list)
    flush_chains: list[str] = field(default_factory=list)
    delete_chains: list[str] = field(default_factory=list)
    delete_sets: list[str] = field(default_factory=list)
    add_sets: dict[str, int] = field(default_factory=dict)
    add_chains: list[str] = field(default_factory=list)
    rules: dict[str, list[str]] = field(default_factory=dict)  # chain -> rules (the chain is empty now)
    add_elements: dict[ElementKey, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.base or self.delete_elements or self.flush_chains or self.delete_chains
                    or self.delete_sets or self.add_sets or self.add_chains or self.rules or self.add_elements)


def render(opts: NftTableOptions, changes: Changes) -> list[str]:
    """The ``nft -f`` input of one sync."""
    t = f"{FAMILY} {opts.table}"
    lines: list[str] = []
    if changes.base:
        if changes.recreate:
            lines += [f"add table {t}", f"delete table {t}"]
        lines.append(f'add table {t} {{ comment "kybernetes service proxy (kyb proxy)" ; }}')
        for name, (kind, hook, priority) in BASE_CHAINS.items():
            lines.append(f"add chain {t} {name} {{ type {kind} hook {hook} priority {priority} ; }}")
        lines += [f"add chain {t} {name}" for name in TOP_CHAINS]
        for name, kind in MAP_TYPES.items():
            lines.append(f"add map {t} {name} {{ type {kind} ; }}")
            lines.append(f"flush map {t} {name}")
        lines.append(f"add set {t} {HAIRPIN} {{ type ipv4_addr . ipv4_addr ; }}")
        lines.append(f"flush set {t} {HAIRPIN}")
        lines += [f"flush chain {t} {name}" for name in (*BASE_CHAINS, *TOP_CHAINS)]
    by_map: dict[str, list[str]] = {}
    for map_name, key in changes.delete_elements:
        by_map.setdefault(map_name, []).append(key)
    for map_name in MAPS:
        keys = by_map.get(map_name, [])
        for i in range(0, len(keys), ELEMENTS_PER_LINE):
            lines.append(f"delete element {t} {map_name} {{ {', '.join(keys[i:i + ELEMENTS_PER_LINE])} }}")
    lines += [f"flush chain {t} {name}" for name in changes.flush_chains]
    lines += [f"delete chain {t} {name}" for name in changes.delete_chains]
    lines += [f"delete set {t} {name}" for name in changes.delete_sets]
    lines += [f"add set {t} {name} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s ; }}"
              for name, timeout in changes.add_sets.items()]
    lines += [f"add chain {t} {name}" for name in changes.add_chains]
    if changes.base:
        for name, rules in base_rules(opts).items():
            lines += [f"add rule {t} {name} {rule}" for rule in rules]
    for name, rules in changes.rules.items():
        lines += [f"add rule {t} {name} {rule}" for rule in rules]
    by_map_add: dict[str, list[str]] = {}
    for (map_name, key), verdict in changes.add_elements.items():
        by_map_add.setdefault(map_name, []).append(f"{key} : {verdict}" if verdict else key)
    for map_name in MAPS:
        items = by_map_add.get(map_name, [])
        for i in range(0, len(items), ELEMENTS_PER_LINE):
            lines.append(f"add element {t} {map_name} {{ {', '.join(items[i:i + ELEMENTS_PER_LINE])} }}")
    return lines


def table_objects(listing: str, table: str) -> tuple[set[str], set[str]]:
    """The chain and set names of ``table`` in an ``nft list`` output (maps are not sets here)."""
    chains: set[str] = set()
    sets: set[str] = set()
    inside = False
    for line in listing.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "table" and len(words) >= 3:
            inside = words[1] == FAMILY and words[2] == table
        elif inside and len(words) >= 2 and words[-1] == "{":
            if words[0] == "chain":
                chains.add(words[1])
            elif words[0] == "set":
                sets.add(words[1])
    return chains, sets


def owners(wanted: Mapping[ElementKey, Iterable[str]]) -> dict[ElementKey, str]:
    """Which service gets an address claimed by several (the first by name, as a stable rule)."""
    return {key: min(services) for key, services in wanted.items() if services}
