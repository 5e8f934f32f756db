"""Which endpoints a service port's traffic may go to from this node (kube-proxy's rules).

- Cluster policy: every ready endpoint; when none is ready anywhere, the endpoints that are
  still serving while terminating (so a rolling update's last pods keep answering).
- Local policy (internalTrafficPolicy or externalTrafficPolicy Local): the ready endpoints on
  this node; when none, this node's serving-and-terminating ones.
``has_endpoints`` says whether the service has any usable endpoint anywhere: without one its
addresses are REJECTed; with some but no local one, Local-policy traffic is DROPped.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.proxy.model import Endpoint, ServicePort


@dataclass(frozen=True, slots=True)
class Categorized:
    cluster: list[Endpoint]
    local: list[Endpoint]
    reachable: list[Endpoint]  # union of the two, each once: the endpoints that get a chain
    has_endpoints: bool


def categorize(endpoints: list[Endpoint], port: ServicePort) -> Categorized:
    cluster: list[Endpoint] = []
    has_endpoints = False
    if port.uses_cluster_endpoints:
        cluster = [e for e in endpoints if e.ready]
        if not cluster:
            cluster = [e for e in endpoints if e.serving and e.terminating]
        has_endpoints = bool(cluster)
    if not port.uses_local_endpoints:
        return Categorized(cluster, [], cluster, has_endpoints)

    local_ready = [e for e in endpoints if e.is_local and e.ready]
    local = local_ready or [e for e in endpoints if e.is_local and e.serving and e.terminating]
    if any(e.ready or (e.serving and e.terminating) for e in endpoints):
        has_endpoints = True
    if not port.uses_cluster_endpoints:
        return Categorized([], local, local, has_endpoints)
    seen = {e.address for e in cluster}
    reachable = cluster + [e for e in local if e.address not in seen]
    return Categorized(cluster, local, reachable, has_endpoints)
