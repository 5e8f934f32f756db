"""What both proxy modes do alike: the Service/EndpointSlice state, the sync's bookkeeping.

    informer handlers ──► _services / _slices (latest objects) + pending keys ──► request()
    sync():  (skipped until both informers have synced)
        the mode's tables gone (flushed, deleted)? ──► the next write is a full one
        every full_sync_period                       ──► a full one
        _derive_for_sync(): the mode re-derives what the pending services want
        _write():           the mode writes it (partial: the pending services; full: everything)
        failure (the mode's error or OSError): logged, keys re-pended, retried after sync_period,
                                               and the next sync is a full one
        success: counters, stale UDP conntrack entries cleared, listeners told

The iptables mode (proxier.py) and the nftables mode (nft_proxier.py) differ only in how they
derive and write their rules; keeping the rest here means a fix to the handlers, the retry or the
health state reaches both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kybernetes.proxy.conntrack import Conntrack
from kybernetes.proxy.health_server import HealthCheck, health_checks
from kybernetes.proxy.model import ServicePort, slice_service_key
from kybernetes.proxy.names import ChainNames
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)
Obj = dict[str, Any]
UdpTargets = dict[tuple[str, int], frozenset[str]]  # (cluster IP, node port) -> endpoint IPs


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


def service_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


class ProxierBase:
    """The state and sync loop shared by both modes; a mode fills in the hooks below."""

    # What the mode's tool raises when the kernel refuses a write (a sync failure, not a crash).
    sync_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, config: ProxyConfig, *, clock: Clock | None = None, conntrack: Conntrack | None = None,
                 proc_sys: Path = Path("/proc/sys")):
        self.config = config
        self.clock = clock or REAL_CLOCK
        self.conntrack = conntrack or Conntrack()
        self.proc_sys = proc_sys
        self._services: dict[str, Obj] = {}
        self._slices: dict[str, dict[str, Obj]] = {}  # service key -> slice name -> slice
        self._pending: dict[str, float] = {}  # service key -> when it first changed since the last sync
        self._ports: dict[str, list[ServicePort]] = {}
        self._need_full = True
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

    # -- the mode's hooks --------------------------------------------------------------------------

    async def _tables_missing(self) -> bool:
        """On a periodic run with nothing pending: whether someone removed the mode's tables."""
        raise NotImplementedError

    def _derive_for_sync(self, full: bool, pending: set[str]) -> bool:
        """Re-derive what the services want before a write; returns whether it must be full."""
        raise NotImplementedError

    async def _write(self, full: bool, changed: set[str]) -> None:
        """Write the rules to the kernel (a partial write: only ``changed``) and remember them."""
        raise NotImplementedError

    def _udp_targets(self, key: str) -> UdpTargets:
        """A service's UDP targets as last derived (empty when it has none)."""
        raise NotImplementedError

    def _sync_failed(self, full: bool) -> None:
        """Called after a failed write (before the retry is asked for)."""

    def _full_sync_done(self) -> None:
        """Called after a full write succeeded."""

    # -- informer handlers (quick: store the object, remember the key, ask for a sync) -----------

    def _changed(self, key: str) -> None:
        self._pending.setdefault(key, self.clock.now())
        self.request()

    def on_service(self, obj: Obj) -> None:
        key = service_key(obj)
        self._services[key] = obj
        self._changed(key)

    def on_service_delete(self, obj: Obj) -> None:
        key = service_key(obj)
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
        """route_localnet for localhost node ports; a warning when bridged traffic skips netfilter."""
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

    async def sync(self) -> None:
        """One sync; write failures are logged, retried after sync_period, and make it a full one."""
        if not (self.services_synced and self.slices_synced):
            return
        now = self.clock.now()
        if not self._pending and not self._need_full and await self._tables_missing():
            self._need_full = True
        if now - self._last_full >= self.config.full_sync_period:
            self._need_full = True
        full = self._need_full
        pending, self._pending = self._pending, {}
        old_udp = {k: self._udp_targets(k) for k in pending}
        full = self._derive_for_sync(full, set(pending))
        try:
            await self._write(full, set(pending))
        except (*self.sync_errors, OSError) as e:
            log.error("sync of the service rules failed; a full sync follows in %.0f s: %s",
                      self.config.sync_period, e)
            self._sync_failed(full)
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
            self._full_sync_done()
            self._last_full = now
        await self._clear_udp(old_udp)
        for listener in list(self.listeners):
            listener(pending, done)

    # -- UDP conntrack ---------------------------------------------------------------------------

    async def _clear_udp(self, before: dict[str, UdpTargets]) -> None:
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
