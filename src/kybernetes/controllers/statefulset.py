"""The StatefulSet controller: pods with stable names, storage and order.

    StatefulSet informer ──┐
    Pod informer ──────────┴─► queue "ns/name" ─► reconcile:
        1. read the set from the cache (gone: nothing to do; the garbage collector removes pods)
        2. adopt orphan ControllerRevisions it selects; list its revisions, oldest first
        3. claim pods: its members ("<set>-<ordinal>") that it selects; orphans are adopted
        4. resolve the current and update revisions (statefulset_history), creating a revision
           when the template changed
        5. StatefulSetSync (statefulset_control): create, fix, delete and roll pods in order
        6. store the status (statefulset_status), prune revisions beyond revisionHistoryLimit
        7. with minReadySeconds, look again when ready pods may have become available

Pods are created with fixed names, so a cache that lags only costs a harmless "already exists";
no expectations are needed (as in Kubernetes). ControllerRevisions and PersistentVolumeClaims
are read from their shared informers.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import LabelSelector, label_selector_from_spec
from kybernetes.client.indexer import BY_NAMESPACE, object_key, split_key
from kybernetes.client.resource import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from kybernetes.controllers import controllerrevision as cr
from kybernetes.controllers import podutil
from kybernetes.controllers import statefulset_pods as sp
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.statefulset_control import StatefulSetSync, SyncError
from kybernetes.controllers.statefulset_history import resolve_revisions, revisions_to_delete
from kybernetes.controllers.statefulset_podcontrol import StatefulPodControl
from kybernetes.controllers.statefulset_status import store_status

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class StatefulSetController(Controller):
    name = "statefulset-controller"
    resource = STATEFULSETS

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.sets = ctx.informer(STATEFULSETS)
        self.pods = ctx.informer(PODS)
        self.revisions = ctx.informer(CONTROLLERREVISIONS)
        self.claims = ctx.informer(PERSISTENTVOLUMECLAIMS)
        self.history = cr.RevisionHistory(self.client, self.revisions)
        self.pod_control = StatefulPodControl(self.client, self.events, self.claims)
        self.sets.add_event_handler(**self.handlers())
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)

    # -- event handlers --------------------------------------------------------------------------

    def _set_for(self, pod: Obj, ref: Obj | None = None) -> Obj | None:
        ref = ref if ref is not None else podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "StatefulSet":
            return None
        sts = self.sets.get_by_name((pod.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if sts is None or (sts.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return sts

    def _sets_selecting(self, pod: Obj) -> list[Obj]:
        meta = pod.get("metadata") or {}
        found = []
        for sts in self.sets.indexer.by_index(BY_NAMESPACE, meta.get("namespace", "")):
            try:
                selector = label_selector_from_spec((sts.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels")):
                found.append(sts)
        return found

    def _pod_added(self, pod: Obj) -> None:
        if podutil.is_terminating(pod):
            self._pod_deleted(pod)
            return
        sts = self._set_for(pod)
        if sts is not None:
            self.enqueue(sts)
        elif podutil.controller_of(pod) is None:
            for candidate in self._sets_selecting(pod):
                self.enqueue(candidate)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        old_meta, cur_meta = old.get("metadata") or {}, cur.get("metadata") or {}
        if old_meta.get("resourceVersion") == cur_meta.get("resourceVersion"):
            return
        old_ref, cur_ref = podutil.controller_of(old), podutil.controller_of(cur)
        if (old_ref or {}).get("uid") != (cur_ref or {}).get("uid") and old_ref is not None:
            previous = self._set_for(old, old_ref)
            if previous is not None:
                self.enqueue(previous)
        if cur_ref is not None:
            sts = self._set_for(cur, cur_ref)
            if sts is None:
                return
            self.enqueue(sts)
            min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                self.requeue_after(object_key(sts), min_ready + 1)
            return
        if old_meta.get("labels") != cur_meta.get("labels") or old_ref is not None:
            for candidate in self._sets_selecting(cur):
                self.enqueue(candidate)

    def _pod_deleted(self, pod: Obj) -> None:
        sts = self._set_for(pod)
        if sts is not None:
            self.enqueue(sts)

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, _name = split_key(key)
        sts = self.sets.get(key)
        if sts is None:
            return
        try:
            selector = label_selector_from_spec((sts.get("spec") or {}).get("selector"))
        except ApiError as e:
            log.warning("StatefulSet %s has an invalid selector: %s", key, e.message)
            return
        ref = podutil.new_controller_ref(sts, "apps/v1", "StatefulSet")
        can_adopt = podutil.recheck_owner(self.client, STATEFULSETS, sts)
        revisions = await self._revisions(sts, selector, ref, can_adopt)
        candidates = [p for p in self.pods.indexer.by_index(BY_NAMESPACE, namespace) if sp.is_member_of(sts, p)]
        pods = await podutil.claim_objects(self.client, PODS, sts, ref, selector, candidates,
                                           can_adopt)
        status, error = await self._update(sts, pods, revisions)
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        if status is not None and min_ready > 0 and int(status.get("availableReplicas") or 0) != sp.replicas_of(sts):
            self.requeue_after(key, min_ready)
        if error is not None:
            raise error

    async def _revisions(self, sts: Obj, selector: LabelSelector, ref: Obj, can_adopt: Any) -> list[Obj]:
        owned = self.history.owned(sts, selector)
        orphans = [r for r in owned if podutil.controller_of(r) is None]
        if orphans:
            await can_adopt()
            for orphan in orphans:
                adopted = await self.history.adopt(orphan, ref)
                owned = [adopted if r is orphan else r for r in owned]
        return cr.sort_revisions(owned)

    async def _update(self, sts: Obj, pods: list[Obj], revisions: list[Obj]) -> tuple[Obj | None, Exception | None]:
        """UpdateStatefulSet: sync the pods, store the status, keep the history short. Returns
        the status stored (if any) and the first error (to requeue with)."""
        current = update = None
        status: Obj | None = None
        error: Exception | None = None
        try:
            current, update, collision_count = await resolve_revisions(self.history, sts, revisions)
            current_set = cr.apply_revision(sts, current)
            update_set = cr.apply_revision(sts, update)
            sync = StatefulSetSync(self.pod_control, sts, current_set, update_set, _name_of(current),
                                   _name_of(update), collision_count, pods, self.clock.wall())
            try:
                status = await sync.run()
            except SyncError as e:
                status, error = e.status, e.error
            await store_status(self.client, sts, status)
        except Exception as e:  # noqa: BLE001 - the history is still kept short below
            error = error or e
        try:
            for revision in revisions_to_delete(sts, pods, revisions, current, update):
                await self.history.delete(revision)
        except Exception as e:  # noqa: BLE001
            error = error or e
        return status, error


def _name_of(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")
