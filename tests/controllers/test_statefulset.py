"""StatefulSet controller, reconcile as a step: seed the caches through the real apiserver, run one
reconcile, assert the actions it took (RecordingClient) and what the server now holds."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import CONTROLLERREVISIONS, EVENTS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.controllerrevision import HISTORY_HASH_LABEL, REVISION_HASH_LABEL
from kybernetes.controllers.statefulset import StatefulSetController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"


def statefulset(name="web", replicas=3, image="nginx:1", **spec):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


class Harness:
    def __init__(self, srv: TestApiServer):
        self.client = RecordingClient(srv.url, qps=0)
        self.seed = srv.client()
        self.clock = FakeClock()
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = StatefulSetController(ControllerContext(self.client, self.informers, self.clock))

    async def start(self):
        self.informers.start()
        assert await self.informers.wait_for_cache_sync(5)

    async def create(self, **kw):
        obj = await self.seed.create(STATEFULSETS, statefulset(**kw), NS)
        await self.synced(self.ctrl.sets, obj)
        return obj

    async def patch_set(self, patch, name="web"):
        obj = await self.seed.patch(STATEFULSETS, name, patch, NS, patch_type="strategic")
        await self.synced(self.ctrl.sets, obj)
        return obj

    async def synced(self, informer, obj):
        key = f"{NS}/{obj['metadata']['name']}"
        rv = obj["metadata"]["resourceVersion"]
        await eventually(lambda: (informer.get(key) or {}).get("metadata", {}).get("resourceVersion") == rv,
                         what=f"informer to see {key}@{rv}")

    async def settle(self):
        """Wait until every informer has caught up with the server."""
        for informer, resource in ((self.ctrl.pods, PODS), (self.ctrl.revisions, CONTROLLERREVISIONS),
                                   (self.ctrl.claims, PERSISTENTVOLUMECLAIMS), (self.ctrl.sets, STATEFULSETS)):
            items = (await self.seed.list(resource, NS))["items"]
            names = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}
            await eventually(lambda inf=informer, n=names: {
                o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.list(NS)} == n,
                what=f"{resource} cache in sync")

    async def reconcile(self, name="web"):
        await self.settle()
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/{name}")

    def pod_actions(self):
        return [(a.verb, a.name) for a in self.client.actions if a.resource == "pods"]

    async def run_ready(self, name, ready=True, ago=600):
        when = (self.clock.wall() - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                      "lastTransitionTime": when}]}
        return await self.seed.patch(PODS, name, {"status": status}, NS, subresource="status")

    async def pod_names(self):
        return sorted(p["metadata"]["name"] for p in (await self.seed.list(PODS, NS))["items"])

    async def get(self, name="web"):
        return await self.seed.get(STATEFULSETS, name, NS)

    async def revisions(self):
        return sorted((await self.seed.list(CONTROLLERREVISIONS, NS))["items"], key=lambda r: r["revision"])

    async def roll_to_ready(self, count, name="web"):
        """Reconcile until ``count`` pods exist, each marked Running and Ready once created."""
        for _ in range(count * 3):
            await self.reconcile(name)
            for pod in (await self.seed.list(PODS, NS))["items"]:
                if pod["status"].get("phase") == "Pending":
                    await self.run_ready(pod["metadata"]["name"])
            if len(await self.pod_names()) == count and all(
                    p["status"].get("phase") == "Running" for p in (await self.seed.list(PODS, NS))["items"]):
                break
        await self.reconcile(name)


@contextlib.asynccontextmanager
async def harness():
    async with TestApiServer() as srv:
        h = Harness(srv)
        try:
            await h.start()
            yield h
        finally:
            await h.informers.shutdown()
            await h.client.close()
            await h.seed.close()


async def test_ordered_ready_creates_one_pod_at_a_time_with_a_stable_identity():
    async with harness() as h:
        sts = await h.create(replicas=3)
        await h.reconcile()
        assert h.pod_actions() == [("create", "web-0")]
        pod = await h.seed.get(PODS, "web-0", NS)
        revisions = await h.revisions()
        assert len(revisions) == 1
        revision = revisions[0]
        assert revision["revision"] == 1 and revision["metadata"]["name"].startswith("web-")
        assert revision["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
        assert revision["metadata"]["labels"]["app"] == "web"
        assert revision["metadata"]["name"] == f"web-{revision['metadata']['labels'][HISTORY_HASH_LABEL]}"
        template = revision["data"]["spec"]["template"]
        assert template["$patch"] == "replace" and template["spec"]["containers"][0]["image"] == "nginx:1"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-0"
        assert labels["apps.kubernetes.io/pod-index"] == "0"
        assert labels[REVISION_HASH_LABEL] == revision["metadata"]["name"]
        assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "nginx"
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
        # web-0 is Pending: nothing more happens until it is Running and Ready.
        await h.reconcile()
        assert h.pod_actions() == []
        await h.run_ready("web-0")
        await h.reconcile()
        assert h.pod_actions() == [("create", "web-1")]
        # The status counts what the sync started from; the next one sees web-1 too.
        assert (await h.get())["status"]["replicas"] == 1
        await h.reconcile()
        status = (await h.get())["status"]
        assert status["replicas"] == 2 and status["readyReplicas"] == 1 and status["availableReplicas"] == 1
        assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
        assert status["observedGeneration"] == 1 and status["collisionCount"] == 0
        events = [(e["reason"], e["message"]) for e in (await h.seed.list(EVENTS, NS))["items"]]
        assert ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in events


async def test_parallel_creates_every_pod_at_once_and_ordinals_start():
    async with harness() as h:
        await h.create(replicas=3, podManagementPolicy="Parallel", ordinals={"start": 5})
        await h.reconcile()
        assert sorted(n for _, n in h.pod_actions()) == ["web-5", "web-6", "web-7"]


async def test_scale_down_deletes_highest_ordinal_first_one_at_a_time():
    async with harness() as h:
        await h.create(replicas=3)
        await h.roll_to_ready(3)
        assert await h.pod_names() == ["web-0", "web-1", "web-2"]
        await h.patch_set({"spec": {"replicas": 1}})
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-2")]
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-1")]
        assert await h.pod_names() == ["web-0"]
        await h.reconcile()
        assert h.pod_actions() == []
        assert (await h.get())["status"]["replicas"] == 1


async def test_partitioned_rolling_update_goes_from_the_top_down_to_the_partition():
    async with harness() as h:
        await h.create(replicas=3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
        await h.roll_to_ready(3)
        first = (await h.get())["status"]["currentRevision"]
        await h.patch_set({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-2")]
        revisions = await h.revisions()
        assert [r["revision"] for r in revisions] == [1, 2]
        second = revisions[1]["metadata"]["name"]
        status = (await h.get())["status"]
        assert status["currentRevision"] == first and status["updateRevision"] == second
        await h.reconcile()
        assert h.pod_actions() == [("create", "web-2")]
        web2 = await h.seed.get(PODS, "web-2", NS)
        assert web2["metadata"]["labels"][REVISION_HASH_LABEL] == second
        assert web2["spec"]["containers"][0]["image"] == "nginx:2"
        await h.run_ready("web-2")
        await h.reconcile()
        await h.reconcile()
        assert h.pod_actions() == []  # web-1 and web-0 are below the partition
        status = (await h.get())["status"]
        assert status["updatedReplicas"] == 1 and status["currentReplicas"] == 2
        assert status["currentRevision"] == first
        # Lowering the partition to 0 lets the update finish; then the update revision is current.
        await h.patch_set({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})
        await h.roll_to_ready(3)
        for _ in range(4):
            await h.reconcile()
            for pod in (await h.seed.list(PODS, NS))["items"]:
                if pod["status"].get("phase") == "Pending":
                    await h.run_ready(pod["metadata"]["name"])
        status = (await h.get())["status"]
        assert status["currentRevision"] == status["updateRevision"] == second
        assert status["updatedReplicas"] == status["currentReplicas"] == 3


async def test_on_delete_only_replaces_pods_somebody_deleted():
    async with harness() as h:
        await h.create(replicas=2, updateStrategy={"type": "OnDelete"})
        await h.roll_to_ready(2)
        await h.patch_set({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})
        await h.reconcile()
        assert h.pod_actions() == []
        await h.seed.delete(PODS, "web-1", NS)
        await h.reconcile()
        assert h.pod_actions() == [("create", "web-1")]
        assert (await h.seed.get(PODS, "web-1", NS))["spec"]["containers"][0]["image"] == "nginx:2"
        assert (await h.seed.get(PODS, "web-0", NS))["spec"]["containers"][0]["image"] == "nginx:1"


async def test_claims_from_volume_claim_templates_follow_the_retention_policy():
    claim = {"metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    async with harness() as h:
        sts = await h.create(replicas=2, volumeClaimTemplates=[claim],
                             persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"})
        await h.reconcile()
        pvc = await h.seed.get(PERSISTENTVOLUMECLAIMS, "data-web-0", NS)
        assert pvc["metadata"]["labels"] == {"app": "web"}
        assert [(r["kind"], r["uid"]) for r in pvc["metadata"]["ownerReferences"]] == [
            ("StatefulSet", sts["metadata"]["uid"])]
        pod = await h.seed.get(PODS, "web-0", NS)
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in [
            {k: v for k, v in vol.items() if k in ("name", "persistentVolumeClaim")} for vol in pod["spec"]["volumes"]]
        await h.roll_to_ready(2)
        assert (await h.seed.get_or_none(PERSISTENTVOLUMECLAIMS, "data-web-1", NS)) is not None
        # Scaled away: web-1's claim is handed to web-1 (so it goes with the pod), then web-1 goes.
        web1 = await h.seed.get(PODS, "web-1", NS)
        await h.patch_set({"spec": {"replicas": 1}})
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-1")]
        pvc1 = await h.seed.get(PERSISTENTVOLUMECLAIMS, "data-web-1", NS)
        assert [(r["kind"], r["name"], r["uid"], r["controller"]) for r in pvc1["metadata"]["ownerReferences"]] == [
            ("Pod", "web-1", web1["metadata"]["uid"], True)]
        pvc0 = await h.seed.get(PERSISTENTVOLUMECLAIMS, "data-web-0", NS)
        assert [r["kind"] for r in pvc0["metadata"]["ownerReferences"]] == ["StatefulSet"]
        events = [e["message"] for e in (await h.seed.list(EVENTS, NS))["items"]]
        assert "create Claim data-web-0 Pod web-0 in StatefulSet web success" in events


async def test_history_is_pruned_to_revision_history_limit_and_rollback_renumbers():
    async with harness() as h:
        await h.create(replicas=1, revisionHistoryLimit=1)
        await h.roll_to_ready(1)
        for image in ("nginx:2", "nginx:3"):
            await h.patch_set({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
            await h.roll_to_ready(1)
            for _ in range(3):
                await h.reconcile()
                for pod in (await h.seed.list(PODS, NS))["items"]:
                    if pod["status"].get("phase") == "Pending":
                        await h.run_ready(pod["metadata"]["name"])
        revisions = await h.revisions()
        images = [r["data"]["spec"]["template"]["spec"]["containers"][0]["image"] for r in revisions]
        assert images == ["nginx:2", "nginx:3"] and [r["revision"] for r in revisions] == [2, 3]
        # `kubectl rollout undo` patches the set with the previous revision's data.
        await h.patch_set(revisions[0]["data"])
        await h.reconcile()
        revisions = await h.revisions()
        assert [(r["revision"], r["data"]["spec"]["template"]["spec"]["containers"][0]["image"])
                for r in revisions] == [(3, "nginx:3"), (4, "nginx:2")]
        assert (await h.get())["status"]["updateRevision"] == revisions[1]["metadata"]["name"]


async def test_parallel_rolls_max_unavailable_pods_at_a_time_and_scales_down_at_once():
    async with harness() as h:
        await h.create(replicas=4, podManagementPolicy="Parallel",
                       updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}})
        await h.roll_to_ready(4)
        await h.patch_set({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-3"), ("delete", "web-2")]
        await h.reconcile()
        assert sorted(h.pod_actions()) == [("create", "web-2"), ("create", "web-3")]
        await h.reconcile()
        assert h.pod_actions() == []  # two new pods not yet ready: the budget is spent
        await h.run_ready("web-3")
        await h.reconcile()
        assert h.pod_actions() == [("delete", "web-1")]
        await h.patch_set({"spec": {"replicas": 1}})
        await h.reconcile()
        # Both condemned pods go at once; in the same sync the rolling update may take web-0
        # (still at the old revision; the in-range pods are all available).
        assert sorted(n for v, n in h.pod_actions() if v == "delete") == ["web-0", "web-2", "web-3"]
