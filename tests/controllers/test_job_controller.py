"""Job controller, reconcile as a step: seed the caches through the real apiserver, run one sync,
assert the actions taken (RecordingClient) and the Job's status; pods finish because the test
marks them Succeeded / Failed through the status subresource, as a kubelet would."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import EVENTS, JOBS, PODS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.job_indexes import COMPLETION_INDEX
from kybernetes.controllers.job_pods import TRACKING_FINALIZER
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
POD_SPEC = {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox"}]}


class Harness:
    def __init__(self, srv: TestApiServer):
        self.client = RecordingClient(srv.url, qps=0)
        self.seed = srv.client()
        # Timestamps the apiserver writes are real time: start the fake clock there too.
        self.clock = FakeClock(start=datetime.now(UTC).replace(microsecond=0))
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = JobController(ControllerContext(self.client, self.informers, self.clock))

    async def create_job(self, name="pi", **spec):
        body = {"metadata": {"name": name}, "spec": {"template": {"spec": POD_SPEC}, **spec}}
        job = await self.seed.create(JOBS, body, NS)
        await self.settle()
        return job

    async def settle(self):
        """Wait until both caches hold exactly what the server holds."""
        for informer, resource in ((self.ctrl.jobs, JOBS), (self.ctrl.pods, PODS)):
            items = (await self.seed.list(resource, NS))["items"]
            want = {f"{NS}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in items}

            def caught_up(informer=informer, want=want):
                have = {k: (informer.get(k) or {}).get("metadata", {}).get("resourceVersion")
                        for k in informer.indexer.keys()}
                return have == want

            await eventually(caught_up, what=f"{resource} cache to catch up")

    async def sync(self, name="pi"):
        await self.settle()
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/{name}")
        await self.settle()

    async def job(self, name="pi"):
        return await self.seed.get(JOBS, name, NS)

    async def pods(self, name="pi"):
        job = await self.job(name)
        items = (await self.seed.list(PODS, NS))["items"]
        return sorted((p for p in items if any(r["uid"] == job["metadata"]["uid"]
                                               for r in p["metadata"].get("ownerReferences") or [])),
                      key=lambda p: p["metadata"]["name"])

    async def active_pods(self, name="pi"):
        return [p for p in await self.pods(name)
                if p["status"].get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")]

    async def finish(self, pod, phase="Succeeded", exit_code=0, conditions=None):
        finished_at = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"phase": phase, "containerStatuses": [{
            "name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                     "finishedAt": finished_at, "startedAt": finished_at}}}]}
        if conditions:
            status["conditions"] = conditions
        await self.seed.patch(PODS, pod["metadata"]["name"], {"status": status}, NS, subresource="status")

    def pod_verbs(self):
        return [a.verb for a in self.client.actions if a.resource == "pods"]

    async def events(self, name="pi"):
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


def condition_types(job):
    return [(c["type"], c["status"], c.get("reason")) for c in job["status"].get("conditions") or []]


async def test_creates_parallelism_pods_with_finalizer_and_owner():
    async with harness() as h:
        job = await h.create_job(completions=5, parallelism=2)
        await h.sync()
        assert h.pod_verbs() == ["create", "create"]
        pods = await h.pods()
        assert len(pods) == 2
        for pod in pods:
            assert TRACKING_FINALIZER in pod["metadata"]["finalizers"]
            assert pod["metadata"]["generateName"] == "pi-"
            ref = pod["metadata"]["ownerReferences"][0]
            assert (ref["kind"], ref["uid"], ref["controller"]) == ("Job", job["metadata"]["uid"], True)
        status = (await h.job())["status"]
        assert status["active"] == 2 and status["ready"] == 0 and status["terminating"] == 0
        assert status["startTime"] and status["uncountedTerminatedPods"] == {}
        # Nothing changed: a second sync (expectations met) creates nothing more.
        await h.sync()
        assert h.pod_verbs() == []
        assert ("SuccessfulCreate", f"Created pod: {pods[0]['metadata']['name']}") in await h.events()


async def test_completions_five_parallelism_two_completes_never_more_than_two_active():
    async with harness() as h:
        await h.create_job(completions=5, parallelism=2)
        most_active = 0
        for _ in range(12):
            await h.sync()
            active = await h.active_pods()
            most_active = max(most_active, len(active))
            job = await h.job()
            if any(c["type"] == "Complete" for c in job["status"].get("conditions") or []):
                break
            for pod in active:
                await h.finish(pod)
        job = await h.job()
        assert most_active == 2
        assert condition_types(job) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                         ("Complete", "True", "CompletionsReached")]
        status = job["status"]
        assert status["succeeded"] == 5 and "failed" not in status and "active" not in status
        assert status["completionTime"] and status["uncountedTerminatedPods"] == {}
        # Every pod was counted, so no pod still carries the tracking finalizer.
        assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in await h.pods())
        assert ("Completed", "Job completed") in await h.events()


async def test_finished_pods_are_counted_through_uncounted_then_finalizer_removal():
    async with harness() as h:
        await h.create_job(completions=2, parallelism=2)
        await h.sync()
        first, second = await h.pods()
        await h.finish(first)
        await h.sync()
        # Status first lists the uid as uncounted, then the finalizer goes, then it is counted.
        updates = [a for a in h.client.actions if a.resource == "jobs/status"]
        assert updates[0].body["status"]["uncountedTerminatedPods"] == {"succeeded": [first["metadata"]["uid"]]}
        assert [(a.verb, a.name) for a in h.client.actions if a.resource == "pods"] == [
            ("patch", first["metadata"]["name"])]
        status = (await h.job())["status"]
        assert status["succeeded"] == 1 and status["uncountedTerminatedPods"] == {}
        # A deleted pod is still counted: the finalizer kept it until the controller saw it.
        await h.seed.delete(PODS, second["metadata"]["name"], NS)
        await h.sync()
        status = (await h.job())["status"]
        assert status["failed"] == 1
        assert await h.seed.get_or_none(PODS, second["metadata"]["name"], NS) is None


async def test_failures_up_to_backoff_limit_then_failed():
    async with harness() as h:
        await h.create_job(completions=1, parallelism=1, backoffLimit=2)
        await h.sync()
        for failures in range(1, 4):
            [pod] = await h.active_pods()
            await h.finish(pod, "Failed", exit_code=1)
            await h.sync()  # counts the failure; backs off before replacing the pod
            assert (await h.job())["status"]["failed"] == failures
            if failures < 3:
                assert await h.active_pods() == []
                await h.clock.advance(h.ctrl.queue._waiting[0][0] - h.clock.now())
                assert "default/pi" in h.ctrl.queue
                await h.sync()
        await h.sync()
        job = await h.job()
        assert condition_types(job) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                         ("Failed", "True", "BackoffLimitExceeded")]
        assert job["status"]["failed"] == 3
        failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
        assert failed["message"] == "Job has reached the specified backoff limit"
        assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in await h.events()


async def test_backoff_delay_doubles_from_ten_seconds():
    async with harness() as h:
        await h.create_job(completions=1, parallelism=1, backoffLimit=6)
        await h.sync()
        delays = []
        for _ in range(3):
            [pod] = await h.active_pods()
            await h.finish(pod, "Failed", exit_code=1)
            await h.sync()
            assert await h.active_pods() == []
            ready_at = h.ctrl.queue._waiting[0][0]
            delays.append(round(ready_at - h.clock.now()))
            await h.clock.advance(ready_at - h.clock.now())
            await h.sync()
        assert delays == [10, 20, 40]


async def test_indexed_job_gives_each_pod_its_index_and_completes_all_indexes():
    async with harness() as h:
        await h.create_job(completions=4, parallelism=2, completionMode="Indexed")
        await h.sync()
        pods = await h.pods()
        indexes = sorted(p["metadata"]["annotations"][COMPLETION_INDEX] for p in pods)
        assert indexes == ["0", "1"]
        for pod in pods:
            ix = pod["metadata"]["annotations"][COMPLETION_INDEX]
            assert pod["metadata"]["labels"][COMPLETION_INDEX] == ix
            assert pod["spec"]["hostname"] == f"pi-{ix}"
            assert pod["metadata"]["generateName"] == f"pi-{ix}-"
            env = pod["spec"]["containers"][0]["env"]
            assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}} in env or {
                "name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                    "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}} in env
        # Index 1 succeeds: completedIndexes "1", and index 2 is next.
        await h.finish(next(p for p in pods if p["metadata"]["annotations"][COMPLETION_INDEX] == "1"))
        await h.sync()
        await h.sync()
        status = (await h.job())["status"]
        assert status["completedIndexes"] == "1" and status["succeeded"] == 1
        assert sorted(p["metadata"]["annotations"][COMPLETION_INDEX] for p in await h.active_pods()) == ["0", "2"]
        for _ in range(6):
            for pod in await h.active_pods():
                await h.finish(pod)
            await h.sync()
        job = await h.job()
        assert job["status"]["completedIndexes"] == "0-3"
        assert condition_types(job)[-1] == ("Complete", "True", "CompletionsReached")


async def test_pod_failure_policy_fail_job_on_exit_code():
    async with harness() as h:
        policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "work", "operator": "In",
                                                                    "values": [42]}}]}
        await h.create_job(completions=2, parallelism=2, backoffLimit=6, podFailurePolicy=policy)
        await h.sync()
        first, second = await h.pods()
        await h.finish(first, "Failed", exit_code=42)
        await h.sync()  # FailureTarget set; the other pod deleted (still counted through its finalizer)
        job = await h.job()
        assert condition_types(job) == [("FailureTarget", "True", "PodFailurePolicy")]
        message = job["status"]["conditions"][0]["message"]
        assert message == (f"Container work for pod {NS}/{first['metadata']['name']} failed with exit code 42 "
                           "matching FailJob rule at index 0")
        await h.sync()
        job = await h.job()
        assert condition_types(job)[-1] == ("Failed", "True", "PodFailurePolicy")
        assert job["status"]["failed"] == 2


async def test_pod_failure_policy_ignore_does_not_count_and_count_does():
    async with harness() as h:
        policy = {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}]}
        await h.create_job(completions=1, parallelism=1, backoffLimit=0, podFailurePolicy=policy)
        await h.sync()
        [pod] = await h.pods()
        await h.finish(pod, "Failed", exit_code=137,
                       conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}])
        await h.sync()
        await h.sync()
        job = await h.job()
        assert "failed" not in job["status"] and not job["status"].get("conditions")
        # Still replaced after the usual failure backoff, as Kubernetes does.
        await h.clock.advance(10)
        await h.sync()
        [replacement] = await h.active_pods()
        await h.finish(replacement, "Failed", exit_code=1)
        await h.sync()
        await h.sync()
        job = await h.job()
        assert job["status"]["failed"] == 1
        assert condition_types(job)[-1] == ("Failed", "True", "BackoffLimitExceeded")


async def test_fail_index_with_backoff_limit_per_index():
    async with harness() as h:
        policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}]}
        await h.create_job(completions=2, parallelism=2, completionMode="Indexed", backoffLimitPerIndex=1,
                           podFailurePolicy=policy)
        await h.sync()
        pods = {p["metadata"]["annotations"][COMPLETION_INDEX]: p for p in await h.pods()}
        await h.finish(pods["0"], "Failed", exit_code=3)
        await h.finish(pods["1"])
        await h.sync()
        await h.sync()
        job = await h.job()
        assert job["status"]["failedIndexes"] == "0" and job["status"]["completedIndexes"] == "1"
        assert condition_types(job)[-1] == ("Failed", "True", "FailedIndexes")


async def test_suspend_deletes_active_pods_and_resume_restarts_them():
    async with harness() as h:
        await h.create_job(completions=3, parallelism=3)
        await h.sync()
        assert len(await h.active_pods()) == 3
        await h.seed.patch(JOBS, "pi", {"spec": {"suspend": True}}, NS)
        await h.sync()
        assert await h.active_pods() == []
        job = await h.job()
        assert condition_types(job) == [("Suspended", "True", "JobSuspended")]
        assert "failed" not in job["status"]  # suspension is not failure
        assert ("Suspended", "Job suspended") in await h.events()
        await h.clock.advance(30)
        await h.seed.patch(JOBS, "pi", {"spec": {"suspend": False}}, NS)
        await h.sync()
        job = await h.job()
        assert condition_types(job) == [("Suspended", "False", "JobResumed")]
        assert len(await h.active_pods()) == 3
        assert job["status"]["startTime"] == h.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_created_suspended_starts_no_pods_and_no_clock():
    async with harness() as h:
        await h.create_job(completions=1, suspend=True)
        await h.sync()
        job = await h.job()
        assert h.pod_verbs() == [] and "startTime" not in job["status"]
        assert condition_types(job) == [("Suspended", "True", "JobSuspended")]


async def test_active_deadline_fails_the_job():
    async with harness() as h:
        await h.create_job(completions=1, activeDeadlineSeconds=30)
        await h.sync()
        assert len(await h.active_pods()) == 1
        assert h.ctrl.queue.waiting == 1  # it will look again when the deadline passes
        await h.clock.advance(30)
        assert "default/pi" in h.ctrl.queue
        await h.sync()
        await h.sync()
        job = await h.job()
        assert condition_types(job) == [("FailureTarget", "True", "DeadlineExceeded"),
                                         ("Failed", "True", "DeadlineExceeded")]
        assert job["status"]["conditions"][1]["message"] == "Job was active longer than specified deadline"
        assert await h.active_pods() == []


async def test_pods_of_a_deleted_job_lose_their_finalizer():
    async with harness() as h:
        await h.create_job(completions=1)
        await h.sync()
        [pod] = await h.pods()
        await h.seed.delete(JOBS, "pi", NS, propagation_policy="Background")
        await h.settle()
        assert "pod:default/" + pod["metadata"]["name"] in h.ctrl.queue
        while len(h.ctrl.queue):
            await h.ctrl.process_one()
        fresh = await h.seed.get(PODS, pod["metadata"]["name"], NS)
        assert TRACKING_FINALIZER not in (fresh["metadata"].get("finalizers") or [])
