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
from pathlib import Path

from kybernetes.proxy import rules_table
from kybernetes.proxy.conntrack import Conntrack
from kybernetes.proxy.gc_pause import gc_paused
from kybernetes.proxy.iptables import Iptables, IptablesError
from kybernetes.proxy.model import endpoints_from_slices, service_ports
from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.proxier_base import ProxierBase, ProxyConfig, UdpTargets
from kybernetes.proxy.rules_service import RuleContext, ServiceRules, service_rules
from kybernetes.proxy.rules_table import TableOptions, jumps
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)

__all__ = ["Proxier", "ProxyConfig"]  # ProxyConfig lives in proxier_base; imported from here too


class Proxier(ProxierBase):
    sync_errors = (IptablesError,)

    def __init__(self, iptables: Iptables, config: ProxyConfig, *, clock: Clock | None = None,
                 conntrack: Conntrack | None = None, proc_sys: Path = Path("/proc/sys")):
        super().__init__(config, clock=clock, conntrack=conntrack, proc_sys=proc_sys)
        self.iptables = iptables
        self.names = ChainNames(config.chain_prefix)
        self._rules: dict[str, ServiceRules] = {}
        self._programmed: dict[str, list[str]] = {}  # service key -> its chains in the kernel
        self._large = False

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

    async def _tables_missing(self) -> bool:
        # A periodic run: make sure nobody flushed our tables behind our back.
        if await self.iptables.list_chain("nat", self.names.canary) is None:
            log.warning("canary chain %s is gone: the tables were flushed; resyncing everything",
                        self.names.canary)
            return True
        return False

    def _derive_for_sync(self, full: bool, pending: set[str]) -> bool:
        large = self._slice_endpoints() > self.config.large_cluster_endpoints
        if large != self._large:
            self._large, full = large, True
        ctx = self._context()
        keys = set(self._services) | set(self._rules) if full else pending
        with gc_paused():
            for key in keys:
                self._derive(key, ctx)
        return full

    async def _write(self, full: bool, changed: set[str]) -> None:
        if full:
            await self._full_sync()
        else:
            await self._partial_sync(changed)

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

    def _udp_targets(self, key: str) -> UdpTargets:
        rules = self._rules.get(key)
        return dict(rules.udp_targets) if rules is not None else {}
