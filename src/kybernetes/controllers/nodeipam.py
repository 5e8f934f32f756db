"""Node IPAM: every node gets its own pod subnet (Kubernetes' node-ipam-controller, range allocator).

The cluster CIDR (``cluster_cidr``, default 10.42.0.0/16; "v4,v6" for dual stack) is cut into
node subnets (``node_cidr_mask_size_ipv4`` /24, ``node_cidr_mask_size_ipv6`` /64). A node without
spec.podCIDRs is patched with the next free subnet of each family (spec.podCIDR is the first);
the kubelet and CNI hand pod IPs out of it. Subnets are released when the node is deleted.

On start, before the first allocation, every existing node's podCIDRs are marked taken, so a
restarted controller never hands out a subnet twice. A subnet overlapping the service range
(``service_cluster_ip_range``, if given) is never handed out. When the range is full the node
gets a CIDRNotAvailable event and is retried with backoff.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import NODES
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.nodeipam_cidrset import CIDRRangeFull, CIDRSet, CIDRSetError, parse_cidr

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_MASK = {4: 24, 6: 64}


def node_pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [c for c in spec.get("podCIDRs") or [] if isinstance(c, str) and c]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return cidrs


def _status_ref(node: Obj) -> Obj:
    meta = node.get("metadata") or {}
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": meta.get("name"), "uid": meta.get("uid")}}


def build_cidr_sets(options: dict[str, Any]) -> list[CIDRSet]:
    """One CIDRSet per cluster CIDR (at most one per IP family), service range excluded."""
    text = str(options.get("cluster_cidr") or DEFAULT_CLUSTER_CIDR)
    sets: list[CIDRSet] = []
    for part in (p for p in text.split(",") if p.strip()):
        network = parse_cidr(part)
        mask = options.get(f"node_cidr_mask_size_ipv{network.version}")
        if mask is None:
            mask = options.get("node_cidr_mask_size") if network.version == 4 else None
        cidr_set = CIDRSet(network, int(mask if mask is not None else DEFAULT_MASK[network.version]))
        if any(s.family == cidr_set.family for s in sets):
            raise CIDRSetError(f"cluster_cidr {text!r} has two IPv{network.version} CIDRs; give at most one per family")
        sets.append(cidr_set)
    if not sets:
        raise CIDRSetError("cluster_cidr is empty")
    for service_range in str(options.get("service_cluster_ip_range") or "").split(","):
        if service_range.strip():
            service_net = parse_cidr(service_range)
            for s in sets:
                if s.family == service_net.version and s.network.overlaps(service_net):  # type: ignore[arg-type]
                    s.occupy(service_net)
    return sets


class NodeIpamController(Controller):
    name = "node-ipam-controller"
    workers = 1  # allocations from one set, in order; they are cheap

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.events = ctx.recorder("cidrAllocator")  # the event source Kubernetes uses
        self.cidr_sets = build_cidr_sets(ctx.options)
        self.nodes = ctx.informer(NODES)
        self.assigned: dict[str, list[str]] = {}  # node name -> the subnets it holds
        self._loaded = False
        self.nodes.add_event_handler(**self.handlers())

    def _occupy(self, cidrs: list[str]) -> None:
        for cidr in cidrs:
            for s in self.cidr_sets:
                if s.contains(cidr):
                    s.occupy(cidr)

    def _release(self, cidrs: list[str]) -> None:
        for cidr in cidrs:
            for s in self.cidr_sets:
                if s.contains(cidr):
                    s.release(cidr)

    def load_existing(self) -> None:
        """Mark the subnets of every cached node taken (once, before the first allocation)."""
        for node in self.nodes.list():
            cidrs = node_pod_cidrs(node)
            if cidrs:
                self._occupy(cidrs)
                self.assigned[node["metadata"]["name"]] = cidrs
        self._loaded = True

    async def reconcile(self, key: str) -> None:
        if not self._loaded:
            self.load_existing()
        node = self.nodes.get(key)
        if node is None:
            self._release(self.assigned.pop(key, []))
            return
        have = node_pod_cidrs(node)
        if have:
            if self.assigned.get(key) != have:
                self._release(self.assigned.get(key, []))
                self._occupy(have)
                self.assigned[key] = have
            return
        cidrs = self.assigned.get(key) or await self.allocate(node)
        self.assigned[key] = cidrs
        meta = node["metadata"]
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")},
                 "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}}
        try:
            await self.client.patch(NODES, key, patch)
        except ApiError as e:
            if e.code == 404:
                self._release(self.assigned.pop(key, []))
                return
            if e.code != 409:  # a conflict only means our cache is behind: just retry
                await self.events.normal(_status_ref(node), "CIDRAssignmentFailed",
                                         f"Node {key} status is now: CIDRAssignmentFailed")
            raise
        log.info("node %s: allocated pod CIDRs %s", key, ",".join(cidrs))

    async def allocate(self, node: Obj) -> list[str]:
        cidrs: list[str] = []
        try:
            for s in self.cidr_sets:
                cidrs.append(s.allocate_next())
        except CIDRRangeFull as e:
            self._release(cidrs)
            name = node["metadata"]["name"]
            await self.events.normal(_status_ref(node), "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable")
            raise RuntimeError(f"node {name}: {e}") from None
        return cidrs
