"""Pod garbage collection: pods nobody else will ever clean up (Kubernetes' pod-garbage-collector).

A periodic sweep (every ``podgc_period`` seconds, 20 by default) over the pod and node caches:

    terminated pods (Succeeded/Failed) above ``terminated_pod_gc_threshold`` (12500; 0 = never)
        deleted, evicted ones first, then oldest first
    terminating pods on a NotReady node tainted node.kubernetes.io/out-of-service
        force-deleted: that node's kubelet is known to be gone for good
    pods bound to a node that does not exist
        after a quarantine (``podgc_quarantine``, 40 s) and a live check that the node is really
        absent: marked Failed with condition DisruptionTarget (DeletionByPodGC), force-deleted
    terminating pods never scheduled
        force-deleted: no kubelet will ever confirm their end

"Force" is a delete with grace period 0, with the pod's uid as precondition so a re-created pod of
the same name is never hit. A pod that is not yet terminal is first patched to phase Failed, so
whoever watches it (a Job, say) sees how it ended.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import format_rfc3339
from kybernetes.client.resource import NODES, PODS
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

Obj = dict[str, Any]

GC_KEY = "podgc"
DEFAULT_PERIOD = 20.0
DEFAULT_QUARANTINE = 40.0
DEFAULT_TERMINATED_THRESHOLD = 12500
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
TERMINAL_PHASES = ("Succeeded", "Failed")


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def _eviction_then_age(pod: Obj) -> tuple[Any, ...]:
    m = pod.get("metadata") or {}
    evicted = (pod.get("status") or {}).get("reason") == "Evicted"
    return (not evicted, m.get("creationTimestamp") or "", m.get("namespace") or "", m.get("name") or "")


def _node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _out_of_service(node: Obj) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE_TAINT for t in (node.get("spec") or {}).get("taints") or [])


class PodGarbageCollector(Controller):
    name = "pod-garbage-collector"
    workers = 1

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        opts = ctx.options
        self.threshold = int(opts.get("terminated_pod_gc_threshold", DEFAULT_TERMINATED_THRESHOLD))
        self.period = float(opts.get("podgc_period", DEFAULT_PERIOD))
        self.quarantine = float(opts.get("podgc_quarantine", DEFAULT_QUARANTINE))
        self.pods = ctx.informer(PODS)
        self.nodes = ctx.informer(NODES)
        self.suspect_nodes: dict[str, float] = {}  # node name -> when its pods were first seen orphaned
        self.enqueue_key(GC_KEY)

    async def reconcile(self, key: str) -> None:
        try:
            if self.pods.has_synced() and self.nodes.has_synced():
                await self.gc_terminated()
                await self.gc_terminating_out_of_service()
                await self.gc_orphaned()
                await self.gc_unscheduled_terminating()
        finally:
            self.requeue_after(key, self.period)

    # -- the four sweeps -----------------------------------------------------------------------

    async def gc_terminated(self) -> None:
        if self.threshold <= 0:
            return
        terminated = [p for p in self.pods.list() if is_terminated(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        log.info("podgc: %d terminated pods above the threshold of %d; deleting the oldest",
                 excess, self.threshold)
        for pod in sorted(terminated, key=_eviction_then_age)[:excess]:
            await self.fail_and_delete(pod)

    async def gc_terminating_out_of_service(self) -> None:
        for pod in self.pods.list():
            m, node_name = pod.get("metadata") or {}, (pod.get("spec") or {}).get("nodeName")
            if not m.get("deletionTimestamp") or not node_name:
                continue
            node = self.nodes.get(node_name)
            if node is not None and not _node_ready(node) and _out_of_service(node):
                await self.fail_and_delete(pod)

    async def gc_orphaned(self) -> None:
        now = self.clock.now()
        orphans: dict[str, list[Obj]] = {}
        for pod in self.pods.list():
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name and self.nodes.get(node_name) is None:
                orphans.setdefault(node_name, []).append(pod)
        for node_name in list(self.suspect_nodes):
            if node_name not in orphans:
                del self.suspect_nodes[node_name]  # the node came (back) or its pods are gone
        for node_name, pods in sorted(orphans.items()):
            first_seen = self.suspect_nodes.setdefault(node_name, now)
            if now - first_seen < self.quarantine:
                continue
            if await self.client.get_or_none(NODES, node_name) is not None:
                del self.suspect_nodes[node_name]  # only our cache was behind
                continue
            for pod in pods:
                log.info("podgc: pod %s/%s is bound to node %s, which no longer exists; deleting",
                         pod["metadata"].get("namespace"), pod["metadata"].get("name"), node_name)
                await self.fail_and_delete(pod, {"type": "DisruptionTarget", "status": "True",
                                                 "reason": "DeletionByPodGC",
                                                 "message": "PodGC: node no longer exists"})
            del self.suspect_nodes[node_name]

    async def gc_unscheduled_terminating(self) -> None:
        for pod in self.pods.list():
            if (pod.get("metadata") or {}).get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"):
                await self.fail_and_delete(pod)

    # -- the one write -------------------------------------------------------------------------

    async def fail_and_delete(self, pod: Obj, condition: Obj | None = None) -> None:
        m = pod["metadata"]
        name, namespace = m["name"], m.get("namespace")
        try:
            if not is_terminated(pod):
                status: Obj = {"phase": "Failed"}
                if condition is not None:
                    cond = {**condition, "lastProbeTime": None,
                            "lastTransitionTime": format_rfc3339(self.clock.wall())}
                    others = [c for c in (pod.get("status") or {}).get("conditions") or []
                              if c.get("type") != cond["type"]]
                    status["conditions"] = [*others, cond]
                await self.client.patch(PODS, name, {"status": status}, namespace, subresource="status")
            await self.client.delete(PODS, name, namespace, grace_period_seconds=0,
                                     preconditions={"uid": m.get("uid")} if m.get("uid") else None)
        except ApiError as e:
            if e.code not in (404, 409):  # already gone, or a different pod of that name now
                raise
