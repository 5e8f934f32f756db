"""The TTL-after-finished controller: delete finished Jobs once spec.ttlSecondsAfterFinished passed.

    Job informer ─► queue "ns/name" (finished Jobs with a TTL, not being deleted) ─► reconcile:
        expires = the Complete/Failed condition's lastTransitionTime + ttlSecondsAfterFinished
        not yet            -> requeue_after(expires - now)
        expired (cached)   -> read the Job fresh from the apiserver and check again (the TTL or
                              the Job itself may have changed), then DELETE it with
                              propagationPolicy Background and the fresh resourceVersion as a
                              precondition, so a Job changed meanwhile is not deleted blindly

Background propagation leaves the pods to the garbage collector, as Kubernetes does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.indexer import split_key
from kybernetes.client.resource import JOBS
from kybernetes.controllers import job_conditions as jc
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def needs_cleanup(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and jc.is_job_finished(job)


def seconds_left(job: Obj, now: datetime) -> float | None:
    """Seconds until ``job`` expires (<= 0: expired); None if it is not due for cleanup at all."""
    if (job.get("metadata") or {}).get("deletionTimestamp") or not needs_cleanup(job):
        return None
    finished = jc.job_finish_time(job)
    if finished is None:
        return None
    if finished > now:
        log.warning("job %s/%s finished in the future (%s): clock skew?", (job.get("metadata") or {}).get("namespace"),
                    (job.get("metadata") or {}).get("name"), finished.isoformat())
    ttl = int((job.get("spec") or {}).get("ttlSecondsAfterFinished") or 0)
    return ttl - (now - finished).total_seconds()


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.jobs = ctx.informer(JOBS)
        self.jobs.add_event_handler(on_add=self._job_changed, on_update=lambda _old, new: self._job_changed(new))

    def _job_changed(self, job: Obj) -> None:
        if not (job.get("metadata") or {}).get("deletionTimestamp") and needs_cleanup(job):
            self.enqueue(job)

    async def reconcile(self, key: str) -> None:
        namespace, name = split_key(key)
        job = self.jobs.get(key)
        if job is None:
            return
        left = seconds_left(job, self.clock.wall())
        if left is None:
            return
        if left > 0:
            self.requeue_after(key, left)
            return
        # The cache says expired; the cache may be stale. Check the Job as it is now.
        fresh = await self.client.get_or_none(JOBS, name, namespace)
        if fresh is None:
            return
        left = seconds_left(fresh, self.clock.wall())
        if left is None:
            return
        if left > 0:
            self.requeue_after(key, left)
            return
        log.info("cleaning up job %s (ttlSecondsAfterFinished passed)", key)
        try:
            await self.client.delete(JOBS, name, namespace, propagation_policy="Background",
                                     preconditions={"resourceVersion": fresh["metadata"]["resourceVersion"]})
        except ApiError as e:
            if e.code == 404:
                return
            raise
