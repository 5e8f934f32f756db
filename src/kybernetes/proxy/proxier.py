"""The iptables proxier: Services + EndpointSlices in, the node's packet filter out.

    informer handlers ──► _services / _slices (latest objects) + pending keys ──► SyncRunner.request()
    SyncRunner (minSyncPeriod rate limit, periodic resync) ──► sync():
        re-derive ServiceRules for the pending services only (pure: rules_service.py)
        partial sync: one iptables-restore with the top-level chains + the changed services' chains
                      + the chains they no longer use (deleted)
        full sync:    also the jump rules from the built-in chains, the canary, and every service's
                      chains; stale chains found with iptables-save are deleted

Partial syncs are what kube-proxy does since 1.27: unchanged services keep their chains in the
kernel, so a one-service change at 10k services rewrites ~10k top-level lines, not ~200k rules.
Any failure makes the next sync full. A full sync bigger than ``chunk_chains`` chains is staged:
the services' chains in batches of that size first (each batch atomic; new chains are not yet
referenced, replaced ones switch one by one), then the top-level chains in one batch, then stale
chains deleted - because iptables-nft's restore time grows with rules x chains in one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.proxy import rules_table
from kybernetes.proxy.conntrack import Conntrack
from kybernetes.proxy.gc_pause import gc_paused
from kybernetes.proxy.health_server import HealthCheck, health_checks
from kybernetes.proxy.iptables import Iptables, IptablesError
from kybernetes.proxy.model import ServicePort, endpoints_from_slices, service_ports, slice_service_key
from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.rules_service import RuleContext, ServiceRules, service_rules
from kybernetes.proxy.rules_table import TableOptions, jumps
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True)
class ProxyConfig:
    node_name: str = ""
    cluster_cidr: str = ""
    masquerade_all: bool = False
    masquerade_bit: int = 14
    min_sync_period: float = 1.0
    sync_period: float = 30.0
    full_sync_period: float = 3600.0
    chain_prefix: str = "KUBE"
    localhost_nodeports: bool = True
    # Where to write route_localnet=1 for localhost node ports (tests pass their own bridge's).
    route_localnet_sysctls: tuple[str, ...] = ("net/ipv4/conf/all/route_localnet",)
    node_ip: str = ""
    chunk_chains: int = 800
    large_cluster_endpoints: int = 1000  # above this many endpoints, per-endpoint comments are dropped

    def __post_init__(self) -> None:
        if not 0 <= self.masquerade_bit <= 31:
            raise ValueError("masquerade bit must be within 0..31")
        if self.min_sync_period < 0 or self.sync_period <= 0:
            raise ValueError("min sync period must be >= 0 and sync period > 0")
        ChainNames(self.chain_prefix)  # validates the prefix


class Proxier:
    def __init__(self, iptables: Iptables, config: ProxyConfig, *, clock: Clock | None = None,
                 conntrack: Conntrack | None = None, proc_sys: Path = Path("/proc/sys")):
        self.iptables = iptables
        self.config = config
        self.clock = clock or REAL_CLOCK
        self.conntrack = conntrack or Conntrack()
        self.proc_sys = proc_sys
        self.names = ChainNames(config.chain_prefix)
        self._services: dict[str, Obj] = {}
        self._slices: dict[str, dict[str, Obj]] = {}
        self._pending: dict[str, float] = {}  # service key -> when it first changed since the last sync
        self._rules: dict[str, ServiceRules] = {}
        self._ports: dict[str, list[ServicePort]] = {}
        self._programmed: dict[str, list[str]] = {}  # service key -> its chains in the kernel
        self._need_full = True
        self._large = False
        self._last_full = float("-inf")
        self.services_synced = False
        self.slices_synced = False
        self.listeners: list[Callable[[dict[str, float], float], None]] = []
        self.syncs = 0
        self.full_syncs = 0
        self.failures = 0
        self.healthy = True  # the last sync of the rules worked (the health server reports it)
        # Set by whoever runs the sync loop (run.py wires them to a SyncRunner).
        self.request: Callable[[], None] = lambda: None
        self.retry_after: Callable[[float], None] = lambda seconds: None

    # -- informer handlers (quick: store the object, remember the key, ask for a sync) -----------

    def _changed(self, key: str) -> None:
        self._pending.setdefault(key, self.clock.now())
        self.request()

    def on_service(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        self._services[key] = obj
        self._changed(key)

    def on_service_delete(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        self._services.pop(key, None)
        self._changed(key)

    def on_slice(self, obj: Obj) -> None:
        key = slice_service_key(obj)
        if key is not None:
            self._slices.setdefault(key, {})[(obj.get("metadata") or {}).get("name", "")] = obj
            self._changed(key)

    def on_slice_delete(self, obj: Obj) -> None:
        key = slice_service_key(obj)
        if key is not None:
            by_name = self._slices.get(key, {})
            by_name.pop((obj.get("metadata") or {}).get("name", ""), None)
            if not by_name:
                self._slices.pop(key, None)
            self._changed(key)

    def health_checks(self) -> dict[str, HealthCheck]:
        """The Services with a healthCheckNodePort and this node's ready endpoints of each."""
        return health_checks(self._ports, self._slices, self.config.node_name)

    def force_full_sync(self) -> None:
        self._need_full = True
        self.request()

    # -- host setup ----------------------------------------------------------------------------

    def prepare_host(self) -> None:
        """route_localnet for localhost node ports; a warning when bridged traffic skips iptables."""
        if self.config.localhost_nodeports:
            for name in self.config.route_localnet_sysctls:
                try:
                    (self.proc_sys / name).write_text("1\n")
                except OSError as e:
                    log.warning("cannot set %s=1 (localhost node ports will not work): %s", name, e)
        try:
            if (self.proc_sys / "net/bridge/bridge-nf-call-iptables").read_text().strip() != "1":
                log.warning("bridge-nf-call-iptables is off: pods on a bridge may not reach services")
        except OSError:
            log.warning("br_netfilter is not loaded: pods on a bridge may not reach services")

    # -- the sync ------------------------------------------------------------------------------

    def _context(self) -> RuleContext:
        return RuleContext(self.names, self.config.cluster_cidr, self.config.masquerade_all, self.config.node_ip,
                           comments=not self._large)

    def _table_options(self, canary: bool) -> TableOptions:
        return TableOptions(self.names, 1 << self.config.masquerade_bit, self.config.localhost_nodeports,
                            canary=canary)

    def _derive(self, key: str, ctx: RuleContext) -> None:
        obj = self._services.get(key)
        ports = service_ports(obj) if obj is not None else []
        if not ports:
            self._rules.pop(key, None)
            self._ports.pop(key, None)
            return
        endpoints = endpoints_from_slices(list(self._slices.get(key, {}).values()), self.config.node_name)
        self._ports[key] = ports
        self._rules[key] = service_rules(ports, endpoints, ctx)

    async def sync(self) -> None:
        """One sync; iptables failures are logged, retried after sync_period, and make it a full one."""
        if not (self.services_synced and self.slices_synced):
            return
        now = self.clock.now()
        if not self._pending and not self._need_full:
            # A periodic run: make sure nobody flushed our tables behind our back.
            if await self.iptables.list_chain("nat", self.names.canary) is None:
                log.warning("canary chain %s is gone: the tables were flushed; resyncing everything",
                            self.names.canary)
                self._need_full = True
        if now - self._last_full >= self.config.full_sync_period:
            self._need_full = True
        full = self._need_full
        pending, self._pending = self._pending, {}
        old_udp = {k: self._udp_targets(k) for k in pending}
        large = self._slice_endpoints() > self.config.large_cluster_endpoints
        if large != self._large:
            self._large, full = large, True
        ctx = self._context()
        keys = set(self._services) | set(self._rules) if full else set(pending)
        with gc_paused():
            for key in keys:
                self._derive(key, ctx)
        try:
            if full:
                await self._full_sync()
            else:
                await self._partial_sync(set(pending))
        except (IptablesError, OSError) as e:
            log.error("sync of the service rules failed; a full sync follows in %.0f s: %s",
                      self.config.sync_period, e)
            self._need_full = True
            for key, at in pending.items():
                self._pending.setdefault(key, at)
            self.failures += 1
            self.healthy = False
            self.retry_after(self.config.sync_period)
            return
        self.syncs += 1
        self.healthy = True
        done = self.clock.now()
        if full:
            self.full_syncs += 1
            self._need_full = False
            self._last_full = now
        await self._clear_udp(old_udp)
        for listener in list(self.listeners):
            listener(pending, done)

    def _slice_endpoints(self) -> int:
        return sum(len(s.get("endpoints") or []) for by_name in self._slices.values() for s in by_name.values())

    async def _partial_sync(self, changed: set[str]) -> None:
        stale: set[str] = set()
        for key in changed:
            new = set(self._rules[key].chains) if key in self._rules else set()
            stale |= set(self._programmed.get(key, ())) - new
        opts = self._table_options(canary=False)
        lines = rules_table.filter_table(opts, self._rules.values())
        lines += rules_table.nat_table(opts, self._rules, changed, stale)
        await self.iptables.restore(lines)
        for key in changed:
            if key in self._rules:
                self._programmed[key] = list(self._rules[key].chains)
            else:
                self._programmed.pop(key, None)

    async def _missing_jumps(self) -> list[rules_table.Jump]:
        missing = []
        listed: dict[tuple[str, str], list[str]] = {}
        for jump in jumps(self.names, self.config.localhost_nodeports):
            where = (jump.table, jump.source)
            if where not in listed:
                listed[where] = await self.iptables.list_chain(jump.table, jump.source) or []
            if not any(line.endswith(f"-j {jump.target}") for line in listed[where]):
                missing.append(jump)
        return missing

    async def _full_sync(self) -> None:
        nat_chains = await self.iptables.chain_names("nat")
        existing = {c for c in nat_chains if self.names.is_service_chain(c)}
        active = {c for r in self._rules.values() for c in r.chains}
        stale = existing - active
        missing = await self._missing_jumps()
        opts = self._table_options(canary=True)
        total = len(active)
        if total <= self.config.chunk_chains:
            lines = rules_table.filter_table(opts, self._rules.values(), missing)
            lines += rules_table.nat_table(opts, self._rules, None, stale, missing)
            await self.iptables.restore(lines)
        else:
            # The services' chains jump to KUBE-MARK-MASQ: create the top-level chains that do not
            # exist yet (declaring an existing one would flush it while traffic flows through it).
            missing_top = [c for c in self.names.nat_top_level if c not in nat_chains]
            if missing_top:
                await self.iptables.restore(rules_table.flush_only(missing_top))
            batch: list[ServiceRules] = []
            size = 0
            for key in sorted(self._rules):
                batch.append(self._rules[key])
                size += len(self._rules[key].chains)
                if size >= self.config.chunk_chains:
                    await self.iptables.restore(rules_table.chains_only(batch))
                    batch, size = [], 0
            if batch:
                await self.iptables.restore(rules_table.chains_only(batch))
            lines = rules_table.filter_table(opts, self._rules.values(), missing)
            lines += rules_table.nat_table(opts, self._rules, [], (), missing)
            await self.iptables.restore(lines)
            # Stale chains may jump into each other: flush them all, then delete them.
            ordered = sorted(stale)
            step = max(1, self.config.chunk_chains * 4)
            for i in range(0, len(ordered), step):
                await self.iptables.restore(rules_table.flush_only(ordered[i:i + step]))
            for i in range(0, len(ordered), step):
                await self.iptables.restore(rules_table.delete_only(ordered[i:i + step]))
        self._programmed = {key: list(r.chains) for key, r in self._rules.items()}

    # -- UDP conntrack ---------------------------------------------------------------------------

    def _udp_targets(self, key: str) -> dict[tuple[str, int], frozenset[str]]:
        rules = self._rules.get(key)
        return dict(rules.udp_targets) if rules is not None else {}

    async def _clear_udp(self, before: dict[str, dict[tuple[str, int], frozenset[str]]]) -> None:
        if not self.conntrack.available:
            return
        for key, old in before.items():
            new = self._udp_targets(key)
            for (ip, node_port), old_ips in old.items():
                for gone in old_ips - new.get((ip, node_port), frozenset()):
                    await self.conntrack.clear_endpoint(ip, gone)
            for (ip, node_port), ips in new.items():
                if ips and not old.get((ip, node_port)):
                    # Flows sent while the service had no endpoint would stick to "no DNAT".
                    await self.conntrack.clear_service(ip)
                    if node_port:
                        await self.conntrack.clear_node_port(node_port)
