"""Taint-based eviction: pods leave nodes tainted NoExecute (Kubernetes' taint-eviction-controller).

Per pod key, from the pod and node caches:

    the node has no NoExecute taint                 nothing (a pending eviction is cancelled,
                                                    event TaintManagerEviction "Cancelling ...")
    some NoExecute taint is not tolerated           evicted now
    all tolerated, some toleration without seconds  stays for ever
    all tolerated with tolerationSeconds            evicted once the smallest of them has passed
                                                    since the taint was first seen here

Admission gives every pod tolerations of 300 s for node.kubernetes.io/not-ready and
unreachable, so a pod leaves a dead node 5 minutes after it was tainted. Evicting is: event
TaintManagerEviction "Marking for deletion Pod ns/name", the DisruptionTarget condition
(reason DeletionByTaintManager) on the pod's status, then an ordinary (graceful) delete. The
pod's controller sees it terminating and makes a replacement, which the scheduler puts on a
node without the taint.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import format_rfc3339
from kybernetes.client.indexer import BY_NODE_NAME, object_key, split_key
from kybernetes.client.resource import NODES, PODS
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NO_EXECUTE = "NoExecute"
EVICTION_REASON = "TaintManagerEviction"
SLACK = 0.001


def no_execute_taints(node: Obj | None) -> list[Obj]:
    if node is None:
        return []
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if isinstance(t, dict) and t.get("effect") == NO_EXECUTE]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """ToleratesTaint: effect and key must match when given; Exists ignores the value."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_delay(taints: list[Obj], tolerations: list[Obj]) -> float | None:
    """Seconds a pod may stay on a node with these NoExecute taints: 0 = evict now, None = ever."""
    used: list[Obj] = []
    for taint in taints:
        matching = [t for t in tolerations if isinstance(t, dict) and tolerates(t, taint)]
        if not matching:
            return 0.0
        used.extend(matching)
    delay = math.inf
    for toleration in used:
        seconds = toleration.get("tolerationSeconds")
        if seconds is None:
            continue
        try:
            delay = min(delay, max(float(seconds), 0.0))
        except (TypeError, ValueError):
            continue
    return None if delay == math.inf else delay


class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    workers = 4

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.pods = ctx.informer(PODS)
        self.nodes = ctx.informer(NODES)
        self.pending: dict[str, tuple[str, float]] = {}  # pod key -> (uid, when first due to leave)
        self.pods.add_event_handler(on_add=self.enqueue, on_update=self._pod_updated, on_delete=self.enqueue)
        self.nodes.add_event_handler(on_add=self._node_changed, on_update=self._node_updated,
                                     on_delete=self._node_changed)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if ((old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName")
                or (old.get("spec") or {}).get("tolerations") != (new.get("spec") or {}).get("tolerations")
                or (old.get("metadata") or {}).get("deletionTimestamp") != (new.get("metadata") or {}).get("deletionTimestamp")
                or (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase")):
            self.enqueue(new)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    def _node_changed(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name")
        if name:
            for key in self.pods.indexer.index_keys(BY_NODE_NAME, name):
                self.enqueue_key(key)

    async def reconcile(self, key: str) -> None:
        pod = self.pods.get(key)
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        meta = (pod or {}).get("metadata") or {}
        if (pod is None or not node_name or meta.get("deletionTimestamp")
                or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")):
            self.pending.pop(key, None)
            return
        taints = no_execute_taints(self.nodes.get(node_name))
        delay = eviction_delay(taints, (pod.get("spec") or {}).get("tolerations") or []) if taints else None
        if delay is None:
            await self.cancel(pod)
            return
        now = self.clock.now()
        uid = meta.get("uid") or ""
        started = self.pending.get(key)
        if started is None or started[0] != uid:
            started = self.pending[key] = (uid, now)
        due = started[1] + delay
        if now < due:
            self.requeue_after(key, due - now + SLACK)
            return
        await self.evict(pod)
        self.pending.pop(key, None)

    async def cancel(self, pod: Obj) -> None:
        key = object_key(pod)
        if self.pending.pop(key, None) is not None:
            await self.events.normal(_pod_ref(pod), EVICTION_REASON, f"Cancelling deletion of Pod {key}")

    async def evict(self, pod: Obj) -> None:
        key = object_key(pod)
        namespace, name = split_key(key)
        log.info("evicting pod %s from node %s: NoExecute taint not tolerated (any longer)", key,
                 pod["spec"]["nodeName"])
        await self.events.normal(_pod_ref(pod), EVICTION_REASON, f"Marking for deletion Pod {key}")
        uid = pod["metadata"].get("uid")
        try:
            if not _has_disruption_condition(pod):
                condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                             "message": "Taint manager: deleting due to NoExecute taint",
                             "lastTransitionTime": format_rfc3339(self.clock.wall())}
                # Strategic merge: conditions merge by type, so a kubelet's concurrent write stays.
                patch = {"metadata": {"uid": uid}, "status": {"conditions": [condition]}}
                await self.client.patch(PODS, name, patch, namespace, subresource="status",
                                        patch_type="strategic")
            await self.client.delete(PODS, name, namespace, preconditions={"uid": uid} if uid else None)
        except ApiError as e:
            if e.code not in (404, 409):  # gone already, or another pod of that name now
                raise


def _has_disruption_condition(pod: Obj) -> bool:
    return any(isinstance(c, dict) and c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _pod_ref(pod: Obj) -> Obj:
    return {**pod, "kind": "Pod", "apiVersion": "v1"}
