"""CronJob, Job and TTL-after-finished controllers together in a controller-manager on a FakeClock:
the CronJob fires at the next minute, its Job's pod runs (a stand-in kubelet marks it Succeeded),
the Job completes, the CronJob records the success, and the TTL controller deletes the Job."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import CRONJOBS, JOBS, PODS
from kybernetes.controllers.cronjob_controller import CronJobController
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.ttl_after_finished import TTLAfterFinishedController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.util.clock import FakeClock

NS = "default"


async def succeed_pods(client) -> None:
    while True:
        for pod in (await client.list(PODS, NS))["items"]:
            if pod["status"].get("phase") in ("Succeeded", "Failed") or pod["metadata"].get("deletionTimestamp"):
                continue
            status = {"phase": "Succeeded", "containerStatuses": [{
                "name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
            with contextlib.suppress(ApiError):
                await client.patch(PODS, pod["metadata"]["name"], {"status": status}, NS, subresource="status")
        await asyncio.sleep(0.02)


async def wait_for(predicate, clock, timeout=10.0):
    """Poll in real time; nudge the fake clock a little each round so the controllers' short
    retry delays (409 on a stale cache, say) still elapse."""
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await clock.advance(0.01)
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_cronjob_fires_job_completes_and_ttl_removes_it():
    # one second into a minute: the 61 s step below crosses exactly one minute boundary (from
    # :59 it crossed two, and the CronJob rightly made two Jobs), the later steps none
    clock = FakeClock(start=datetime.now(UTC).replace(second=1, microsecond=0))
    async with TestApiServer() as srv:
        client = srv.client()
        manager = ControllerManager(srv.client(), {"cronjob": CronJobController, "job": JobController,
                                                   "ttl-after-finished": TTLAfterFinishedController},
                                    clock=clock, leader_elect=False, sync_timeout=5)
        tasks = [asyncio.create_task(manager.run()), asyncio.create_task(succeed_pods(client))]
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            await client.create(CRONJOBS, {"metadata": {"name": "tick"}, "spec": {
                "schedule": "* * * * *", "jobTemplate": {"spec": {
                    "ttlSecondsAfterFinished": 30,
                    "template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "work", "image": "busybox"}]}}}}}}, NS)
            await asyncio.sleep(0.2)
            assert (await client.list(JOBS, NS))["items"] == []
            await clock.advance(61)

            async def job_complete():
                jobs = (await client.list(JOBS, NS))["items"]
                return len(jobs) == 1 and any(c["type"] == "Complete" for c in (jobs[0].get("status") or {}).get("conditions") or [])

            await wait_for(job_complete, clock)

            async def success_recorded():
                status = (await client.get(CRONJOBS, "tick", NS)).get("status") or {}
                return "lastSuccessfulTime" in status and not status.get("active")

            await wait_for(success_recorded, clock)
            job_name = (await client.list(JOBS, NS))["items"][0]["metadata"]["name"]
            assert await client.get_or_none(JOBS, job_name, NS) is not None  # the TTL has not passed yet
            await clock.advance(31)

            async def job_gone():
                return await client.get_or_none(JOBS, job_name, NS) is None

            await wait_for(job_gone, clock)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
