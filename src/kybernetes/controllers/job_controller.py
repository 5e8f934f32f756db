"""The Job controller: run a Job's pods until enough succeed, or give up as the spec says.

    Job informer ──┐
    Pod informer ──┴─► queue "ns/name"      ─► sync_job (job_sync.py): decide, manage pods
                      queue "pod:ns/name"   ─► an orphaned pod still carrying the job-tracking
                                               finalizer (its Job deleted or finished): remove it

The pieces: job_sync (one sync, top down), job_manage (create / delete pods, failure backoff),
job_tracking (count finished pods through the finalizer protocol, finish the Job),
job_indexes (Indexed Jobs), job_failure_policy (podFailurePolicy), job_backoff, job_pods,
job_conditions, job_state.

The pod handlers keep two ledgers up to date before queueing the Job: expectations (pods the
controller created or deleted and has not seen yet, so it does not act twice on the same gap)
and finalizer expectations (pods whose finalizer it removed, so they are not counted twice).
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import parse_rfc3339
from kybernetes.api.selectors import LabelSelector, label_selector_from_spec
from kybernetes.client.indexer import BY_NAMESPACE, BY_OWNER_UID, object_key, split_key
from kybernetes.client.resource import JOBS, PODS
from kybernetes.controllers import job_conditions as jc
from kybernetes.controllers import job_pods, podutil
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.job_backoff import BackoffStore
from kybernetes.controllers.job_sync import managed_elsewhere, sync_job
from kybernetes.controllers.job_tracking import FinalizerExpectations

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ORPHAN_POD_PREFIX = "pod:"


class JobController(Controller):
    name = "job-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.expectations = podutil.Expectations(self.clock)
        self.finalizer_expectations = FinalizerExpectations()
        self.backoff = BackoffStore()
        self.jobs = ctx.informer(JOBS)
        self.pods = ctx.informer(PODS)
        self.jobs.add_event_handler(on_add=self.enqueue, on_update=self._job_updated, on_delete=self._job_deleted)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=lambda pod: self._pod_deleted(pod, final=True))

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        if key.startswith(ORPHAN_POD_PREFIX):
            await self._sync_orphan_pod(key[len(ORPHAN_POD_PREFIX):])
        else:
            await sync_job(self, key)

    async def pods_for_job(self, job: Obj) -> list[Obj]:
        """The pods this Job controls (terminal ones included): owned pods it still selects, plus
        matching orphans it adopts (which then get the tracking finalizer too)."""
        meta = job.get("metadata") or {}
        try:
            selector = label_selector_from_spec((job.get("spec") or {}).get("selector"))
        except ApiError as e:
            log.warning("job %s/%s has an invalid selector: %s", meta.get("namespace"), meta.get("name"), e.message)
            return []
        owned = [p for p in self.pods.indexer.by_index(BY_OWNER_UID, meta.get("uid", ""))
                 if (podutil.controller_of(p) or {}).get("uid") == meta.get("uid")]
        orphans = [p for p in self.pods.indexer.by_index(BY_NAMESPACE, meta.get("namespace", ""))
                   if podutil.controller_of(p) is None and selector.matches((p.get("metadata") or {}).get("labels"))]
        if not orphans and all(selector.matches((p.get("metadata") or {}).get("labels")) for p in owned):
            return owned
        ref = podutil.new_controller_ref(job, "batch/v1", "Job")
        claimed = await podutil.claim_objects(self.client, PODS, job, ref, selector, owned + orphans,
                                              podutil.recheck_owner(self.client, JOBS, job))
        owned_uids = {job_pods.uid(p) for p in owned}
        out: list[Obj] = []
        for pod in claimed:
            if job_pods.uid(pod) not in owned_uids and not job_pods.has_tracking_finalizer(pod):
                pod = await self._add_tracking_finalizer(pod)
            out.append(pod)
        return out

    async def _add_tracking_finalizer(self, pod: Obj) -> Obj:
        meta = pod.get("metadata") or {}
        patch = {"metadata": {"finalizers": [job_pods.TRACKING_FINALIZER]}}
        try:
            return await self.client.patch(PODS, meta.get("name", ""), patch, meta.get("namespace"),
                                           patch_type="strategic")
        except ApiError as e:
            if e.code == 404:
                return pod
            raise

    async def _sync_orphan_pod(self, pod_key: str) -> None:
        """Remove the tracking finalizer from a pod no unfinished Job of ours controls."""
        pod = self.pods.get(pod_key)
        if pod is None or not job_pods.has_tracking_finalizer(pod):
            return
        ref = podutil.controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return  # not ours to touch
            job = self._job_for(pod, ref)
            if job is not None and (managed_elsewhere(job) or not jc.is_job_finished(job)):
                return  # adopted, or another controller's business
        namespace, name = split_key(pod_key)
        try:
            await self.client.patch(PODS, name, job_pods.remove_finalizer_patch(), namespace, patch_type="strategic")
        except ApiError as e:
            if e.code != 404:
                raise

    # -- event handlers --------------------------------------------------------------------------

    def _job_for(self, pod: Obj, ref: Obj | None = None) -> Obj | None:
        ref = ref if ref is not None else podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.jobs.get_by_name((pod.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if job is None or (job.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return job

    def _jobs_selecting(self, pod: Obj) -> list[Obj]:
        meta = pod.get("metadata") or {}
        found = []
        for job in self.jobs.indexer.by_index(BY_NAMESPACE, meta.get("namespace", "")):
            try:
                selector: LabelSelector = label_selector_from_spec((job.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels")):
                found.append(job)
        return found

    def _enqueue_orphan(self, pod: Obj) -> None:
        self.queue.add(ORPHAN_POD_PREFIX + object_key(pod))

    def _pod_added(self, pod: Obj) -> None:
        if podutil.is_terminating(pod):
            self._pod_deleted(pod, final=False)  # seen first while being deleted (a restart)
            return
        if podutil.controller_of(pod) is not None:
            job = self._job_for(pod)
            if job is not None:
                key = object_key(job)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        if job_pods.has_tracking_finalizer(pod):
            self._enqueue_orphan(pod)
        for job in self._jobs_selecting(pod):
            self.enqueue(job)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        old_meta, cur_meta = old.get("metadata") or {}, cur.get("metadata") or {}
        if old_meta.get("resourceVersion") == cur_meta.get("resourceVersion"):
            return
        if podutil.is_terminating(cur):
            self._pod_deleted(cur, final=False)
            return
        finalizer_removed = not job_pods.has_tracking_finalizer(cur)
        old_ref, cur_ref = podutil.controller_of(old), podutil.controller_of(cur)
        ref_changed = old_ref != cur_ref
        if ref_changed and old_ref is not None:
            job = self._job_for(old, old_ref)
            if job is not None:
                if finalizer_removed:
                    self.finalizer_expectations.observed(object_key(job), job_pods.uid(cur))
                self.enqueue(job)
        if cur_ref is not None:
            job = self._job_for(cur, cur_ref)
            if job is not None:
                if finalizer_removed:
                    self.finalizer_expectations.observed(object_key(job), job_pods.uid(cur))
                self.enqueue(job)
            return
        if job_pods.has_tracking_finalizer(cur):
            self._enqueue_orphan(cur)
        if ref_changed or old_meta.get("labels") != cur_meta.get("labels"):
            for job in self._jobs_selecting(cur):
                self.enqueue(job)

    def _pod_deleted(self, pod: Obj, final: bool) -> None:
        ref = podutil.controller_of(pod)
        has_finalizer = job_pods.has_tracking_finalizer(pod)
        if ref is None:
            if has_finalizer:
                self._enqueue_orphan(pod)
            return
        job = self._job_for(pod, ref)
        if job is None or jc.is_job_finished(job):
            if has_finalizer:
                self._enqueue_orphan(pod)
            return
        key = object_key(job)
        self.expectations.deletion_observed(key, object_key(pod))
        if final or not has_finalizer:
            self.finalizer_expectations.observed(key, job_pods.uid(pod))
        self.queue.add(key)

    def _job_updated(self, old: Obj, cur: Obj) -> None:
        key = object_key(cur)
        self.queue.add(key)
        if jc.is_job_finished(cur):
            self._cleanup_pod_finalizers(cur)
        started = (cur.get("status") or {}).get("startTime")
        deadline = (cur.get("spec") or {}).get("activeDeadlineSeconds")
        if started and deadline is not None and (old.get("spec") or {}).get("activeDeadlineSeconds") != deadline:
            try:
                elapsed = (self.clock.wall() - parse_rfc3339(started)).total_seconds()
            except ValueError:
                return
            self.requeue_after(key, int(deadline) - elapsed)

    def _job_deleted(self, job: Obj) -> None:
        self.queue.add(object_key(job))
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        """Pods of a finished or deleted Job that still carry the finalizer: release them."""
        for pod in self.pods.indexer.by_index(BY_OWNER_UID, (job.get("metadata") or {}).get("uid", "")):
            if podutil.is_controlled_by(pod, job) and job_pods.has_tracking_finalizer(pod):
                self._enqueue_orphan(pod)
