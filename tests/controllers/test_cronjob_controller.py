"""CronJob controller on a FakeClock: each test moves time to the next scheduled minute, runs the
sync the queue would run, and checks the Jobs created or deleted and the CronJob's status."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import CRONJOBS, EVENTS, JOBS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.cronjob_controller import CronJobController
from kybernetes.controllers.cronjob_schedule import SCHEDULED_TIMESTAMP
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
JOB_TEMPLATE = {"metadata": {"labels": {"team": "data"}},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "work", "image": "busybox"}]}}}}


class Harness:
    def __init__(self, srv: TestApiServer):
        self.client = RecordingClient(srv.url, qps=0)
        self.seed = srv.client()
        self.clock = FakeClock(start=datetime.now(UTC).replace(microsecond=0))
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = CronJobController(ControllerContext(self.client, self.informers, self.clock))

    async def create_cronjob(self, name="cj", schedule="* * * * *", **spec):
        body = {"metadata": {"name": name}, "spec": {"schedule": schedule, "jobTemplate": JOB_TEMPLATE, **spec}}
        obj = await self.seed.create(CRONJOBS, body, NS)
        await self.settle()
        return obj

    async def settle(self):
        for informer, resource in ((self.ctrl.cronjobs, CRONJOBS), (self.ctrl.jobs, JOBS)):
            items = (await self.seed.list(resource, NS))["items"]
            want = {f"{NS}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in items}

            def caught_up(informer=informer, want=want):
                return {k: informer.get(k)["metadata"]["resourceVersion"] for k in informer.indexer.keys()} == want

            await eventually(caught_up, what=f"{resource} cache to catch up")

    async def sync(self, name="cj"):
        await self.settle()
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/{name}")
        await self.settle()

    async def until_due(self, name="cj"):
        """Advance the clock to when the controller asked to look at the CronJob again."""
        ready = self.ctrl.queue._ready_at[f"{NS}/{name}"]
        await self.clock.advance(ready - self.clock.now())
        assert f"{NS}/{name}" in self.ctrl.queue

    async def cronjob(self, name="cj"):
        return await self.seed.get(CRONJOBS, name, NS)

    async def jobs(self):
        return sorted((await self.seed.list(JOBS, NS))["items"], key=lambda j: j["metadata"]["name"])

    async def finish_job(self, job, condition="Complete", started=None):
        job = await self.seed.get(JOBS, job["metadata"]["name"], NS)
        now = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"startTime": started or now, "conditions": [
            {"type": "SuccessCriteriaMet" if condition == "Complete" else "FailureTarget", "status": "True",
             "lastTransitionTime": now},
            {"type": condition, "status": "True", "lastTransitionTime": now}]}
        if condition == "Complete":
            status["completionTime"] = now
            status["succeeded"] = 1
        job["status"] = status
        await self.seed.update_status(JOBS, job)

    async def events(self, name="cj"):
        items = (await self.seed.list(EVENTS, NS))["items"]
        return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


@contextlib.asynccontextmanager
async def harness():
    async with TestApiServer() as srv:
        h = Harness(srv)
        try:
            h.informers.start()
            assert await h.informers.wait_for_cache_sync(5)
            yield h
        finally:
            await h.informers.shutdown()
            await h.client.close()


def minute_after(moment: datetime) -> datetime:
    return moment.replace(second=0) + timedelta(minutes=1)


async def test_fires_at_the_next_scheduled_minute_and_records_it():
    async with harness() as h:
        cj = await h.create_cronjob()
        await h.sync()
        assert await h.jobs() == []
        due = minute_after(h.clock.wall())
        ready = h.ctrl.queue._ready_at[f"{NS}/cj"]
        assert abs((ready - h.clock.now()) - ((due - h.clock.wall()).total_seconds() + 0.1)) < 1e-6
        await h.until_due()
        await h.sync()
        [job] = await h.jobs()
        minutes = int(due.timestamp()) // 60
        assert job["metadata"]["name"] == f"cj-{minutes}"
        assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert job["metadata"]["labels"]["team"] == "data"
        ref = job["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("CronJob", "cj", cj["metadata"]["uid"], True)
        status = (await h.cronjob())["status"]
        assert status["lastScheduleTime"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert [(r["kind"], r["name"], r["uid"]) for r in status["active"]] == [
            ("Job", job["metadata"]["name"], job["metadata"]["uid"])]
        assert ("SuccessfulCreate", f"Created job {job['metadata']['name']}") in await h.events()
        # The same scheduled time again creates nothing.
        await h.sync()
        assert len(await h.jobs()) == 1


async def test_completed_job_leaves_active_and_sets_last_successful_time():
    async with harness() as h:
        await h.create_cronjob()
        await h.sync()
        await h.until_due()
        await h.sync()
        [job] = await h.jobs()
        await h.clock.advance(5)
        await h.finish_job(job)
        await h.sync()
        status = (await h.cronjob())["status"]
        assert "active" not in status
        assert status["lastSuccessfulTime"] == h.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        assert ("SawCompletedJob", f"Saw completed job: {job['metadata']['name']}, condition: Complete") in \
            await h.events()


async def test_forbid_skips_while_a_job_runs():
    async with harness() as h:
        await h.create_cronjob(concurrencyPolicy="Forbid")
        await h.sync()
        await h.until_due()
        await h.sync()
        await h.until_due()
        await h.sync()
        assert len(await h.jobs()) == 1
        assert ("JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy "
                "is Forbid") in await h.events()


async def test_allow_runs_jobs_side_by_side():
    async with harness() as h:
        await h.create_cronjob(concurrencyPolicy="Allow")
        for _ in range(2):
            await h.sync()
            await h.until_due()
        await h.sync()
        assert len(await h.jobs()) == 2
        assert len((await h.cronjob())["status"]["active"]) == 2


async def test_replace_deletes_the_running_job_first():
    async with harness() as h:
        await h.create_cronjob(concurrencyPolicy="Replace")
        await h.sync()
        await h.until_due()
        await h.sync()
        [first] = await h.jobs()
        await h.until_due()
        await h.sync()
        [second] = await h.jobs()
        assert [(a.verb, a.name) for a in h.client.actions if a.resource == "jobs"] == [
            ("delete", first["metadata"]["name"]), ("create", second["metadata"]["name"])]
        assert second["metadata"]["name"] != first["metadata"]["name"]
        assert [r["name"] for r in (await h.cronjob())["status"]["active"]] == [second["metadata"]["name"]]
        assert ("SuccessfulDelete", f"Deleted job {first['metadata']['name']}") in await h.events()


async def test_history_limits_delete_the_oldest_finished_jobs():
    async with harness() as h:
        await h.create_cronjob(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
        await h.sync()
        created = []
        for i in range(5):
            await h.until_due()
            await h.sync()
            newest = (await h.jobs())[-1]
            created.append(newest["metadata"]["name"])
            await h.clock.advance(1)
            await h.finish_job(newest, "Failed" if i in (1, 3) else "Complete")
        await h.sync()
        # Complete: 0, 2, 4 -> the newest two stay; Failed: 1, 3 -> the newest one stays.
        assert [j["metadata"]["name"] for j in await h.jobs()] == [created[2], created[3], created[4]]
        events = await h.events()
        assert ("SuccessfulDelete", f"Deleted job {created[0]}") in events
        assert ("SuccessfulDelete", f"Deleted job {created[1]}") in events


async def test_time_zone_schedule_fires_at_local_time():
    async with harness() as h:
        await h.create_cronjob(schedule="30 9 * * *", timeZone="Asia/Tokyo")
        await h.sync()
        await h.until_due()
        await h.sync()
        [job] = await h.jobs()
        stamp = job["metadata"]["annotations"][SCHEDULED_TIMESTAMP]
        assert stamp.endswith("T09:30:00+09:00")
        scheduled = datetime.fromisoformat(stamp)
        assert job["metadata"]["name"] == f"cj-{int(scheduled.timestamp()) // 60}"
        assert abs((h.clock.wall() - scheduled).total_seconds()) < 1


async def test_suspended_cronjob_starts_nothing():
    async with harness() as h:
        await h.create_cronjob(suspend=True)
        await h.sync()
        await h.clock.advance(120)
        await h.sync()
        assert await h.jobs() == []
        assert h.ctrl.queue.waiting == 0


async def test_starting_deadline_skips_runs_that_are_too_late():
    async with harness() as h:
        await h.create_cronjob(schedule="0 * * * *", startingDeadlineSeconds=60)
        await h.sync()
        await h.until_due()
        await h.clock.advance(600)  # the controller was away for ten minutes past the hour
        await h.sync()
        assert await h.jobs() == []
        await h.until_due()  # the next hour, on time
        await h.sync()
        assert len(await h.jobs()) == 1


async def test_too_many_missed_start_times_warns_and_runs_the_latest():
    async with harness() as h:
        await h.create_cronjob()
        await h.clock.advance(200 * 60)
        await h.sync()
        assert ("TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew") in await h.events()
        [job] = await h.jobs()
        latest = h.clock.wall().replace(second=0)
        assert job["metadata"]["name"] == f"cj-{int(latest.timestamp()) // 60}"


async def test_invalid_time_zone_is_reported_not_run():
    async with harness() as h:
        await h.create_cronjob()
        cj = await h.cronjob()
        cj["spec"]["timeZone"] = "Mars/Olympus_Mons"
        try:
            await h.seed.update(CRONJOBS, cj)
        except Exception:  # noqa: BLE001 - the API refused it: nothing for the controller to see
            return
        await h.clock.advance(120)
        await h.sync()
        assert await h.jobs() == []
        assert any(reason == "UnknownTimeZone" for reason, _ in await h.events())
