"""The nftables proxier (``kyb proxy --proxy-mode nftables``): the iptables proxier's job, in one
table of its own driven by ``nft -f -`` transactions.

    informer handlers, pending keys, retries, health: proxier_base.py (shared with proxier.py)
    sync():
        re-derive NftService values for the pending services (pure: nft_rules.py)
        partial sync: the changed services' map elements deleted/added, their chains flushed and
                      refilled, the chains and affinity sets they dropped deleted: one transaction
                      whose size follows the change, not the number of services (committed over
                      netlink without an nft process when nft_compile.py understands all of it)
        full sync:    (start, failure, table gone, every full_sync_period) the table's base chains
                      and maps rewritten, every service's chains written, and whatever the kernel
                      holds that no service wants (listed with nft) deleted: one transaction

An address claimed by two services (say two LoadBalancers on the node's address with the same
port) goes to the first by name: a map holds one verdict per key, where iptables would have let
the first rule shadow the second. The kernel state is tracked per service (what was last
programmed), so a partial sync knows exactly which elements to delete. Affinity sets keep their
clients across syncs unless the timeout changes (they are made anew then, and on a restart).
If the kernel refuses to delete chains in the transaction that drops their last reference, the
sync is retried with the chains only flushed, and they are deleted by the next sync. A failed
full sync makes the next one delete and rebuild the whole table (in the same transaction), so
nothing left in it - say, a base chain of another version - can keep failing every sync.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from kybernetes.proxy.conntrack import Conntrack
from kybernetes.proxy.gc_pause import gc_paused
from kybernetes.proxy.model import endpoints_from_slices, service_ports
from kybernetes.proxy.nft_rules import (
    FIREWALL_IPS,
    ElementKey,
    NftContext,
    NftService,
    is_affinity_set,
    is_service_chain,
    service_objects,
)
from kybernetes.proxy.nft_table import FAMILY, Changes, NftTableOptions, render, table_name, table_objects
from kybernetes.proxy.nft_tool import Nft, NftError
from kybernetes.proxy.proxier_base import ProxierBase, ProxyConfig, UdpTargets
from kybernetes.util.clock import Clock

log = logging.getLogger(__name__)


class NftProxier(ProxierBase):
    sync_errors = (NftError,)

    def __init__(self, config: ProxyConfig, *, nft: Nft | None = None, clock: Clock | None = None,
                 conntrack: Conntrack | None = None, proc_sys: Path = Path("/proc/sys"), table: str | None = None):
        super().__init__(config, clock=clock, conntrack=conntrack, proc_sys=proc_sys)
        self.nft = nft or Nft()
        self.table = table or table_name(config.chain_prefix)
        self.opts = NftTableOptions(self.table, 1 << config.masquerade_bit, config.localhost_nodeports)
        self.ctx = NftContext(config.cluster_cidr, config.masquerade_all, config.node_ip)
        self._objects: dict[str, NftService] = {}  # what each service wants
        self._wanted: dict[ElementKey, set[str]] = {}  # map element -> services wanting it
        self._programmed: dict[str, NftService] = {}  # what the kernel holds per service
        self._elements: dict[ElementKey, str] = {}  # map elements in the kernel
        self._set_timeouts: dict[str, int] = {}  # affinity sets in the kernel
        self._stale_chains: set[str] = set()  # flushed, to delete (see the module docstring)
        self._stale_sets: set[str] = set()
        self._recreate = False  # a full sync failed: the next one starts from an empty table
        self.last_transaction_lines = 0

    # -- deriving ----------------------------------------------------------------------------------

    def _derive(self, key: str) -> None:
        old = self._objects.pop(key, None)
        if old is not None:
            for element in old.elements:
                wanting = self._wanted.get(element)
                if wanting is not None:
                    wanting.discard(key)
                    if not wanting:
                        del self._wanted[element]
        obj = self._services.get(key)
        ports = service_ports(obj) if obj is not None else []
        if not ports:
            self._ports.pop(key, None)
            return
        self._ports[key] = ports
        endpoints = endpoints_from_slices(list(self._slices.get(key, {}).values()), self.config.node_name)
        new = self._objects[key] = service_objects(ports, endpoints, self.ctx)
        for element in new.elements:
            self._wanted.setdefault(element, set()).add(key)

    def _desired(self, element: ElementKey) -> str | None:
        wanting = self._wanted.get(element)
        if not wanting:
            return None
        return self._objects[min(wanting)].elements[element]

    # -- the sync ----------------------------------------------------------------------------------

    async def _tables_missing(self) -> bool:
        # (a small map of ours: cheap to list, and gone when someone deleted the table)
        if await self.nft.has_object("map", FAMILY, self.table, FIREWALL_IPS):
            return False
        log.warning("table %s %s is gone: resyncing everything", FAMILY, self.table)
        return True

    def _derive_for_sync(self, full: bool, pending: set[str]) -> bool:
        # A service's objects follow from its Service and slices alone: a full sync re-derives only
        # the changed ones, plus any the caches and the derived state disagree on.
        derive = set(pending)
        if full:
            derive |= set(self._services).symmetric_difference(self._objects)
        with gc_paused():
            for key in derive:
                self._derive(key)
        return full

    async def _write(self, full: bool, changed: set[str]) -> None:
        changes = await self._full_changes() if full else self._partial_changes(changed)
        if not changes.empty:
            await self._apply(changes)
        self._record(changes, None if full else changed)

    def _sync_failed(self, full: bool) -> None:
        self._recreate = full  # whatever in the table made it fail goes with it

    def _full_sync_done(self) -> None:
        self._recreate = False

    def _partial_changes(self, changed: set[str]) -> Changes:
        old_chains: set[str] = set()
        new_chains: dict[str, list[str]] = {}
        old_sets: dict[str, int] = {}
        new_sets: dict[str, int] = {}
        affected: set[ElementKey] = set()
        for key in sorted(changed):
            old, new = self._programmed.get(key), self._objects.get(key)
            if old is not None:
                old_chains.update(old.chains)
                old_sets.update(old.sets)
                affected.update(old.elements)
            if new is not None:
                new_chains.update(new.chains)
                new_sets.update(new.sets)
                affected.update(new.elements)
        changes = Changes()
        for element in sorted(affected):
            current, desired = self._elements.get(element), self._desired(element)
            if current != desired:
                if current is not None:
                    changes.delete_elements.append(element)
                if desired is not None:
                    changes.add_elements[element] = desired
        self._stale_chains -= set(new_chains)
        self._stale_sets -= set(new_sets)
        changes.flush_chains = sorted(old_chains)
        changes.delete_chains = sorted((old_chains - set(new_chains)) | self._stale_chains)
        changes.delete_sets = sorted({s for s, t in old_sets.items() if new_sets.get(s) != t} | self._stale_sets)
        changes.add_sets = {s: t for s, t in new_sets.items() if old_sets.get(s) != t}
        changes.add_chains = sorted(set(new_chains) - old_chains)
        changes.rules = new_chains
        return changes

    async def _full_changes(self) -> Changes:
        chains: set[str] = set()
        sets: set[str] = set()
        if not self._recreate:
            # Chain and set names only: listing the whole table would also print every rule (slow).
            chains, _ = table_objects(await self.nft.list("chains", FAMILY) or "", self.table)
            _, sets = table_objects(await self.nft.list("sets", FAMILY) or "", self.table)
        with gc_paused():
            return self._everything(chains, sets)

    def _everything(self, chains: set[str], sets: set[str]) -> Changes:
        """A full sync's changes, given the chain and set names the table holds now."""
        existing_chains = {c for c in chains if is_service_chain(c)}
        existing_sets = {s for s in sets if is_affinity_set(s)}
        wanted_chains: dict[str, list[str]] = {}
        wanted_sets: dict[str, int] = {}
        elements: dict[ElementKey, str] = {}  # in the services' order, not sorted: 60k keys at 10k services
        for key in sorted(self._objects):
            obj = self._objects[key]
            wanted_chains.update(obj.chains)
            wanted_sets.update(obj.sets)
            for element, value in obj.elements.items():
                elements.setdefault(element, value)  # the first service by name keeps it (as _desired)
        keep_sets = {s for s, t in wanted_sets.items() if s in existing_sets and self._set_timeouts.get(s) == t}
        # Every existing chain is flushed before anything is deleted, so no old rule still refers to
        # a set or chain being deleted (render's order).
        return Changes(base=True, recreate=self._recreate, flush_chains=sorted(existing_chains),
                       delete_chains=sorted(existing_chains - set(wanted_chains)),
                       delete_sets=sorted(existing_sets - keep_sets),
                       add_sets={s: t for s, t in wanted_sets.items() if s not in keep_sets},
                       add_chains=sorted(set(wanted_chains) - existing_chains),
                       rules=wanted_chains, add_elements=elements)

    async def _apply(self, changes: Changes) -> None:
        with gc_paused():
            lines = render(self.opts, changes)
        self.last_transaction_lines = len(lines)
        try:
            await self.nft.apply(lines)
        except NftError as e:
            if not (changes.delete_chains or changes.delete_sets):
                raise
            log.debug("transaction failed, retrying without deletes: %s", e)
            # Older kernels may refuse to delete a chain in the transaction that drops its last
            # reference: flush now, delete next time.
            readded = set(changes.add_sets)
            retry = dataclasses.replace(changes, delete_chains=[],
                                        delete_sets=[s for s in changes.delete_sets if s in readded])
            await self.nft.apply(render(self.opts, retry))
            log.warning("nft refused to delete %d chains and %d sets in the same transaction; deleting them "
                        "in the next sync", len(changes.delete_chains), len(changes.delete_sets) - len(retry.delete_sets))
            self._stale_chains |= set(changes.delete_chains)
            self._stale_sets |= set(changes.delete_sets) - readded
            return
        self._stale_chains -= set(changes.delete_chains)
        self._stale_sets -= set(changes.delete_sets)

    def _record(self, changes: Changes, changed: set[str] | None) -> None:
        """Remember what the kernel now holds (``changed`` None: a full sync wrote everything)."""
        if changed is None:
            self._programmed = dict(self._objects)
            self._elements = dict(changes.add_elements)
            self._set_timeouts = {s: t for obj in self._objects.values() for s, t in obj.sets.items()}
            return
        for key in changed:
            if key in self._objects:
                self._programmed[key] = self._objects[key]
            else:
                self._programmed.pop(key, None)
        for element in changes.delete_elements:
            self._elements.pop(element, None)
        self._elements.update(changes.add_elements)
        for name in changes.delete_sets:
            self._set_timeouts.pop(name, None)
        self._set_timeouts.update(changes.add_sets)

    # -- UDP conntrack -----------------------------------------------------------------------------

    def _udp_targets(self, key: str) -> UdpTargets:
        obj = self._objects.get(key)
        return dict(obj.udp_targets) if obj is not None else {}
