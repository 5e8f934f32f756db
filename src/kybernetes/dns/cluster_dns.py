"""ClusterDns: the component: informers on Services and EndpointSlices feeding the DNS server.

    apiserver ══ watch ══► Service informer ───────┐ on_add / on_update / on_delete
              ══ watch ══► EndpointSlice informer ─┴─► ClusterRecords ─► QueryHandler ─► DnsServer
                                                                      Forwarder ─► upstreams

Records change inside the informer's event handler, before the next query is read, so a new
Service resolves as soon as its watch event arrives (well within a second). The server starts
listening once the caches have synced, or after ``sync_timeout`` in any case (as CoreDNS, which
serves with an unsynced cache rather than not at all: forwarding still works).

Upstreams default to the host's /etc/resolv.conf nameservers, without our own listening address
(forwarding to ourselves would loop).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes.api.dns_config import parse_resolv_conf
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.client.rest import ApiClient
from kybernetes.dns.answers import ClusterResolver
from kybernetes.dns.cache import AnswerCache
from kybernetes.dns.forward import Forwarder, Upstream
from kybernetes.dns.handler import QueryHandler
from kybernetes.dns.records import ClusterRecords
from kybernetes.dns.server import DnsServer
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

HOST_RESOLV_CONF = Path("/etc/resolv.conf")


@dataclass
class DnsConfig:
    host: str = "127.0.0.1"
    port: int = 53
    cluster_domain: str = "cluster.local"
    upstreams: list[Upstream] | None = None  # None: the host's resolv.conf nameservers
    dns_ip: str = ""  # the kube-dns Service IP, answered for ns.dns.<domain>
    cache_size: int = 10000
    cache_max_ttl: int = 30
    upstream_timeout: float = 2.0
    sync_timeout: float = 5.0
    resolv_conf: Path = field(default=HOST_RESOLV_CONF)


def host_upstreams(resolv_conf: Path, exclude: tuple[str, int] | None = None) -> list[Upstream]:
    """The nameservers of ``resolv_conf`` on port 53, without ``exclude``; [] if unreadable."""
    try:
        text = resolv_conf.read_text()
    except OSError as e:
        log.warning("cannot read %s (%s): names outside the cluster will not resolve", resolv_conf, e)
        return []
    out = []
    for ns in parse_resolv_conf(text).nameservers:
        address = ns.split("%", 1)[0]  # drop an IPv6 zone index
        if (address, 53) != exclude:
            out.append((address, 53))
    return out


class ClusterDns:
    def __init__(self, client: ApiClient, config: DnsConfig | None = None, *, clock: Clock | None = None):
        self.config = config or DnsConfig()
        self.clock = clock or REAL_CLOCK
        self.records = ClusterRecords(self.config.cluster_domain)
        upstreams = self.config.upstreams
        if upstreams is None:
            upstreams = host_upstreams(self.config.resolv_conf, (self.config.host, self.config.port))
        self.forwarder = Forwarder(upstreams, timeout=self.config.upstream_timeout, clock=self.clock,
                                   cache=AnswerCache(self.config.cache_size, self.config.cache_max_ttl, self.clock))
        self.handler = QueryHandler(ClusterResolver(self.records, self.config.dns_ip), self.forwarder)
        self.server = DnsServer(self.handler, self.config.host, self.config.port, clock=self.clock)
        self.informers = SharedInformerFactory(client, clock=self.clock)
        services = self.informers.informer_for(SERVICES)
        services.add_event_handler(on_add=self.records.set_service,
                                   on_update=lambda _old, new: self.records.set_service(new),
                                   on_delete=self.records.delete_service)
        slices = self.informers.informer_for(ENDPOINTSLICES)
        slices.add_event_handler(on_add=self.records.set_slice,
                                 on_update=lambda _old, new: self.records.set_slice(new),
                                 on_delete=self.records.delete_slice)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    async def start(self) -> ClusterDns:
        """Start the informers, wait for their first lists (bounded), then listen."""
        self.informers.start()
        if not await self.informers.wait_for_cache_sync(self.config.sync_timeout):
            log.warning("DNS: caches not synced after %.0f s; serving anyway", self.config.sync_timeout)
        try:
            await self.server.start()
        except BaseException:
            await self.informers.shutdown()
            raise
        return self

    async def stop(self) -> None:
        await self.server.stop()
        await self.informers.shutdown()

    async def serve_forever(self) -> None:
        """Wait while the server answers (it runs on the event loop) until cancelled."""
        await asyncio.Event().wait()

    async def run(self) -> None:
        """Start, serve until cancelled, stop."""
        await self.start()
        try:
            await self.serve_forever()
        finally:
            await self.stop()

    async def __aenter__(self) -> ClusterDns:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
