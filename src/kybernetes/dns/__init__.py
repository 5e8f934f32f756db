"""kybernetes.dns: cluster DNS, run on each node (`kyb dns`), answering for <svc>.<ns>.svc.<domain>.

    apiserver ══ watch ══► informers (Services, EndpointSlices) ─► ClusterRecords   records.py
                                                                       │
    pod ── UDP/TCP :53 ──► DnsServer (server.py) ─► QueryHandler (handler.py)
                                                      ├─ in the cluster domain ─► ClusterResolver (answers.py)
                                                      │                            names.py reads the name
                                                      └─ anything else ─► Forwarder (forward.py)
                                                                           └─ AnswerCache (cache.py)

ClusterDns (cluster_dns.py) puts these together; kube_dns_service.py writes the kube-dns Service
and this node's endpoint behind it, so pods reach the server at the Service's cluster IP. The
records follow CoreDNS's kubernetes plugin (pods insecure, TTL 5 s), so workloads see the DNS
they would see on any Kubernetes cluster. A pod's resolv.conf comes from
kybernetes.api.dns_config (pure, used by the kubelet).

This package imports only kybernetes.client, kybernetes.api and kybernetes.util.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kybernetes.util.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from kybernetes.dns.cluster_dns import ClusterDns, DnsConfig
    from kybernetes.dns.kube_dns_service import DEFAULT_CLUSTER_IP, ensure_kube_dns, remove_node_endpoint

# Loaded on first use: `kyb up` validates --dns-upstream (dns/forward.py) without the server.
__getattr__ = lazy_exports(__name__, {
    "ClusterDns": "cluster_dns", "DnsConfig": "cluster_dns", "DEFAULT_CLUSTER_IP": "kube_dns_service",
    "ensure_kube_dns": "kube_dns_service", "remove_node_endpoint": "kube_dns_service"}, globals())

__all__ = ["DEFAULT_CLUSTER_IP", "ClusterDns", "DnsConfig", "ensure_kube_dns", "remove_node_endpoint"]
