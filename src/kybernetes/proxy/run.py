"""ServiceProxy: informers + proxier + sync loop, the whole of ``kyb proxy`` in one object.

    async with ServiceProxy(client, ProxyConfig(node_name="n1")) as proxy:
        ...                                # rules follow Services and EndpointSlices
    # leaving the block stops the loop; the rules stay (kube-proxy's behaviour; see cleanup.py)

Informers skip what kube-proxy skips: objects labelled service.kubernetes.io/service-proxy-name
(another proxy's) and headless services' slices. No rule is written before both caches are
synced, so a restart never programs a half-known state. After each sync the service health
server (health_server.py) opens and closes the healthCheckNodePort listeners to match.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kybernetes.client import ApiClient, SharedInformerFactory
from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.proxy.health_server import ServiceHealthServer
from kybernetes.proxy.iptables import Iptables
from kybernetes.proxy.model import HEADLESS_LABEL, PROXY_NAME_LABEL
from kybernetes.proxy.proxier import Proxier, ProxyConfig
from kybernetes.proxy.proxier_base import ProxierBase
from kybernetes.proxy.sync_runner import SyncRunner
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

SYNC_TIMEOUT = 60.0


class ServiceProxy:
    def __init__(self, client: ApiClient, config: ProxyConfig, *, iptables: Iptables | None = None,
                 clock: Clock | None = None, proxier: ProxierBase | None = None):
        self.client = client
        self.config = config
        self.clock = clock or REAL_CLOCK
        self.proxier: ProxierBase = proxier or Proxier(iptables or Iptables(), config, clock=self.clock)
        # healthCheckNodePorts listen on the node's address (every address when it is not known).
        self.health = ServiceHealthServer(config.node_ip, healthy=lambda: self.proxier.healthy)
        self.runner = SyncRunner(self._sync, min_interval=config.min_sync_period,
                                 max_interval=config.sync_period, clock=self.clock)
        self.proxier.request = self.runner.request
        self.proxier.retry_after = self.runner.retry_after
        self.factory = SharedInformerFactory(client, clock=self.clock)
        self._task: asyncio.Task[None] | None = None

    async def _sync(self) -> None:
        """The rules, then the health-check listeners that follow from the same state."""
        await self.proxier.sync()
        if self.proxier.services_synced and self.proxier.slices_synced:
            await self.health.sync(self.proxier.health_checks())

    async def run(self) -> None:
        """Watch, sync, repeat, until cancelled."""
        p = self.proxier
        p.prepare_host()
        services = self.factory.informer_for(SERVICES, label_selector=f"!{PROXY_NAME_LABEL}")
        slices = self.factory.informer_for(ENDPOINTSLICES, label_selector=f"!{PROXY_NAME_LABEL},!{HEADLESS_LABEL}")
        services.add_event_handler(p.on_service, lambda old, new: p.on_service(new), p.on_service_delete)
        slices.add_event_handler(p.on_slice, lambda old, new: p.on_slice(new), p.on_slice_delete)
        self.factory.start()
        try:
            while not await self.factory.wait_for_cache_sync(SYNC_TIMEOUT):
                log.warning("still waiting for the Service and EndpointSlice caches to sync")
            p.services_synced = p.slices_synced = True
            self.runner.request()
            await self.runner.run()
        finally:
            await self.health.close()
            await self.factory.shutdown()

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="service-proxy")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> ServiceProxy:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def run_service_proxy(client: ApiClient, config: ProxyConfig, iptables: Iptables | None = None, *,
                            mode: str = "iptables") -> None:
    """``mode``: iptables (proxier.py) or nftables (nft_proxier.py, a table of its own)."""
    proxier = None
    if mode == "nftables":
        from kybernetes.proxy.nft_proxier import NftProxier

        proxier = NftProxier(config)
    elif mode != "iptables":
        raise ValueError(f"proxy mode {mode!r}: use iptables or nftables")
    await ServiceProxy(client, config, iptables=iptables, proxier=proxier).run()
