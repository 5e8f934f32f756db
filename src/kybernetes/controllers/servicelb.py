"""The service load balancer: LoadBalancer Services get the nodes' addresses as their ingress.

Kubernetes leaves status.loadBalancer to a cloud provider; with none, LoadBalancer Services stay
<pending> forever. k3s's ServiceLB answers with the nodes themselves (the service proxy already
serves a LoadBalancer's ports on every node), and so do we:

    Service type LoadBalancer (no loadBalancerClass) -> status.loadBalancer.ingress =
        [{"ip": <InternalIP>, "ipMode": "VIP"} for every Ready node], sorted
    any other Service carrying ingress (its type changed) -> status.loadBalancer = {}

Keyed by Service; a node that appears, disappears, or changes readiness or addresses queues
every LoadBalancer Service.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import NODES, SERVICES
from kybernetes.controllers.base import Controller, ControllerContext

Obj = dict[str, Any]


def node_is_ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def internal_ips(node: Obj) -> list[str]:
    out = []
    for addr in (node.get("status") or {}).get("addresses") or []:
        if isinstance(addr, dict) and addr.get("type") == "InternalIP":
            try:
                out.append(str(ipaddress.ip_address(str(addr.get("address")))))
            except ValueError:
                continue
    return out


def wanted_ingress(service: Obj, nodes: list[Obj]) -> list[Obj]:
    spec = service.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
        return []
    ips = sorted({ip for node in nodes if node_is_ready(node) for ip in internal_ips(node)},
                 key=lambda ip: (ipaddress.ip_address(ip).version, ipaddress.ip_address(ip)))
    return [{"ip": ip, "ipMode": "VIP"} for ip in ips]


class ServiceLoadBalancerController(Controller):
    name = "service-lb"
    workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.services = ctx.informer(SERVICES)
        self.nodes = ctx.informer(NODES)
        self.services.add_event_handler(**self.handlers())
        self.nodes.add_event_handler(on_add=self._on_node, on_update=self._on_node_update,
                                     on_delete=self._on_node)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if node_is_ready(old) != node_is_ready(new) or internal_ips(old) != internal_ips(new):
            self._on_node(new)

    def _on_node(self, _node: Obj) -> None:
        for svc in self.services.list():
            if (svc.get("spec") or {}).get("type") == "LoadBalancer":
                self.enqueue(svc)

    async def reconcile(self, key: str) -> None:
        namespace, _, name = key.rpartition("/")
        svc = self.services.get_by_name(namespace, name)
        if svc is None or (svc.get("metadata") or {}).get("deletionTimestamp"):
            return
        spec = svc.get("spec") or {}
        if spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass"):
            return  # another load balancer implementation owns it
        ingress = wanted_ingress(svc, self.nodes.list())
        status = svc.get("status") or {}
        current = (status.get("loadBalancer") or {}).get("ingress") or []
        if current == ingress:
            return
        new = deep_copy(svc)
        new.setdefault("status", {})["loadBalancer"] = {"ingress": ingress} if ingress else {}
        try:
            await self.client.update_status(SERVICES, new, namespace)
        except ApiError as e:
            if e.code == 404:
                return  # deleted meanwhile
            raise
