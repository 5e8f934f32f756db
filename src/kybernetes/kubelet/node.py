"""The node agent: register the Node, renew its Lease, report its status.

    register()   POST the Node (capacity, labels, nodeInfo, conditions); if it exists already,
                 bring its labels and status up to date instead (a restarted kubelet)
    lease loop   every 10 s: PUT kube-node-lease/<node> with a new renewTime (the node
                 lifecycle controller's proof of life); on failure retry sooner, 0.2 s doubling
                 to 7 s, as Kubernetes' lease controller does
    status loop  every 10 s: compute the status and PATCH it when it differs from what the
                 apiserver holds, or when 5 min passed since the last report

Timing (first renewal, first status tick) is offset per node by ``phase`` (0..1 of the period),
so a thousand simulated nodes spread their writes over the period instead of sending them in
one burst. Everything runs on the Clock. The agent reads its Node from the shared node informer
(the apiserver's view) and applies a new spec.podCIDR to the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient, Informer
from kybernetes.client.resource import LEASES, NODES
from kybernetes.kubelet import node_status as ns
from kybernetes.kubelet.runtime.protocol import RuntimeService
from kybernetes.util.backoff import Backoff
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def micro_time(clock: Clock) -> str:
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wall_time(clock: Clock) -> str:
    return clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeAgent:
    def __init__(self, client: ApiClient, config: ns.NodeConfig, runtime: RuntimeService, *,
                 nodes: Informer | None = None, clock: Clock | None = None, phase: float = 0.0,
                 heartbeat_client: ApiClient | None = None):
        self.client = client
        self.heartbeats = heartbeat_client or client
        self.config = config
        self.runtime = runtime
        self.nodes = nodes
        self.clock = clock or REAL_CLOCK
        self.phase = min(max(phase, 0.0), 1.0)
        self.node_uid = ""
        self.registered = asyncio.Event()
        self.lease_renewals = 0
        self.status_reports = 0
        self._lease: Obj | None = None
        self._last_report = float("-inf")
        self._applied_pod_cidr = ""

    @property
    def name(self) -> str:
        return self.config.name

    def current_node(self) -> Obj | None:
        return self.nodes.get(self.name) if self.nodes is not None else None

    # -- registration ---------------------------------------------------------------------------

    async def register(self) -> Obj:
        node = ns.new_node(self.config, wall_time(self.clock))
        try:
            created = await self.client.create(NODES, node)
        except ApiError as e:
            if e.code != 409:
                raise
            created = await self._reconcile_existing(node)
        self.node_uid = (created.get("metadata") or {}).get("uid", "")
        self._last_report = self.clock.now()
        self.status_reports += 1
        self.registered.set()
        await self.apply_pod_cidr(created)
        return created

    async def _reconcile_existing(self, desired: Obj) -> Obj:
        existing = await self.client.get(NODES, self.name)
        labels = (existing.get("metadata") or {}).get("labels") or {}
        missing = {k: v for k, v in desired["metadata"]["labels"].items() if labels.get(k) != v}
        if missing:
            existing = await self.client.patch(NODES, self.name, {"metadata": {"labels": missing}})
        status = ns.node_status(self.config, existing.get("status") or {}, wall_time(self.clock))
        return await self.client.patch(NODES, self.name, {"status": status}, subresource="status")

    async def apply_pod_cidr(self, node: Obj | None = None) -> None:
        """Hand the node's spec.podCIDR to the runtime once it is set or changes."""
        node = node if node is not None else self.current_node()
        cidr = ((node or {}).get("spec") or {}).get("podCIDR") or ""
        if cidr and cidr != self._applied_pod_cidr:
            await self.runtime.update_runtime_config(cidr)
            self._applied_pod_cidr = cidr

    # -- the loops ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register (retrying), then renew the lease and report status until cancelled."""
        backoff = Backoff(initial=0.5, maximum=10.0, jitter=0.2)
        while not self.registered.is_set():
            try:
                await self.register()
            except ApiError as e:
                delay = backoff.next_delay()
                log.warning("node %s: registration failed (%s); retrying in %.1f s", self.name, e, delay)
                await self.clock.sleep(delay)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._lease_loop(), name=f"lease {self.name}")
            tg.create_task(self._status_loop(), name=f"node status {self.name}")

    async def _lease_loop(self) -> None:
        backoff = Backoff(initial=0.2, maximum=7.0)
        await self.renew_lease_or_log(backoff)
        # The second renewal comes a fraction of the interval later, so that nodes registered
        # in one burst renew spread over the interval from then on.
        await self.clock.sleep(self.config.lease_renew_interval * (self.phase or 1.0))
        while True:
            if await self.renew_lease_or_log(backoff):
                await self.clock.sleep(self.config.lease_renew_interval)
            else:
                await self.clock.sleep(backoff.next_delay())

    async def renew_lease_or_log(self, backoff: Backoff) -> bool:
        try:
            await self.renew_lease()
        except ApiError as e:
            log.warning("node %s: renewing its lease failed: %s", self.name, e)
            return False
        backoff.reset()
        return True

    async def renew_lease(self) -> Obj:
        now = micro_time(self.clock)
        if self._lease is None:
            self._lease = await self.heartbeats.get_or_none(LEASES, self.name, ns.NODE_LEASE_NAMESPACE)
        if self._lease is None:
            try:
                self._lease = await self.heartbeats.create(LEASES, ns.new_lease(self.config, self.node_uid, now),
                                                           ns.NODE_LEASE_NAMESPACE)
            except ApiError as e:
                if e.code == 409:  # created meanwhile (another copy of us?): read it next time
                    self._lease = None
                raise
        else:
            lease = dict(self._lease)
            lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": self.name,
                             "leaseDurationSeconds": self.config.lease_duration_seconds, "renewTime": now}
            try:
                self._lease = await self.heartbeats.update(LEASES, lease, ns.NODE_LEASE_NAMESPACE)
            except ApiError as e:
                if e.code in (404, 409):
                    self._lease = None  # re-read (or re-create) on the next try
                raise
        self.lease_renewals += 1
        return self._lease

    async def _status_loop(self) -> None:
        await self.clock.sleep(self.config.status_update_frequency * self.phase)
        while True:
            try:
                await self.report_status()
            except ApiError as e:
                log.warning("node %s: updating its status failed: %s", self.name, e)
            await self.clock.sleep(self.config.status_update_frequency)

    async def report_status(self, *, force: bool = False) -> bool:
        """Compute the status; PATCH it if it changed or a report is due. True if written."""
        current = self.current_node()
        if current is None:
            current = await self.heartbeats.get(NODES, self.name)
        await self.apply_pod_cidr(current)
        previous = current.get("status") or {}
        desired = ns.node_status(self.config, previous, wall_time(self.clock))
        due = self.clock.now() - self._last_report >= self.config.status_report_frequency
        if not (force or due or ns.status_changed(previous, desired)):
            return False
        await self.heartbeats.patch(NODES, self.name, {"status": desired}, subresource="status")
        self._last_report = self.clock.now()
        self.status_reports += 1
        return True
