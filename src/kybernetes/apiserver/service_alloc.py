"""Service cluster IPs and node ports, allocated by the apiserver around each Service write.

    create/update ─► defaults ─► validate ─► allocate (claims records; fills spec) ─► store write
                                                 │                                  ok │  │ failed
                                                 └──────── Transaction ◄──────────────┘  │
                                                       commit: release what the old      │
                                                       spec held and the new one doesn't  │
                                                       revert: release what was claimed ◄─┘

The records are in the store itself (service_alloc_records.py), so a claim is atomic across
concurrent requests and apiservers, and survives restarts. Removal of a Service releases what it
held (service_alloc_keeper.py watches for that, and repairs leaks at start). What is allocated
follows kube-apiserver's service REST storage:

- cluster IPs: one per entry of ipFamilies (after service_alloc_spec.init_ip_families), the
  requested ones as given, the others drawn from that family's service CIDR; headless services
  (clusterIP None) and ExternalName services get none;
- node ports: NodePort services, and LoadBalancer ones unless allocateLoadBalancerNodePorts is
  false, get one per port (ports sharing a port number share it); requested ones are honoured;
- a healthCheckNodePort for LoadBalancer services with externalTrafficPolicy Local.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.api import errors
from kybernetes.api.field_errors import duplicate, invalid
from kybernetes.api.registry import Registry
from kybernetes.apiserver.service_alloc_ranges import (
    NodePortRange,
    ServiceIPRange,
    canonical_ip,
    family_of,
)
from kybernetes.apiserver.service_alloc_records import IPAddressRecords, NodePortRecords, Owner
from kybernetes.apiserver.service_alloc_slots import AllocationError, IPSlots, PortSlots, SlotAllocator
from kybernetes.apiserver.service_alloc_spec import (
    allocates_node_ports,
    cluster_ips_of,
    init_ip_families,
    is_headless,
    needs_cluster_ip,
    needs_health_check_port,
    needs_node_ports,
    node_ports_of,
    ports_of,
)
from kybernetes.store import Store, StoreError

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[Any]]


class Transaction:
    """Claims made for one write: ``commit`` after the write is stored, ``revert`` otherwise."""

    def __init__(self) -> None:
        self._on_commit: list[Step] = []
        self._on_revert: list[Step] = []

    def on_commit(self, step: Step) -> None:
        self._on_commit.append(step)

    def on_revert(self, step: Step) -> None:
        self._on_revert.append(step)

    async def commit(self) -> None:
        await _run(self._on_commit, "release what the service no longer holds")
        self._on_commit, self._on_revert = [], []

    async def revert(self) -> None:
        await _run(list(reversed(self._on_revert)), "release what a failed service write claimed")
        self._on_commit, self._on_revert = [], []


async def _run(steps: list[Step], what: str) -> None:
    for step in steps:
        try:
            await step()
        except StoreError as e:  # left for the keeper's repair to find
            log.warning("could not %s: %s", what, e)


def owner_of(svc: dict[str, Any]) -> Owner:
    m = svc.get("metadata") or {}
    return Owner(str(m.get("namespace") or ""), str(m.get("name") or ""), str(m.get("uid") or ""))


class ServiceAllocator:
    def __init__(self, store: Store, registry: Registry, cidrs: tuple[ServiceIPRange, ...],
                 node_ports: NodePortRange):
        if not cidrs:
            raise ValueError("a service allocator needs at least one service CIDR")
        self.cidrs = cidrs
        self.families = tuple(r.family for r in cidrs)
        self.node_port_range = node_ports
        self.ip_records = IPAddressRecords(store, registry)
        self.port_records = NodePortRecords(store)
        self.ips = {r.family: SlotAllocator(IPSlots(r), self.ip_records) for r in cidrs}
        self.ports = SlotAllocator(PortSlots(node_ports), self.port_records)
        # Told of every Service write once stored, (object, created): the keeper's index, so a
        # delete right after a create finds what to release (service_alloc_keeper.py).
        self.on_stored: Callable[[dict[str, Any], bool], None] | None = None

    # -- the write hooks (objects.py) ----------------------------------------------------------

    async def allocate_create(self, obj: dict[str, Any], *, dry_run: bool = False) -> Transaction:
        return await self._allocate(obj, None, dry_run)

    async def allocate_update(self, new: dict[str, Any], old: dict[str, Any], *,
                              dry_run: bool = False) -> Transaction:
        return await self._allocate(new, old, dry_run)

    async def release_service(self, svc: dict[str, Any]) -> None:
        """Free everything a removed Service held (only while the records still name it)."""
        spec = svc.get("spec") if isinstance(svc.get("spec"), dict) else {}
        owner = owner_of(svc)
        for ip in cluster_ips_of(spec):
            name = canonical_ip(ip)
            if name:
                await self.ip_records.release(name, owner)
        for port in node_ports_of(spec):
            await self.port_records.release(port, owner)

    # -- allocation ----------------------------------------------------------------------------

    async def _allocate(self, obj: dict[str, Any], old: dict[str, Any] | None, dry_run: bool) -> Transaction:
        txn = Transaction()
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return txn
        old_spec = (old or {}).get("spec") if isinstance((old or {}).get("spec"), dict) else {}
        owner = owner_of(obj)
        try:
            init_ip_families(obj, old, self.families)
            await self._cluster_ips(obj, old_spec, owner, txn, dry_run)
            await self._node_ports(obj, old_spec, owner, txn, dry_run)
            await self._health_check_port(obj, old_spec, owner, txn, dry_run)
        except BaseException:
            await txn.revert()
            raise
        if self.on_stored is not None and not dry_run:
            txn.on_commit(self._tell_stored(obj, old is None))
        if old is not None and not dry_run:
            held_ips = {canonical_ip(ip) for ip in cluster_ips_of(spec)}
            for ip in cluster_ips_of(old_spec):
                name = canonical_ip(ip)
                if name and name not in held_ips:
                    txn.on_commit(lambda n=name: self.ip_records.release(n, owner))
            for port in node_ports_of(old_spec) - node_ports_of(spec):
                txn.on_commit(lambda p=port: self.port_records.release(p, owner))
        return txn

    def _tell_stored(self, obj: dict[str, Any], created: bool) -> Step:
        async def step() -> None:
            if self.on_stored is not None:
                self.on_stored(obj, created)

        return step

    async def _cluster_ips(self, obj: dict[str, Any], old_spec: dict[str, Any], owner: Owner,
                           txn: Transaction, dry_run: bool) -> None:
        spec = obj["spec"]
        if not needs_cluster_ip(spec):
            return
        if is_headless(spec):
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return
        held = {canonical_ip(ip) for ip in cluster_ips_of(old_spec)}
        given = list(spec.get("clusterIPs") or [])
        ips = given + [""] * (len(spec["ipFamilies"]) - len(given))
        for i, family in enumerate(spec["ipFamilies"]):
            allocator = self.ips[family]
            ip = ips[i]
            if ip:
                name = canonical_ip(ip)
                if name in held:
                    continue
                try:
                    if name is None or family_of(name) != family:
                        raise AllocationError(allocator.slots.not_in_range(ip))
                    claimed = await allocator.allocate(name, owner, dry_run=dry_run)
                except AllocationError as e:
                    raise errors.invalid("Service", owner.name, [
                        invalid("spec.clusterIPs", given, f"failed to allocate IP {ip}: {e}")]) from None
            else:
                try:
                    name = ip = await allocator.allocate_next(owner, dry_run=dry_run)
                except AllocationError as e:
                    raise errors.internal(f"failed to allocate a serviceIP: {e}") from None
                claimed = True
            if claimed and not dry_run:
                txn.on_revert(lambda n=name: self.ip_records.release(n, owner))
            ips[i] = ip
        spec["clusterIPs"] = ips
        spec["clusterIP"] = ips[0]

    async def _claim_port(self, port: int, owner: Owner, txn: Transaction, dry_run: bool, path: str) -> None:
        try:
            claimed = await self.ports.allocate(port, owner, dry_run=dry_run)
        except AllocationError as e:
            raise errors.invalid("Service", owner.name, [invalid(path, port, str(e))]) from None
        if claimed and not dry_run:
            txn.on_revert(lambda: self.port_records.release(port, owner))

    async def _next_port(self, owner: Owner, txn: Transaction, dry_run: bool, what: str) -> int:
        try:
            port = await self.ports.allocate_next(owner, dry_run=dry_run)
        except AllocationError as e:
            raise errors.internal(f"failed to allocate a {what}: {e}") from None
        if not dry_run:
            txn.on_revert(lambda: self.port_records.release(port, owner))
        return port

    async def _node_ports(self, obj: dict[str, Any], old_spec: dict[str, Any], owner: Owner,
                          txn: Transaction, dry_run: bool) -> None:
        spec = obj["spec"]
        if not needs_node_ports(spec):
            return
        held = node_ports_of(old_spec) if needs_node_ports(old_spec) else set()
        ports = ports_of(spec)
        by_port_number: dict[Any, int] = {}  # ports sharing a number (TCP and UDP) share a node port
        used: set[tuple[int, Any]] = set()
        for i, port in enumerate(ports):
            wanted = port.get("nodePort") if isinstance(port.get("nodePort"), int) else 0
            if not wanted and not allocates_node_ports(spec):
                continue  # LoadBalancer without node ports: only explicit requests
            path = f"spec.ports[{i}].nodePort"
            shared = by_port_number.get(port.get("port"))
            if not wanted and shared:
                port["nodePort"] = shared
                continue
            if not wanted:
                wanted = next((p["nodePort"] for p in ports[i + 1:] if p.get("port") == port.get("port")
                               and isinstance(p.get("nodePort"), int) and p["nodePort"] > 0), 0)
            if wanted:
                if wanted not in held:
                    await self._claim_port(wanted, owner, txn, dry_run, path)
            else:
                wanted = await self._next_port(owner, txn, dry_run, "nodePort")
            if (wanted, port.get("protocol")) in used:  # the same node port twice for one protocol
                raise errors.invalid("Service", owner.name, [duplicate(path, wanted)])
            used.add((wanted, port.get("protocol")))
            port["nodePort"] = wanted
            by_port_number.setdefault(port.get("port"), wanted)

    async def _health_check_port(self, obj: dict[str, Any], old_spec: dict[str, Any], owner: Owner,
                                 txn: Transaction, dry_run: bool) -> None:
        spec = obj["spec"]
        if not needs_health_check_port(spec):
            return
        wanted = spec.get("healthCheckNodePort") if isinstance(spec.get("healthCheckNodePort"), int) else 0
        held = node_ports_of(old_spec)
        if wanted:
            if wanted in held:
                return
            try:
                claimed = await self.ports.allocate(wanted, owner, dry_run=dry_run)
            except AllocationError as e:
                raise errors.internal(f"failed to allocate requested HealthCheck NodePort {wanted}: {e}") from None
            if claimed and not dry_run:
                txn.on_revert(lambda: self.port_records.release(wanted, owner))
            return
        spec["healthCheckNodePort"] = await self._next_port(owner, txn, dry_run, "HealthCheck NodePort")
