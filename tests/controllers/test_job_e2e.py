"""Job controller end to end: the controller-manager runs it against a real apiserver, and a tiny
stand-in kubelet runs each pod (Pending -> Running -> Succeeded) while a watch checks that no
more than `parallelism` pods are ever active at once."""

from __future__ import annotations

import asyncio
import contextlib

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import JOBS, PODS
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.job_indexes import COMPLETION_INDEX
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import TestApiServer

NS = "default"
POD_SPEC = {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}


def _active(pod) -> bool:
    return pod["status"].get("phase") not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


async def fake_kubelet(client, seen_indexes: list[str]) -> None:
    """Run every new pod for a moment, then let it succeed."""
    done: set[str] = set()
    while True:
        for pod in (await client.list(PODS, NS))["items"]:
            name = pod["metadata"]["name"]
            if name in done or not _active(pod):
                continue
            done.add(name)
            index = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
            if index is not None:
                seen_indexes.append(index)
            status = {"phase": "Succeeded", "containerStatuses": [{
                "name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
            with contextlib.suppress(ApiError):
                await client.patch(PODS, name, {"status": status}, NS, subresource="status")
        await asyncio.sleep(0.02)


async def watch_most_active(client, result: dict) -> None:
    active: set[str] = set()
    async with client.watch(PODS, NS) as events:
        async for event_type, pod in events:
            name = pod["metadata"]["name"]
            if event_type != "DELETED" and _active(pod):
                active.add(name)
            else:
                active.discard(name)
            result["max"] = max(result.get("max", 0), len(active))


@contextlib.asynccontextmanager
async def running_job_controller():
    async with TestApiServer() as srv:
        client = srv.client()
        manager = ControllerManager(srv.client(), {"job": JobController}, leader_elect=False, sync_timeout=5)
        seen: list[str] = []
        most: dict = {}
        tasks = [asyncio.create_task(manager.run()), asyncio.create_task(watch_most_active(client, most))]
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            tasks.append(asyncio.create_task(fake_kubelet(client, seen)))
            yield client, seen, most
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _complete(client, name):
    job = await client.get(JOBS, name, NS)
    return any(c["type"] == "Complete" and c["status"] == "True" for c in (job.get("status") or {}).get("conditions") or [])


async def test_job_with_five_completions_two_at_a_time_completes():
    async with running_job_controller() as (client, _seen, most):
        await client.create(JOBS, {"metadata": {"name": "pi"}, "spec": {
            "completions": 5, "parallelism": 2, "template": {"spec": POD_SPEC}}}, NS)
        for _ in range(500):
            if await _complete(client, "pi"):
                break
            await asyncio.sleep(0.02)
        job = await client.get(JOBS, "pi", NS)
        assert await _complete(client, "pi"), job.get("status")
        assert job["status"]["succeeded"] == 5
        assert most["max"] <= 2
        pods = (await client.list(PODS, NS))["items"]
        assert sum(1 for p in pods if p["status"]["phase"] == "Succeeded") == 5


async def test_indexed_job_runs_every_index_once():
    async with running_job_controller() as (client, seen, most):
        await client.create(JOBS, {"metadata": {"name": "idx"}, "spec": {
            "completions": 4, "parallelism": 4, "completionMode": "Indexed", "template": {"spec": POD_SPEC}}}, NS)
        for _ in range(500):
            if await _complete(client, "idx"):
                break
            await asyncio.sleep(0.02)
        job = await client.get(JOBS, "idx", NS)
        assert job["status"]["completedIndexes"] == "0-3"
        assert sorted(seen) == ["0", "1", "2", "3"]
        assert most["max"] <= 4
