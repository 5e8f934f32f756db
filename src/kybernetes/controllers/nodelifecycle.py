"""Node lifecycle: which nodes are alive, and the taints that say so (node-lifecycle-controller).

A node shows it is alive two ways: its kubelet renews the Lease kube-node-lease/<node> (every
10 s) and posts status (the Ready condition's lastHeartbeatTime). Every sign of life moves the
node's *probe time* to now, on this controller's own clock (never the kubelet's, so clock skew
cannot kill a node). Then, per node key:

    no sign of life for node_monitor_grace_period (40 s; 60 s for a node that never posted)
        -> Ready, MemoryPressure, DiskPressure, PIDPressure := Unknown
           ("Kubelet stopped posting node status."), event NodeNotReady on the node,
           and every pod on it gets Ready=False (event NodeNotReady on the pod)
    conditions -> NoSchedule taints (not-ready, unreachable, *-pressure, unschedulable), at once
    Ready False / Unknown -> NoExecute taint not-ready / unreachable, rate-limited per zone
        (node_eviction_rate 0.1/s; a zone >= 55 % down slows to 0.01/s above 50 nodes and
        stops below; when every zone is fully down nothing is tainted: the fault is ours)
    Ready True again -> the NoExecute taints are removed

The NoExecute taints are what evicts pods: the taint-eviction controller
(nodelifecycle_tainteviction.py) deletes the pods that do not tolerate them. Time-based steps
are requeues on the clock, so a FakeClock drives the whole story in tests.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy, format_rfc3339, parse_rfc3339
from kybernetes.client.indexer import BY_NODE_NAME
from kybernetes.client.resource import LEASES, NODES, PODS
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.nodelifecycle_health import (
    FULL_DISRUPTION,
    NO_EXECUTE,
    NO_SCHEDULE,
    NORMAL,
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    eviction_qps,
    get_condition,
    has_taint,
    mark_conditions_unknown,
    no_schedule_taint_diff,
    ready_status,
    swap_taints,
    zone_key,
    zone_states,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
EVENT_SOURCE = "node-controller"  # the component name its events carry in Kubernetes
TAINT_PASS_KEY = "#no-execute-tainting"  # not a node name: node names cannot hold "#"
DEFAULT_GRACE = 40.0
DEFAULT_STARTUP_GRACE = 60.0
DEFAULT_MONITOR_PERIOD = 5.0
DEFAULT_EVICTION_RATE = 0.1
DEFAULT_SECONDARY_EVICTION_RATE = 0.01
DEFAULT_LARGE_CLUSTER = 50
ZONE_STATE_TTL = 1.0  # seconds the zone picture is reused between nodes' reconciles
SLACK = 0.01  # requeue just after a deadline, since "expired" means strictly after it


@dataclass
class NodeHealth:
    """What this controller last saw of a node (nodeHealthData)."""

    uid: str
    probe: float  # clock.now() of the last sign of life
    heartbeat: Any = None  # the Ready condition's lastHeartbeatTime as last seen
    has_ready: bool = False
    lease_renew: Any = None  # the Lease's spec.renewTime as last seen


def _later(a: Any, b: Any) -> bool:
    """True if RFC 3339 time ``a`` is after ``b`` (any change counts when they do not parse)."""
    try:
        return parse_rfc3339(a) > parse_rfc3339(b)
    except (TypeError, ValueError):
        return a != b


def node_ref(node: Obj) -> Obj:
    meta = node.get("metadata") or {}
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": meta.get("name"), "uid": meta.get("uid")}}


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    workers = 4

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.events = ctx.recorder(EVENT_SOURCE)
        opts = ctx.options
        self.grace = float(opts.get("node_monitor_grace_period", DEFAULT_GRACE))
        self.startup_grace = float(opts.get("node_startup_grace_period", DEFAULT_STARTUP_GRACE))
        self.monitor_period = float(opts.get("node_monitor_period", DEFAULT_MONITOR_PERIOD))
        self.eviction_rate = float(opts.get("node_eviction_rate", DEFAULT_EVICTION_RATE))
        self.secondary_rate = float(opts.get("secondary_node_eviction_rate", DEFAULT_SECONDARY_EVICTION_RATE))
        self.large_cluster = int(opts.get("large_cluster_size_threshold", DEFAULT_LARGE_CLUSTER))
        self.nodes = ctx.informer(NODES)
        self.pods = ctx.informer(PODS)
        self.leases = ctx.informers.informer_for(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.health: dict[str, NodeHealth] = {}
        self.zone_queues: dict[str, dict[str, None]] = {}  # zone -> nodes waiting for a NoExecute taint
        self.zone_next_token: dict[str, float] = {}  # zone -> when its rate limiter allows the next
        self.master_disruption = False
        self._zones: tuple[float, dict[str, tuple[str, int]]] | None = None
        self.nodes.add_event_handler(**self.handlers())
        self.leases.add_event_handler(on_add=self._lease_changed,
                                      on_update=lambda _old, new: self._lease_changed(new))

    def _lease_changed(self, lease: Obj) -> None:
        name = (lease.get("metadata") or {}).get("name")
        if name:
            self.enqueue_key(name)

    # -- the reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        if key == TAINT_PASS_KEY:
            await self.no_execute_tainting_pass()
            return
        node = self.nodes.get(key)
        if node is None:
            await self.forget_node(key)
            return
        health = await self.observe(node)
        grace = self.grace if health.has_ready else self.startup_grace
        now = self.clock.now()
        if now > health.probe + grace:
            node = await self.mark_unknown(node)
        else:
            self.requeue_after(key, health.probe + grace - now + SLACK)
        node = await self.no_schedule_tainting(node)
        await self.no_execute_tainting(node)
        if ready_status(node) == "Unknown":
            await self.mark_pods_not_ready(node)

    async def observe(self, node: Obj) -> NodeHealth:
        """Move the probe time if the node showed a sign of life since we last looked."""
        meta = node.get("metadata") or {}
        name = meta.get("name") or ""
        cond = get_condition(node, "Ready")
        heartbeat = None if cond is None else cond.get("lastHeartbeatTime")
        now = self.clock.now()
        health = self.health.get(name)
        if health is None or health.uid != meta.get("uid"):
            probe = now
            if cond is None:  # never posted: the node's age counts against the startup grace
                try:
                    age = (self.clock.wall() - parse_rfc3339(meta.get("creationTimestamp") or "")).total_seconds()
                except (TypeError, ValueError):
                    age = 0.0
                probe = now - max(age, 0.0)
            health = self.health[name] = NodeHealth(uid=meta.get("uid") or "", probe=probe, heartbeat=heartbeat,
                                                    has_ready=cond is not None)
            await self.events.normal(node_ref(node), "RegisteredNode",
                                     f"Node {name} event: Registered Node {name} in Controller")
        elif (cond is not None) != health.has_ready or heartbeat != health.heartbeat:
            health.probe, health.heartbeat, health.has_ready = now, heartbeat, cond is not None
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if renew and (health.lease_renew is None or _later(renew, health.lease_renew)):
            health.lease_renew, health.probe = renew, now
        return health

    async def forget_node(self, name: str) -> None:
        health = self.health.pop(name, None)
        for queue in self.zone_queues.values():
            queue.pop(name, None)
        if health is not None:
            ref = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": health.uid}}
            await self.events.normal(ref, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller")

    # -- conditions --------------------------------------------------------------------------------

    async def mark_unknown(self, node: Obj) -> Obj:
        changed = deep_copy(node)
        if not mark_conditions_unknown(changed, format_rfc3339(self.clock.wall())):
            return node
        name = node["metadata"]["name"]
        log.info("node %s: no status or lease for %.0f s; marking its conditions Unknown", name, self.grace)
        updated = await self.client.update_status(NODES, changed)
        if ready_status(node) == "True":
            await self.events.normal(node_ref(node), "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        return updated

    async def mark_pods_not_ready(self, node: Obj) -> None:
        """Pods on a node nobody hears from are not ready: their kubelet cannot say otherwise."""
        name = node["metadata"]["name"]
        now = format_rfc3339(self.clock.wall())
        for pod in self.pods.indexer.by_index(BY_NODE_NAME, name):
            cond = next((c for c in (pod.get("status") or {}).get("conditions") or []
                         if isinstance(c, dict) and c.get("type") == "Ready"), None)
            if cond is None or cond.get("status") == "False":
                continue
            changed = deep_copy(pod)
            for c in changed["status"]["conditions"]:
                if isinstance(c, dict) and c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=now)
            try:
                await self.client.update_status(PODS, changed)
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            await self.events.warning({**pod, "kind": "Pod", "apiVersion": "v1"}, "NodeNotReady", "Node is not ready")

    # -- taints ------------------------------------------------------------------------------------

    async def set_taints(self, node: Obj, taints: list[Obj]) -> Obj:
        meta = node["metadata"]
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "spec": {"taints": taints}}
        return await self.client.patch(NODES, meta["name"], patch)

    async def no_schedule_tainting(self, node: Obj) -> Obj:
        add, remove = no_schedule_taint_diff(node)
        if not add and not remove:
            return node
        now = format_rfc3339(self.clock.wall())
        taints = swap_taints(node, [(k, NO_SCHEDULE) for k in sorted(add)],
                             [(k, NO_SCHEDULE) for k in sorted(remove)], now)
        return await self.set_taints(node, taints)

    async def no_execute_tainting(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        status = ready_status(node)
        if status == "True" or (status in ("False", "Unknown") and self.all_zones_disrupted()):
            self._unqueue(name)
            await self.mark_reachable(node)
            return
        if status not in ("False", "Unknown"):
            return  # never posted yet: nothing to judge
        want, other = (NOT_READY_TAINT, UNREACHABLE_TAINT) if status == "False" else (UNREACHABLE_TAINT, NOT_READY_TAINT)
        if has_taint(node, other, NO_EXECUTE):  # already judged: swap straight away, no rate limit
            self._unqueue(name)
            taints = swap_taints(node, [(want, NO_EXECUTE)], [(other, NO_EXECUTE)], format_rfc3339(self.clock.wall()))
            await self.set_taints(node, taints)
        elif not has_taint(node, want, NO_EXECUTE):
            self.zone_queues.setdefault(zone_key(node), {}).setdefault(name, None)
            self.enqueue_key(TAINT_PASS_KEY)
        else:
            self._unqueue(name)

    async def mark_reachable(self, node: Obj) -> None:
        remove = [(k, NO_EXECUTE) for k in (NOT_READY_TAINT, UNREACHABLE_TAINT) if has_taint(node, k, NO_EXECUTE)]
        if remove:
            await self.set_taints(node, swap_taints(node, [], remove, ""))

    def _unqueue(self, name: str) -> None:
        for queue in self.zone_queues.values():
            queue.pop(name, None)

    async def no_execute_tainting_pass(self) -> None:
        """Taint the queued nodes, each zone at its own rate (doNoExecuteTaintingPass)."""
        states = self.zone_picture(fresh=True)
        if self.master_disruption:
            return  # every node was re-queued when the mode began; they untaint themselves
        now = self.clock.now()
        retry: float | None = None
        for zone, queue in list(self.zone_queues.items()):  # workers may add zones while we await
            state, size = states.get(zone, (NORMAL, 0))
            qps = eviction_qps(state, size, healthy_qps=self.eviction_rate, secondary_qps=self.secondary_rate,
                               large_cluster_threshold=self.large_cluster)
            while queue:
                if qps <= 0:
                    retry = min(retry or math.inf, self.monitor_period)
                    break
                wait = self.zone_next_token.get(zone, -math.inf) - now
                if wait > 0:
                    retry = min(retry or math.inf, wait)
                    break
                name = next(iter(queue))
                if await self.taint_no_execute(name):
                    self.zone_next_token[zone] = now + 1.0 / qps
                queue.pop(name, None)
        if retry is not None:
            self.requeue_after(TAINT_PASS_KEY, retry)

    async def taint_no_execute(self, name: str) -> bool:
        try:
            return await self._taint_no_execute(self.nodes.get(name))
        except ApiError as e:
            if e.code != 409:
                raise
        # The cache is behind our own writes of a moment ago (conditions, NoSchedule taints).
        return await self._taint_no_execute(await self.client.get_or_none(NODES, name))

    async def _taint_no_execute(self, node: Obj | None) -> bool:
        status = None if node is None else ready_status(node)
        if node is None or status not in ("False", "Unknown"):
            return False
        want, other = (NOT_READY_TAINT, UNREACHABLE_TAINT) if status == "False" else (UNREACHABLE_TAINT, NOT_READY_TAINT)
        if has_taint(node, want, NO_EXECUTE) and not has_taint(node, other, NO_EXECUTE):
            return False
        name = node["metadata"]["name"]
        log.info("node %s is %s: tainting it %s:NoExecute", name, "not ready" if status == "False" else "unreachable",
                 want)
        taints = swap_taints(node, [(want, NO_EXECUTE)], [(other, NO_EXECUTE)], format_rfc3339(self.clock.wall()))
        await self.set_taints(node, taints)
        return True

    # -- zones -------------------------------------------------------------------------------------

    def zone_picture(self, fresh: bool = False) -> dict[str, tuple[str, int]]:
        """Zone states over the cached nodes, reused for ZONE_STATE_TTL; notices the start and
        end of "every zone is down" (master disruption) and then looks at every node again."""
        now = self.clock.now()
        if not fresh and self._zones is not None and now - self._zones[0] < ZONE_STATE_TTL:
            return self._zones[1]
        states = zone_states(self.nodes.list())
        self._zones = (now, states)
        disrupted = bool(states) and all(state == FULL_DISRUPTION for state, _ in states.values())
        if disrupted != self.master_disruption:
            self.master_disruption = disrupted
            if disrupted:
                log.warning("every node is not ready: entering master disruption mode (no evictions)")
            else:
                log.info("a node is ready again: leaving master disruption mode")
                self.zone_next_token.clear()
            for node in self.nodes.list():
                self.enqueue(node)
        return states

    def all_zones_disrupted(self) -> bool:
        self.zone_picture()
        return self.master_disruption
