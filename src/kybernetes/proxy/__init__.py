"""kybernetes.proxy: the Service proxy (kube-proxy's nftables and iptables modes), run as ``kyb proxy``.

    Services, EndpointSlices ──informers──► Proxier ──► iptables-restore --noflush (our chains only)
                                        or  NftProxier ──► nft -f - / netlink batch (own table: ip kybernetes-proxy)
                                              │
        model.py         objects -> ServicePort / Endpoint values (pure)
        topology.py      which endpoints serve cluster / node-local traffic (ready, then terminating),
                         and which chains a port needs (both modes write that in their own terms)
        names.py         KUBE-SVC-/SVL-/EXT-/FW-/SEP-<hash> chain names (prefix configurable)
        rules_service.py one service's rules (pure, golden-tested)
        rules_table.py   the top-level chains and the restore input of a sync
        proxier_base.py  what both modes share: informer handlers, pending keys, the sync's retry,
                         health state and counters, UDP conntrack clearing
        proxier.py       iptables mode: partial and full syncs, stale chains, canary
        sync_runner.py   minSyncPeriod rate limit + periodic resync
        iptables.py      the iptables binaries of the host's backend
        nft_rules.py     nftables mode: one service's map elements, chains and affinity sets (pure)
        nft_table.py     nftables mode: the table's base chains and maps, a sync's transaction (pure)
        nft_proxier.py   nftables mode: partial and full syncs, what the kernel holds per service
        nft_tool.py      running nft
        tool_run.py      running iptables-restore / nft: timeout, kill on cancel, typed errors
        gc_pause.py      the cyclic GC paused while a sync derives its rules (a quarter of a full sync)
        cleanup.py       remove everything, both modes (``kyb proxy --cleanup``, uninstall)
        run.py           ServiceProxy: informers + proxier + loop

This package imports only kybernetes.client, kybernetes.api and kybernetes.util.
"""

from kybernetes.proxy.cleanup import cleanup
from kybernetes.proxy.nft_proxier import NftProxier
from kybernetes.proxy.proxier import Proxier, ProxyConfig
from kybernetes.proxy.run import ServiceProxy, run_service_proxy

__all__ = ["NftProxier", "ProxyConfig", "Proxier", "ServiceProxy", "cleanup", "run_service_proxy"]
