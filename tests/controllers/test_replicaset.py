"""ReplicaSet controller, reconcile as a step: seed the caches through the real apiserver, run one
reconcile, assert the actions it took (RecordingClient) and what the server now holds."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import EVENTS, PODS, REPLICASETS, REPLICATIONCONTROLLERS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.replicaset import ReplicaSetController
from kybernetes.controllers.replicationcontroller import ReplicationControllerController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


class FailingClient(RecordingClient):
    """Pod creations fail after ``allow`` successes (a quota running out, say)."""

    allow: int | None = None

    async def create(self, resource, obj, namespace=None, **kw):
        if resource is PODS and self.allow is not None:
            if self.allow <= 0:
                self._record("create", resource, namespace, "refused", None, obj)
                raise ApiError(403, "Forbidden", "exceeded quota: pods")
            self.allow -= 1
        return await super().create(resource, obj, namespace, **kw)


class Harness:
    def __init__(self, srv: TestApiServer, controller_cls):
        self.srv = srv
        self.client = FailingClient(srv.url, qps=0)
        self.seed = srv.client()
        self.clock = FakeClock()
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = controller_cls(ControllerContext(self.client, self.informers, self.clock))

    async def start(self):
        self.informers.start()
        assert await self.informers.wait_for_cache_sync(5)

    async def create_owner(self, name="web", replicas=3, **spec):
        body = {"metadata": {"name": name},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE,
                         **spec}}
        obj = await self.seed.create(self.ctrl.resource, body, NS)
        await self.synced(self.ctrl.owners, obj)
        return obj

    async def create_pod(self, name, owner=None, labels=None, node="", ready=None, phase=None, ready_ago=600):
        meta = {"name": name, "labels": labels if labels is not None else {"app": "web"}}
        if owner is not None:
            meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                        "controller": True, "blockOwnerDeletion": True}]
        spec = {"containers": [{"name": "c", "image": "nginx"}]}
        if node:
            spec["nodeName"] = node
        pod = await self.seed.create(PODS, {"metadata": meta, "spec": spec}, NS)
        if ready is not None or phase:
            when = (self.clock.wall() - timedelta(seconds=ready_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = {"phase": phase or "Running"}
            if ready is not None:
                status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                         "lastTransitionTime": when}]
            pod = await self.seed.patch(PODS, name, {"status": status}, NS, subresource="status")
        await self.synced(self.ctrl.pods, pod)
        return pod

    async def synced(self, informer, obj):
        key = f"{NS}/{obj['metadata']['name']}"
        rv = obj["metadata"]["resourceVersion"]
        await eventually(lambda: (informer.get(key) or {}).get("metadata", {}).get("resourceVersion") == rv,
                         what=f"informer to see {key}@{rv}")

    async def reconcile(self, name="web"):
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/{name}")

    def pod_actions(self):
        return [(a.verb, a.name) for a in self.client.actions if a.resource == "pods"]

    async def owned_pods(self, owner):
        pods = (await self.seed.list(PODS, NS))["items"]
        return [p for p in pods if any(r["uid"] == owner["metadata"]["uid"]
                                       for r in p["metadata"].get("ownerReferences") or [])]

    async def get(self, name="web"):
        return await self.seed.get(self.ctrl.resource, name, NS)


@contextlib.asynccontextmanager
async def harness(controller_cls=ReplicaSetController):
    async with TestApiServer() as srv:
        h = Harness(srv, controller_cls)
        try:
            await h.start()
            yield h
        finally:
            await h.informers.shutdown()
            await h.client.close()


async def test_creates_missing_pods_once_until_it_sees_them():
    async with harness() as h:
        rs = await h.create_owner(replicas=3)
        await h.reconcile()
        creates = [a for a in h.client.actions if a.resource == "pods"]
        assert [a.verb for a in creates] == ["create"] * 3
        body = creates[0].body
        assert body["metadata"]["generateName"] == "web-"
        assert body["metadata"]["labels"] == {"app": "web"}
        assert body["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
        # The informer may not have seen the pods yet: expectations stop a second burst.
        await h.reconcile()
        assert h.pod_actions() == []
        await eventually(lambda: h.ctrl.expectations.satisfied(f"{NS}/web"), what="creations observed")
        await h.reconcile()
        assert h.pod_actions() == []
        assert len(await h.owned_pods(rs)) == 3
        got = await h.get()
        assert got["status"]["replicas"] == 3 and got["status"]["observedGeneration"] == 1
        reasons = [e["reason"] for e in (await h.seed.list(EVENTS, NS))["items"]]
        assert reasons.count("SuccessfulCreate") == 3


async def test_failed_creations_stop_the_slow_start_and_set_replica_failure():
    async with harness() as h:
        await h.create_owner(replicas=10)
        h.client.allow = 2  # batch 1 (1 pod) succeeds, batch 2 (2 pods) half fails, then stop
        with pytest.raises(ApiError):
            await h.reconcile()
        assert [v for v, _ in h.pod_actions()] == ["create"] * 3
        got = await h.get()
        cond = got["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
        assert "exceeded quota" in cond["message"]
        # Nothing more is expected: the next sync tries again (and the condition clears on success).
        await eventually(lambda: len(h.ctrl.pods.list(NS)) == 2, what="two pods cached")
        assert h.ctrl.expectations.satisfied(f"{NS}/web")
        h.client.allow = None
        await h.reconcile()
        assert [v for v, _ in h.pod_actions()] == ["create"] * 8
        assert "conditions" not in (await h.get())["status"]


async def test_scale_down_deletes_the_least_valuable_pods_first():
    async with harness() as h:
        rs = await h.create_owner(replicas=5)
        await h.create_pod("ready-old", rs, node="n1", ready=True, ready_ago=3600)
        await h.create_pod("ready-new", rs, node="n2", ready=True, ready_ago=1)
        await h.create_pod("not-ready", rs, node="n1", ready=False)
        await h.create_pod("pending", rs, node="n2", phase="Pending")
        await h.create_pod("unscheduled", rs)
        await h.seed.patch(REPLICASETS, "web", {"spec": {"replicas": 1}}, NS)
        await eventually(lambda: h.ctrl.owners.get(f"{NS}/web")["spec"]["replicas"] == 1, what="scale seen")
        await h.reconcile()
        deleted = [n for v, n in h.pod_actions() if v == "delete"]
        assert sorted(deleted) == ["not-ready", "pending", "ready-new", "unscheduled"]
        remaining = [p["metadata"]["name"] for p in await h.owned_pods(rs) if not p["metadata"].get("deletionTimestamp")]
        assert remaining == ["ready-old"]


async def test_adopts_matching_orphans_and_releases_pods_that_stopped_matching():
    async with harness() as h:
        rs = await h.create_owner(replicas=2)
        other = await h.create_owner(name="other", replicas=0, selector={"matchLabels": {"app": "web"}})
        await h.create_pod("orphan")
        await h.create_pod("mine-relabelled", rs, labels={"app": "db"})
        await h.create_pod("theirs", other)
        await h.create_pod("mine", rs)
        await h.reconcile()
        patched = {a.name: a.body for a in h.client.actions if a.verb == "patch" and a.resource == "pods"}
        assert set(patched) == {"orphan", "mine-relabelled"}
        assert patched["mine-relabelled"]["metadata"]["ownerReferences"] == [
            {"$patch": "delete", "uid": rs["metadata"]["uid"]}]
        assert h.pod_actions().count(("create", "web-")) == 0  # orphan + mine = 2 = replicas
        orphan = await h.seed.get(PODS, "orphan", NS)
        assert orphan["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        released = await h.seed.get(PODS, "mine-relabelled", NS)
        assert not released["metadata"].get("ownerReferences")
        theirs = await h.seed.get(PODS, "theirs", NS)
        assert theirs["metadata"]["ownerReferences"][0]["uid"] == other["metadata"]["uid"]


async def test_status_counts_ready_available_and_fully_labelled_pods():
    async with harness() as h:
        rs = await h.create_owner(replicas=3, minReadySeconds=30,
                                  template={**TEMPLATE, "metadata": {"labels": {"app": "web", "tier": "x"}}})
        await h.create_pod("a", rs, labels={"app": "web", "tier": "x"}, ready=True, ready_ago=60)
        await h.create_pod("b", rs, labels={"app": "web", "tier": "x"}, ready=True, ready_ago=5)
        await h.create_pod("c", rs, ready=False)
        await h.reconcile()
        status = (await h.get())["status"]
        assert status == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1,
                          "observedGeneration": 1}
        await eventually(lambda: h.ctrl.owners.get(f"{NS}/web")["status"].get("replicas") == 3, what="status")
        await h.reconcile()
        assert h.client.verbs_on("replicasets/status") == []  # unchanged: no write


async def test_deleted_pod_is_replaced():
    async with harness() as h:
        await h.create_owner(replicas=2)
        await h.reconcile()
        await eventually(lambda: len(h.ctrl.pods.list(NS)) == 2 and h.ctrl.expectations.satisfied(f"{NS}/web"),
                         what="pods cached")
        victim = h.ctrl.pods.list(NS)[0]["metadata"]["name"]
        await h.seed.delete(PODS, victim, NS)
        await eventually(lambda: len(h.ctrl.pods.list(NS)) == 1, what="deletion seen")
        await h.reconcile()
        assert [v for v, _ in h.pod_actions()] == ["create"]


async def test_replication_controller_uses_its_map_selector_and_kind():
    async with TestApiServer() as srv:
        h = Harness(srv, ReplicationControllerController)
        try:
            await h.start()
            body = {"metadata": {"name": "rc"}, "spec": {"replicas": 2, "selector": {"app": "web"}, "template": TEMPLATE}}
            rc = await h.seed.create(REPLICATIONCONTROLLERS, body, NS)
            await h.synced(h.ctrl.owners, rc)
            await h.create_pod("orphan")
            await h.reconcile("rc")
            assert [(v, n) for v, n in h.pod_actions()] == [("patch", "orphan"), ("create", "rc-")]
            ref = [a for a in h.client.actions if a.verb == "create"][0].body["metadata"]["ownerReferences"][0]
            assert (ref["apiVersion"], ref["kind"], ref["uid"]) == ("v1", "ReplicationController",
                                                                    rc["metadata"]["uid"])
            got = await srv.client().get(REPLICATIONCONTROLLERS, "rc", NS)
            assert got["status"]["replicas"] == 1  # counted before the creation, as Kubernetes does
        finally:
            await h.informers.shutdown()
            await h.client.close()
