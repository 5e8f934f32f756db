"""TTL-after-finished controller on a FakeClock: a finished Job with ttlSecondsAfterFinished is
deleted (propagationPolicy Background, resourceVersion precondition) once the TTL has passed."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import JOBS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.ttl_after_finished import TTLAfterFinishedController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
POD_TEMPLATE = {"spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}}


class DeleteRecordingClient(RecordingClient):
    """Also keeps the options of each delete (the base records only the verb)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.delete_options: list[dict] = []

    async def delete(self, resource, name, namespace=None, **kw):
        self.delete_options.append(kw)
        return await super().delete(resource, name, namespace, **kw)


@contextlib.asynccontextmanager
async def harness():
    async with TestApiServer() as srv:
        client = DeleteRecordingClient(srv.url, qps=0)
        informers = SharedInformerFactory(client)
        clock = FakeClock(start=datetime.now(UTC).replace(microsecond=0))
        ctrl = TTLAfterFinishedController(ControllerContext(client, informers, clock))
        try:
            informers.start()
            assert await informers.wait_for_cache_sync(5)
            yield srv.client(), ctrl, clock, client
        finally:
            await informers.shutdown()
            await client.close()


async def create_finished_job(seed, clock, name="pi", ttl=100, condition="Complete"):
    spec = {"template": POD_TEMPLATE}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    job = await seed.create(JOBS, {"metadata": {"name": name}, "spec": spec}, NS)
    now = clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
    job["status"] = {"startTime": now, "conditions": [{"type": condition, "status": "True", "lastTransitionTime": now}]}
    return await seed.update_status(JOBS, job)


async def seen(ctrl, job):
    rv = job["metadata"]["resourceVersion"]
    key = f"{NS}/{job['metadata']['name']}"
    await eventually(lambda: (ctrl.jobs.get(key) or {}).get("metadata", {}).get("resourceVersion") == rv,
                     what="informer to see the finished job")


async def test_deletes_the_job_once_the_ttl_has_passed():
    async with harness() as (seed, ctrl, clock, client):
        job = await create_finished_job(seed, clock, ttl=100)
        await seen(ctrl, job)
        assert f"{NS}/pi" in ctrl.queue
        await ctrl.process_one()
        assert client.verbs_on("jobs") == []
        assert ctrl.queue.waiting == 1  # asked to look again when the TTL runs out
        await clock.advance(99)
        assert len(ctrl.queue) == 0
        await clock.advance(1)
        await ctrl.process_one()
        assert client.verbs_on("jobs") == ["delete"]
        assert client.delete_options == [{"propagation_policy": "Background",
                                          "preconditions": {"resourceVersion": job["metadata"]["resourceVersion"]}}]
        assert await seed.get_or_none(JOBS, "pi", NS) is None


async def test_failed_jobs_expire_too_and_unfinished_or_ttl_less_jobs_stay():
    async with harness() as (seed, ctrl, clock, client):
        failed = await create_finished_job(seed, clock, name="failed", ttl=0, condition="Failed")
        no_ttl = await create_finished_job(seed, clock, name="keep", ttl=None)
        running = await seed.create(JOBS, {"metadata": {"name": "running"},
                                           "spec": {"ttlSecondsAfterFinished": 0, "template": POD_TEMPLATE}}, NS)
        for job in (failed, no_ttl, running):
            await seen(ctrl, job)
        while len(ctrl.queue):
            await ctrl.process_one()
        assert [(a.verb, a.name) for a in client.actions] == [("delete", "failed")]
        assert await seed.get_or_none(JOBS, "keep", NS) is not None
        assert await seed.get_or_none(JOBS, "running", NS) is not None


async def test_a_ttl_raised_before_expiry_is_honoured():
    async with harness() as (seed, ctrl, clock, client):
        job = await create_finished_job(seed, clock, ttl=10)
        await seen(ctrl, job)
        await ctrl.process_one()
        job = await seed.patch(JOBS, "pi", {"spec": {"ttlSecondsAfterFinished": 1000}}, NS)
        await seen(ctrl, job)
        await clock.advance(10)
        while len(ctrl.queue):
            await ctrl.process_one()
        assert client.verbs_on("jobs") == []
        assert await seed.get_or_none(JOBS, "pi", NS) is not None
