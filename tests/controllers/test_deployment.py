"""Deployment controller, reconcile as a step on seeded caches (RecordingClient, FakeClock for
the progress deadline): which writes one sync makes."""

from __future__ import annotations

import contextlib

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import DEPLOYMENTS, EVENTS, REPLICASETS
from kybernetes.controllers import deployment_util as du
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"


def deployment(replicas=3, **spec):
    return {"metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


class Harness:
    def __init__(self, srv):
        self.client = RecordingClient(srv.url, qps=0)
        self.seed = srv.client()
        self.clock = FakeClock()
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = DeploymentController(ControllerContext(self.client, self.informers, self.clock))

    async def seen(self, informer, obj):
        key = f"{NS}/{obj['metadata']['name']}"
        rv = obj["metadata"]["resourceVersion"]
        await eventually(lambda: (informer.get(key) or {}).get("metadata", {}).get("resourceVersion") == rv,
                         what=f"{key}@{rv} cached")

    async def reconcile(self):
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/web")
        d = await self.seed.get(DEPLOYMENTS, "web", NS)
        await self.seen(self.ctrl.deployments, d)
        for rs in (await self.seed.list(REPLICASETS, NS))["items"]:
            await self.seen(self.ctrl.replicasets, rs)
        return d

    def actions(self):
        return [(a.verb, a.resource) for a in self.client.actions if a.resource != "events"]


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


def condition(d, cond_type):
    return next((c for c in d["status"].get("conditions", []) if c["type"] == cond_type), None)


async def test_first_sync_creates_the_replica_set_and_records_the_revision():
    async with harness() as h:
        d = await h.seed.create(DEPLOYMENTS, deployment(replicas=3), NS)
        await h.seen(h.ctrl.deployments, d)
        d = await h.reconcile()
        assert h.actions() == [("create", "replicasets"), ("patch", "deployments"),
                               ("update", "deployments/status"), ("update", "deployments/status")]
        rs = h.client.actions[0].body
        assert rs["spec"]["replicas"] == 3  # nothing old: surge up to the full count at once
        assert d["metadata"]["annotations"][du.REVISION] == "1"
        cond = condition(d, "Progressing")
        assert (cond["status"], cond["reason"]) == ("True", "NewReplicaSetCreated")
        assert cond["message"] == f'Created new replica set "{rs["metadata"]["name"]}"'
        available = condition(d, "Available")
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
        assert d["status"]["observedGeneration"] == 1 and d["status"].get("unavailableReplicas") == 3
        events = [e["message"] for e in (await h.seed.list(EVENTS, NS))["items"]]
        assert events == [f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"]
        # Nothing changed: a second sync writes nothing.
        await h.reconcile()
        assert h.actions() == []


async def test_no_progress_past_the_deadline_is_progress_deadline_exceeded():
    async with harness() as h:
        d = await h.seed.create(DEPLOYMENTS, deployment(replicas=2, progressDeadlineSeconds=30), NS)
        await h.seen(h.ctrl.deployments, d)
        await h.reconcile()
        await h.clock.advance(20)
        d = await h.reconcile()
        assert condition(d, "Progressing")["reason"] == "NewReplicaSetCreated"
        await h.clock.advance(11)
        d = await h.reconcile()
        cond = condition(d, "Progressing")
        assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
        assert cond["message"].endswith("has timed out progressing.")


async def test_paused_deployment_reports_paused_and_creates_nothing():
    async with harness() as h:
        d = await h.seed.create(DEPLOYMENTS, deployment(paused=True), NS)
        await h.seen(h.ctrl.deployments, d)
        d = await h.reconcile()
        assert ("create", "replicasets") not in h.actions()
        cond = condition(d, "Progressing")
        assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused",
                                                                     "Deployment is paused")
        await h.seed.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}}, NS)
        await eventually(lambda: not h.ctrl.deployments.get(f"{NS}/web")["spec"].get("paused"), what="resume")
        d = await h.reconcile()
        assert ("create", "replicasets") in h.actions()
        assert condition(d, "Progressing")["reason"] == "NewReplicaSetCreated"


async def test_selecting_everything_is_refused_with_an_event():
    async with harness() as h:
        body = deployment()
        body["spec"]["selector"] = {}
        d = {"metadata": {"name": "web", "namespace": NS, "uid": "u1", "generation": 2, "resourceVersion": "1"},
             "spec": body["spec"], "kind": "Deployment", "apiVersion": "apps/v1"}
        h.ctrl.deployments.indexer.upsert(d)  # the apiserver would refuse it: seed the cache directly
        h.client.clear()
        try:
            await h.ctrl.reconcile(f"{NS}/web")
        except Exception:  # noqa: BLE001 - the status write fails (no such object); the event is what counts
            pass
        events = [a.body for a in h.client.actions if a.resource == "events"]
        assert events and events[0]["reason"] == "SelectingAll"
        assert not [a for a in h.client.actions if a.resource == "replicasets"]
