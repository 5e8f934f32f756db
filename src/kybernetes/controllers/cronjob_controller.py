"""The CronJob controller: start a Job at each scheduled time, keep a short history of them.

    CronJob informer ──┐
    Job informer ──────┴─► queue "ns/name" ─► reconcile:
        1. the Jobs it controls: drop finished ones from status.active (SawCompletedJob), note
           lastSuccessfulTime, drop references to Jobs that vanished (MissingJob)
        2. delete the oldest finished Jobs beyond successfulJobsHistoryLimit (default 3) and
           failedJobsHistoryLimit (default 1)
        3. unless suspended, deleting or misconfigured: find the most recent scheduled time not
           yet run (cronjob_schedule); too late for startingDeadlineSeconds -> MissSchedule;
           Forbid with a Job still active -> skip; Replace -> delete the active Jobs first;
           then create "<cronjob>-<minutes since epoch>" and record it in status.active and
           status.lastScheduleTime
        4. write the status if it changed, and requeue for just after the next scheduled time

Time is self.clock's wall time and schedules are read in spec.timeZone (UTC when unset), so tests
run a whole day of an hourly CronJob on a FakeClock in milliseconds.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kybernetes.api.cron import CronError, load_time_zone, parse_schedule
from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy, format_rfc3339
from kybernetes.client.indexer import BY_NAMESPACE, object_key, split_key
from kybernetes.client.resource import CRONJOBS, JOBS
from kybernetes.controllers import cronjob_schedule as cs
from kybernetes.controllers import job_conditions as jc
from kybernetes.controllers import podutil
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class CronJobController(Controller):
    name = "cronjob-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.cronjobs = ctx.informer(CRONJOBS)
        self.jobs = ctx.informer(JOBS)
        self.cronjobs.add_event_handler(on_add=self.enqueue, on_update=self._cronjob_updated, on_delete=self.enqueue)
        self.jobs.add_event_handler(on_add=self._job_changed, on_update=self._job_updated,
                                    on_delete=self._job_changed)

    # -- event handlers --------------------------------------------------------------------------

    def _owner_of(self, job: Obj, ref: Obj | None = None) -> Obj | None:
        ref = ref if ref is not None else podutil.controller_of(job)
        if ref is None or ref.get("kind") != "CronJob":
            return None
        owner = self.cronjobs.get_by_name((job.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if owner is None or (owner.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return owner

    def _job_changed(self, job: Obj) -> None:
        owner = self._owner_of(job)
        if owner is not None:
            self.enqueue(owner)

    def _job_updated(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        old_ref, cur_ref = podutil.controller_of(old), podutil.controller_of(cur)
        if old_ref != cur_ref and old_ref is not None:
            owner = self._owner_of(old, old_ref)
            if owner is not None:
                self.enqueue(owner)
        self._job_changed(cur)

    def _cronjob_updated(self, old: Obj, cur: Obj) -> None:
        old_spec, cur_spec = old.get("spec") or {}, cur.get("spec") or {}
        if (old_spec.get("schedule"), old_spec.get("timeZone")) == (cur_spec.get("schedule"), cur_spec.get("timeZone")):
            self.enqueue(cur)
            return
        # A new schedule: look again when it next fires (sooner than the old one, perhaps).
        try:
            schedule = parse_schedule(cur_spec.get("schedule") or "")
            zone = load_time_zone(cur_spec.get("timeZone"))
        except CronError:
            self.enqueue(cur)  # the sync reports the problem as an event
            return
        delay = cs.next_schedule_delay(cur, self.clock.wall(), schedule, zone)
        if delay is not None:
            self.requeue_after(object_key(cur), delay)

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, name = split_key(key)
        shared = self.cronjobs.get(key)
        if shared is None:
            return
        jobs = [j for j in self.jobs.indexer.by_index(BY_NAMESPACE, namespace)
                if (podutil.controller_of(j) or {}).get("name") == name]
        cronjob = deep_copy(shared)
        cronjob.setdefault("apiVersion", "batch/v1")
        cronjob.setdefault("kind", "CronJob")
        cronjob.setdefault("status", {})
        changed = await self._cleanup_finished_jobs(cronjob, jobs)
        requeue: float | None = None
        error: Exception | None = None
        try:
            cronjob, requeue, synced = await self._sync(cronjob, jobs)
            changed = changed or synced
        except Exception as e:  # noqa: BLE001 - the status is still written, then it is retried
            error = e
            changed = True
        if changed:
            body = dict(cronjob)
            status = dict(cronjob.get("status") or {})
            if not status.get("active"):
                status.pop("active", None)
            body["status"] = status
            await self.client.update_status(CRONJOBS, body)
        if requeue is not None:
            self.queue.forget(key)
            self.requeue_after(key, requeue)
            return
        if error is not None:
            raise error

    async def _sync(self, cronjob: Obj, jobs: list[Obj]) -> tuple[Obj, float | None, bool]:
        """Steps 1 and 3; the (possibly refreshed) CronJob, the requeue delay, whether status changed."""
        now = self.clock.wall()
        changed = False
        status = cronjob["status"]
        children = set()
        for job in jobs:
            uid = (job.get("metadata") or {}).get("uid")
            children.add(uid)
            found = _in_active_list(cronjob, uid)
            if not found and not jc.is_job_finished(job):
                meta = cronjob["metadata"]
                fresh = await self.client.get(CRONJOBS, meta["name"], meta.get("namespace"))
                if _in_active_list(fresh, uid):
                    cronjob, status = fresh, fresh.setdefault("status", {})
                    continue
                await self.events.warning(cronjob, "UnexpectedJob", "Saw a job that the controller did not create "
                                          f"or forgot: {job['metadata']['name']}")
            elif jc.is_job_finished(job):
                if found:
                    _delete_from_active_list(cronjob, uid)
                    cond = jc.finished_condition(job) or {}
                    await self.events.normal(cronjob, "SawCompletedJob", f"Saw completed job: "
                                             f"{job['metadata']['name']}, condition: {cond.get('type')}")
                    changed = True
                if jc.is_job_succeeded(job):
                    done = (job.get("status") or {}).get("completionTime")
                    last = cs.parse_time(status.get("lastSuccessfulTime"))
                    done_at = cs.parse_time(done)
                    if done_at is not None and (last is None or done_at > last):
                        status["lastSuccessfulTime"] = done
                        changed = True
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            missing = await self.client.get_or_none(JOBS, ref.get("name", ""), ref.get("namespace"))
            if missing is None:
                await self.events.normal(cronjob, "MissingJob", f"Active job went missing: {ref.get('name')}")
                _delete_from_active_list(cronjob, ref.get("uid"))
                changed = True
        requeue, started = await self._start_due_job(cronjob, now)
        return cronjob, requeue, changed or started

    async def _start_due_job(self, cronjob: Obj, now: datetime) -> tuple[float | None, bool]:
        spec = cronjob.get("spec") or {}
        if (cronjob.get("metadata") or {}).get("deletionTimestamp"):
            return None, False
        try:
            zone = load_time_zone(spec.get("timeZone"))
        except CronError as e:
            await self.events.warning(cronjob, "UnknownTimeZone", f'invalid timeZone: "{spec.get("timeZone")}": {e}')
            return None, False
        if spec.get("suspend"):
            return None, False
        try:
            schedule = parse_schedule(spec.get("schedule") or "")
        except CronError as e:
            await self.events.warning(cronjob, "UnparseableSchedule",
                                      f'unparseable schedule: "{spec.get("schedule")}" : {e}')
            return None, False
        try:
            due = cs.next_schedule_time(cronjob, now, schedule, zone)
        except CronError as e:
            await self.events.warning(cronjob, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}")
            return None, False
        requeue = cs.next_schedule_delay(cronjob, now, schedule, zone)
        if due is None:
            return requeue, False
        if due.missed > cs.MANY_MISSED:
            await self.events.warning(cronjob, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                      ".spec.startingDeadlineSeconds or check clock skew")
        scheduled = due.most_recent
        assert scheduled is not None
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and (now - scheduled).total_seconds() > int(deadline):
            await self.events.warning(cronjob, "MissSchedule",
                                      f"Missed scheduled time to start a job: {cs.rfc1123z(scheduled)}")
            return requeue, False
        name = cs.job_name(cronjob, scheduled)
        status = cronjob["status"]
        if any(r.get("name") == name for r in status.get("active") or []) or cs.last_schedule_time(cronjob) == scheduled:
            return requeue, False
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            await self.events.normal(cronjob, "JobAlreadyActive", "Not starting job because prior execution is "
                                     "running and concurrency policy is Forbid")
            return requeue, False
        changed = False
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    job = await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace"))
                except ApiError as e:
                    await self.events.warning(cronjob, "FailedGet", f"Get job: {e.message}")
                    raise
                if not await self.delete_job(cronjob, job):
                    raise RuntimeError(f"could not replace job {ref.get('namespace')}/{ref.get('name')}")
                changed = True
        job = await self._create_job(cronjob, scheduled, zone)
        if job is None:
            return None, changed
        status.setdefault("active", []).append(cs.job_reference(job))
        status["lastScheduleTime"] = format_rfc3339(scheduled)
        return requeue, True

    async def _create_job(self, cronjob: Obj, scheduled: datetime, zone) -> Obj | None:
        """Create the Job for ``scheduled``; None when it exists and needs no status change."""
        request = cs.job_from_template(cronjob, scheduled, zone)
        namespace = (cronjob.get("metadata") or {}).get("namespace")
        try:
            job = await self.client.create(JOBS, request, namespace)
        except ApiError as e:
            if e.code != 409 or e.reason != "AlreadyExists":
                if not (e.code == 403 and "being terminated" in (e.message or "")):
                    await self.events.warning(cronjob, "FailedCreate", f"Error creating job: {e.message}")
                raise
            # Created before (a status write was lost, say): record it unless someone else owns it.
            job = await self.client.get(JOBS, request["metadata"]["name"], namespace)
            if not podutil.is_controlled_by(job, cronjob) or _in_active_list(cronjob, job["metadata"]["uid"]):
                return None
            return job
        await self.events.normal(cronjob, "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        return job

    async def delete_job(self, cronjob: Obj, job: Obj) -> bool:
        meta = job.get("metadata") or {}
        try:
            await self.client.delete(JOBS, meta.get("name", ""), meta.get("namespace"), propagation_policy="Background")
        except ApiError as e:
            await self.events.warning(cronjob, "FailedDelete", f"Deleted job: {e.message}")
            return False
        _delete_from_active_list(cronjob, meta.get("uid"))
        await self.events.normal(cronjob, "SuccessfulDelete", f"Deleted job {meta.get('name')}")
        return True

    async def _cleanup_finished_jobs(self, cronjob: Obj, jobs: list[Obj]) -> bool:
        spec = cronjob.get("spec") or {}
        changed = False
        for kind, limit_field in ((jc.COMPLETE, "successfulJobsHistoryLimit"), (jc.FAILED, "failedJobsHistoryLimit")):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            finished = [j for j in jobs if (jc.finished_condition(j) or {}).get("type") == kind
                        and not (j.get("metadata") or {}).get("deletionTimestamp")]
            surplus = len(finished) - int(limit)
            for job in sorted(finished, key=cs.job_start_order)[:max(surplus, 0)]:
                if await self.delete_job(cronjob, job):
                    changed = True
        return changed


def _in_active_list(cronjob: Obj, uid: Any) -> bool:
    return any(ref.get("uid") == uid for ref in (cronjob.get("status") or {}).get("active") or [])


def _delete_from_active_list(cronjob: Obj, uid: Any) -> None:
    status = cronjob.setdefault("status", {})
    status["active"] = [ref for ref in status.get("active") or [] if ref.get("uid") != uid]
