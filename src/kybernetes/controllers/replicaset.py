"""The ReplicaSet controller: keep spec.replicas pods of the template running.

    ReplicaSet informer ──┐
    Pod informer ─────────┴─► queue "ns/name" ─► reconcile:
        1. read the ReplicaSet from the cache (gone: forget its expectations)
        2. claim pods: the active pods it controls and still selects; adopt matching orphans
           (ownerReference patch), release owned pods that stopped matching
        3. unless creations/deletions it asked for are still unseen (expectations): create the
           missing pods in slow-start batches 1, 2, 4, ... (at most 500 a sync), or delete the
           surplus, the least valuable first (podutil.rank_pods_for_deletion)
        4. write the status (replicaset_status) if it changed; with minReadySeconds, look again
           when ready pods turn available

The pod handlers credit expectations: a pod the informer sees created lowers "creations
expected", a pod seen deleted lowers "deletions expected", so the next reconcile acts on an
up-to-date count. The ReplicationController controller (replicationcontroller.py) is this one
with a different kind and a map selector, as in Kubernetes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import LabelSelector, label_selector_from_spec
from kybernetes.client.indexer import BY_NAMESPACE, BY_OWNER_UID, object_key, split_key
from kybernetes.client.resource import PODS, REPLICASETS, Resource
from kybernetes.controllers import podutil
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.pod_owner_events import PodOwnerEvents
from kybernetes.controllers.replicaset_status import calculate_status, update_status

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BURST_REPLICAS = 500


class ReplicaSetController(PodOwnerEvents, Controller):
    name = "replicaset-controller"
    resource: Resource = REPLICASETS
    api_version = "apps/v1"
    kind = "ReplicaSet"
    burst_replicas = BURST_REPLICAS

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.expectations = podutil.Expectations(self.clock)
        self.owners = ctx.informer(self.resource)
        self.pods = ctx.informer(PODS)
        self.owners.add_event_handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n),
                                      on_delete=self._owner_deleted)
        self.watch_pods(self.pods)

    def selector_of(self, owner: Obj) -> LabelSelector:
        return label_selector_from_spec((owner.get("spec") or {}).get("selector"))

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, _name = split_key(key)
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector_of(owner)
        except ApiError as e:
            log.warning("%s %s has an invalid selector: %s", self.kind, key, e.message)
            return
        candidates = [p for p in self.pods.indexer.by_index(BY_NAMESPACE, namespace) if podutil.is_pod_active(p)]
        pods = await podutil.claim_objects(
            self.client, PODS, owner, podutil.new_controller_ref(owner, self.api_version, self.kind), selector,
            candidates, podutil.recheck_owner(self.client, self.resource, owner))
        manage_error: Exception | None = None
        if needs_sync and not podutil.is_terminating(owner):
            try:
                deleted = await self.manage_replicas(key, owner, pods)
            except Exception as e:  # noqa: BLE001 - reported in status, then raised to retry
                manage_error = e
            else:
                # Pods just deleted no longer count (Kubernetes counts them until the watch says
                # so; a Deployment reading that status would scale old pods down too far).
                pods = [p for p in pods if object_key(p) not in deleted]
        now = self.clock.wall()
        status = calculate_status(owner, pods, manage_error, now)
        updated = await update_status(self.client, self.resource, owner, status)
        spec = owner.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        new_status = updated.get("status") or {}
        desired = _replicas(owner)
        if (manage_error is None and min_ready > 0 and int(new_status.get("readyReplicas") or 0) == desired
                and int(new_status.get("availableReplicas") or 0) != desired):
            self.requeue_after(key, min_ready)
        if manage_error is not None:
            raise manage_error

    async def manage_replicas(self, key: str, owner: Obj, pods: list[Obj]) -> set[str]:
        """Create or delete pods towards spec.replicas; the keys of the pods deleted."""
        diff = len(pods) - _replicas(owner)
        if diff < 0:
            await self._create_pods(key, owner, min(-diff, self.burst_replicas))
        elif diff > 0:
            return await self._delete_pods(key, owner, pods, min(diff, self.burst_replicas))
        return set()

    async def _create_pods(self, key: str, owner: Obj, count: int) -> None:
        """Create ``count`` pods in batches of 1, 2, 4, ...; a failing batch stops the rest, so
        a quota or webhook refusal costs one request, not hundreds."""
        self.expectations.expect_creations(key, count)
        template = (owner.get("spec") or {}).get("template") or {}
        ref = podutil.new_controller_ref(owner, self.api_version, self.kind)
        attempted = 0
        error: Exception | None = None
        for size in podutil.slow_start_batches(count):
            attempted += size
            results = await asyncio.gather(*(self._create_one(owner, template, ref) for _ in range(size)),
                                           return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                self.expectations.lower_creations(key, len(failures))  # these never come
                first = failures[0]
                error = first if isinstance(first, Exception) else RuntimeError(str(first))
                break
        if count - attempted > 0:
            self.expectations.lower_creations(key, count - attempted)  # skipped after a failure
        if error is not None:
            raise error

    async def _create_one(self, owner: Obj, template: Obj, ref: Obj) -> None:
        pod = podutil.pod_from_template(template, owner, ref)
        namespace = (owner.get("metadata") or {}).get("namespace")
        try:
            created = await self.client.create(PODS, pod, namespace)
        except ApiError as e:
            if e.code == 403 and "being terminated" in (e.message or ""):
                return  # the namespace is going away: nothing to create, nothing to report
            await self.events.warning(owner, "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.events.normal(owner, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pods(self, key: str, owner: Obj, pods: list[Obj], count: int) -> set[str]:
        related = self._related_pods(owner)
        victims = podutil.rank_pods_for_deletion(pods, related, self.clock.wall())[:count]
        self.expectations.expect_deletions(key, [object_key(p) for p in victims])
        results = await asyncio.gather(*(self._delete_one(key, owner, p) for p in victims), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return {object_key(p) for p in victims}

    async def _delete_one(self, key: str, owner: Obj, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except ApiError as e:
            self.expectations.deletion_observed(key, object_key(pod))  # not going to be seen
            if e.code == 404:
                return
            await self.events.warning(owner, "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.events.normal(owner, "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    def _related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of every ReplicaSet sharing this one's controller (a Deployment's ReplicaSets),
        so a scale-down prefers nodes where the whole workload is doubled up."""
        meta = owner.get("metadata") or {}
        ref = podutil.controller_of(owner)
        owners = [owner]
        if ref is not None:
            owners = [o for o in self.owners.indexer.by_index(BY_OWNER_UID, ref.get("uid", ""))
                      if (o.get("metadata") or {}).get("namespace") == meta.get("namespace")] or [owner]
        related: list[Obj] = []
        for o in owners:
            related.extend(self.pods.indexer.by_index(BY_OWNER_UID, (o.get("metadata") or {}).get("uid", "")))
        return related


def _replicas(owner: Obj) -> int:
    value = (owner.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)
