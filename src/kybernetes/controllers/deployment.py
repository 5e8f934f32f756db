"""The Deployment controller: roll a Deployment's pod template out through ReplicaSets.

    Deployment ──owns──► ReplicaSet web-<hash of template>  (one per template revision)
                              └──owns──► Pods (made by the ReplicaSet controller)

    reconcile("ns/web"):
        claim ReplicaSets (adopt matching orphans, release ones that stopped matching)
        being deleted          -> status only
        paused / resumed       -> Progressing: DeploymentPaused / DeploymentResumed; while paused
                                  only scaling happens (no rollout progress)
        spec.replicas changed  -> proportional scaling across the active ReplicaSets
        otherwise              -> one rollout step: RollingUpdate or Recreate
                                  (deployment_rolling.py)

A template change makes a new ReplicaSet named <deployment>-<pod-template-hash>; `kubectl rollout
undo` sets the template back to an old ReplicaSet's, which is then found again and gets the next
revision; `rollout restart` changes a template annotation, so a new ReplicaSet. Status and
conditions are computed as Kubernetes computes them, because `kubectl rollout status` reads them.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.api.selectors import label_selector_from_spec
from kybernetes.client.indexer import BY_NAMESPACE, BY_OWNER_UID
from kybernetes.client.resource import DEPLOYMENTS, PODS, REPLICASETS
from kybernetes.controllers import deployment_util as du
from kybernetes.controllers import podutil
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.deployment_rolling import rollout_recreate, rollout_rolling
from kybernetes.controllers.deployment_sync import Sync

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment-controller"
    workers = 2

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.deployments = ctx.informer(DEPLOYMENTS)
        self.replicasets = ctx.informer(REPLICASETS)
        self.pods = ctx.informer(PODS)
        self.deployments.add_event_handler(**self.handlers())
        self.replicasets.add_event_handler(on_add=self._rs_added, on_update=self._rs_updated,
                                           on_delete=self._rs_deleted)
        self.pods.add_event_handler(on_delete=self._pod_deleted)

    # -- event handlers --------------------------------------------------------------------------

    def _deployment_for(self, obj: Obj, ref: Obj | None = None) -> Obj | None:
        ref = ref if ref is not None else podutil.controller_of(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get_by_name((obj.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if d is None or (d.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return d

    def _deployments_selecting(self, rs: Obj) -> list[Obj]:
        meta = rs.get("metadata") or {}
        found = []
        for d in self.deployments.indexer.by_index(BY_NAMESPACE, meta.get("namespace", "")):
            try:
                selector = label_selector_from_spec((d.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels")):
                found.append(d)
        return found

    def _rs_added(self, rs: Obj) -> None:
        if podutil.is_terminating(rs):
            self._rs_deleted(rs)
            return
        if podutil.controller_of(rs) is not None:
            d = self._deployment_for(rs)
            if d is not None:
                self.enqueue(d)
            return
        for d in self._deployments_selecting(rs):
            self.enqueue(d)

    def _rs_updated(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        old_ref, cur_ref = podutil.controller_of(old), podutil.controller_of(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            d = self._deployment_for(old, old_ref)
            if d is not None:
                self.enqueue(d)
        if cur_ref is not None:
            d = self._deployment_for(cur, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        labels_changed = (old.get("metadata") or {}).get("labels") != (cur.get("metadata") or {}).get("labels")
        if labels_changed or ref_changed:
            for d in self._deployments_selecting(cur):
                self.enqueue(d)

    def _rs_deleted(self, rs: Obj) -> None:
        d = self._deployment_for(rs)
        if d is not None:
            self.enqueue(d)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to be gone: a pod's deletion may unblock it."""
        ref = podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get_by_name((pod.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if rs is None or (rs.get("metadata") or {}).get("uid") != ref.get("uid"):
            return
        d = self._deployment_for(rs)
        if d is not None and not du.is_rolling(d):
            self.enqueue(d)

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None:
            return
        spec = d.get("spec") or {}
        if spec.get("selector") == {}:
            await self._selecting_all(d)
            return
        try:
            selector = label_selector_from_spec(spec.get("selector"))
        except ApiError as e:
            log.warning("deployment %s has an invalid selector: %s", key, e.message)
            return
        namespace = d["metadata"].get("namespace", "")
        candidates = self.replicasets.indexer.by_index(BY_NAMESPACE, namespace)
        rss = await podutil.claim_objects(
            self.client, REPLICASETS, d, podutil.new_controller_ref(d, "apps/v1", "Deployment"), selector,
            candidates, podutil.recheck_owner(self.client, DEPLOYMENTS, d))
        sync = Sync(self, d, rss)
        if podutil.is_terminating(d):
            new_rs, old = await sync.new_and_old(create=False)
            await sync.sync_status([*old, new_rs], new_rs)
            return
        await self._check_paused_conditions(sync)
        if spec.get("paused"):
            await self._sync_scale(sync)
            return
        new_rs, old = await sync.new_and_old(create=False)
        if sync.is_scaling_event(new_rs, old):
            await self._sync_scale(sync)
            return
        if du.is_rolling(d):
            await rollout_rolling(sync)
        else:
            await rollout_recreate(sync, self._pods_by_rs(d, sync.rss, selector))

    async def _sync_scale(self, sync: Sync) -> None:
        new_rs, old = await sync.new_and_old(create=False)
        await sync.scale(new_rs, old)
        new_rs = next((r for r in sync.rss if new_rs and r["metadata"]["uid"] == new_rs["metadata"]["uid"]), new_rs)
        old = sync.old_rss(new_rs)
        if (sync.d.get("spec") or {}).get("paused"):
            await sync.cleanup(old)
        await sync.sync_status([*old, new_rs], new_rs)

    async def _check_paused_conditions(self, sync: Sync) -> None:
        d = sync.d
        if not du.has_progress_deadline(d):
            return
        status = deep_copy(d.get("status") or {})
        cond = du.get_condition(status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return  # a timed-out rollout keeps saying so
        paused_now = bool((d.get("spec") or {}).get("paused"))
        was_paused = cond is not None and cond.get("reason") == du.PAUSED
        now = self.clock.wall()
        if paused_now and not was_paused:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED,
                                                      "Deployment is paused", now))
        elif not paused_now and was_paused:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED,
                                                      "Deployment is resumed", now))
        else:
            return
        await sync.write_status(status)

    async def _selecting_all(self, d: Obj) -> None:
        await self.events.warning(d, "SelectingAll",
                                  "This deployment is selecting all pods. A non-empty selector is required.")
        generation = (d.get("metadata") or {}).get("generation") or 0
        if int((d.get("status") or {}).get("observedGeneration") or 0) < int(generation):
            copy = deep_copy(d)
            copy.setdefault("status", {})["observedGeneration"] = generation
            await self.client.update_status(DEPLOYMENTS, copy)

    def _pods_by_rs(self, d: Obj, rss: list[Obj], selector: Any) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for rs in rss:
            uid = rs["metadata"].get("uid", "")
            out[uid] = [p for p in self.pods.indexer.by_index(BY_OWNER_UID, uid)
                        if selector.matches((p.get("metadata") or {}).get("labels"))
                        and (podutil.controller_of(p) or {}).get("uid") == uid]
        return out
