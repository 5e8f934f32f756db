"""Deployments end to end: the Deployment and ReplicaSet controllers against a real apiserver,
with a tiny fake "kubelet" that marks every new pod Running and Ready, so rollouts progress."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from kybernetes.client.informer import Informer
from kybernetes.client.resource import DEPLOYMENTS, EVENTS, PODS, REPLICASETS
from kybernetes.controllers.deployment import DeploymentController
from kybernetes.controllers.deployment_util import HASH_LABEL, REVISION, REVISION_HISTORY
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.replicaset import ReplicaSetController
from kybernetes.testing.apiserver import TestApiServer

NS = "default"


def deployment(name="web", replicas=4, image="nginx:1", **spec):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


class FakeKubelet:
    """Marks pods Running+Ready (after ``delay`` seconds) and finishes graceful deletions."""

    def __init__(self, client, delay=0.0):
        self.client = client
        self.delay = delay
        self.informer = Informer(client, PODS, NS)
        self.informer.add_event_handler(on_add=self._seen, on_update=lambda _o, n: self._seen(n))
        self.tasks: set[asyncio.Task] = set()
        self.hold = False  # True: leave new pods unready

    def _seen(self, pod):
        meta, status = pod["metadata"], pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            self._spawn(self._finish(meta["name"]))
        elif status.get("phase") == "Pending" and not self.hold:
            self._spawn(self._start(meta["name"]))

    def release(self):
        self.hold = False
        for pod in self.informer.indexer.list():
            self._seen(pod)

    def _spawn(self, coro):
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _start(self, name):
        await asyncio.sleep(self.delay)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}
        with contextlib.suppress(Exception):
            await self.client.patch(PODS, name, {"status": status}, NS, subresource="status")

    async def _finish(self, name):
        with contextlib.suppress(Exception):
            await self.client.delete(PODS, name, NS, grace_period_seconds=0)

    async def stop(self):
        await self.informer.stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def cluster(kubelet_delay=0.0):
    async with TestApiServer() as srv:
        client = srv.client()
        manager = ControllerManager(srv.client(), {"deployment": DeploymentController,
                                                   "replicaset": ReplicaSetController}, leader_elect=False)
        kubelet = FakeKubelet(srv.client(), kubelet_delay)
        kubelet.informer.start()
        run = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            yield client, kubelet
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            await kubelet.stop()


async def get_d(client, name="web"):
    return await client.get(DEPLOYMENTS, name, NS)


async def rollout_done(client, name="web"):
    """kubectl rollout status's test (polymorphichelpers/rollout_status.go)."""
    d = await get_d(client, name)
    st = d.get("status") or {}
    if d["metadata"]["generation"] > st.get("observedGeneration", 0):
        return False
    progressing = next((c for c in st.get("conditions", []) if c["type"] == "Progressing"), None)
    if progressing and progressing["reason"] == "ProgressDeadlineExceeded":
        raise AssertionError("rollout exceeded its progress deadline")
    want = d["spec"]["replicas"]
    return (st.get("updatedReplicas", 0) >= want and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
            and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0))


async def wait_rollout(client, name="web", timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await rollout_done(client, name):
        if asyncio.get_running_loop().time() > deadline:
            d = await get_d(client, name)
            raise AssertionError(f"rollout of {name} did not finish: {d.get('status')}")
        await asyncio.sleep(0.02)


async def replicasets(client, name="web"):
    items = (await client.list(REPLICASETS, NS, label_selector=f"app={name}"))["items"]
    return sorted(items, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))


async def live_pods(client, name="web"):
    items = (await client.list(PODS, NS, label_selector=f"app={name}"))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_create_rolls_out_and_reports_status_kubectl_reads():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=3), NS)
        await wait_rollout(client)
        d = await get_d(client)
        st = d["status"]
        assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
        assert "unavailableReplicas" not in st and st["observedGeneration"] == 1
        conds = {c["type"]: c for c in st["conditions"]}
        assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
        assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
        [rs] = await replicasets(client)
        hash_value = rs["metadata"]["labels"][HASH_LABEL]
        assert rs["metadata"]["name"] == f"web-{hash_value}"
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: hash_value}
        assert rs["metadata"]["annotations"][REVISION] == "1"
        assert d["metadata"]["annotations"][REVISION] == "1"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
        assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
        pods = await live_pods(client)
        assert len(pods) == 3 and all(p["metadata"]["labels"][HASH_LABEL] == hash_value for p in pods)
        messages = [e["message"] for e in (await client.list(EVENTS, NS))["items"]
                    if e["reason"] == "ScalingReplicaSet"]
        assert messages == [f"Scaled up replica set web-{hash_value} from 0 to 3"]


async def test_rolling_update_stays_within_max_surge_and_max_unavailable():
    async with cluster(kubelet_delay=0.02) as (client, _kubelet):
        spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}
        await client.create(DEPLOYMENTS, deployment(replicas=4, **spec), NS)
        await wait_rollout(client)
        violations: list[str] = []
        rs_sizes: dict[str, int] = {}
        pods: dict[str, dict] = {}

        watching = []
        history = []

        def check():
            if not watching:
                return
            history.append(dict(rs_sizes))
            if sum(rs_sizes.values()) > 5:
                violations.append(f"replica sets sum to {rs_sizes}")
            live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in live if any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in (p.get("status") or {}).get("conditions", []))]
            if len(live) > 5:
                violations.append(f"{len(live)} pods")
            if len(ready) < 3:
                violations.append(f"only {len(ready)} pods ready")

        rs_watch = Informer(client, REPLICASETS, NS)
        pod_watch = Informer(client, PODS, NS)
        rs_watch.add_event_handler(
            on_add=lambda rs: (rs_sizes.__setitem__(rs["metadata"]["name"], rs["spec"]["replicas"]), check()),
            on_update=lambda _o, rs: (rs_sizes.__setitem__(rs["metadata"]["name"], rs["spec"]["replicas"]), check()),
            on_delete=lambda rs: rs_sizes.pop(rs["metadata"]["name"], None))
        pod_watch.add_event_handler(
            on_add=lambda p: pods.__setitem__(p["metadata"]["name"], p),
            on_update=lambda _o, p: (pods.__setitem__(p["metadata"]["name"], p), check()),
            on_delete=lambda p: (pods.pop(p["metadata"]["name"], None), check()))
        rs_watch.start()
        pod_watch.start()
        try:
            assert await rs_watch.wait_for_sync(5) and await pod_watch.wait_for_sync(5)
            watching.append(True)
            check()
            await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")
            await wait_rollout(client)
            await asyncio.sleep(0.1)
        finally:
            await rs_watch.stop()
            await pod_watch.stop()
        assert violations == [], (violations, history)
        old, new = await replicasets(client)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
        assert new["metadata"]["annotations"][REVISION] == "2"
        assert (await get_d(client))["metadata"]["annotations"][REVISION] == "2"
        assert all(p["spec"]["containers"][0]["image"] == "nginx:2" for p in await live_pods(client))
        messages = {e["message"] for e in (await client.list(EVENTS, NS))["items"] if e["reason"] == "ScalingReplicaSet"}
        assert f"Scaled down replica set {old['metadata']['name']} from 4 to 3" in messages


async def test_recreate_scales_old_to_zero_before_creating_new():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=2, strategy={"type": "Recreate"}), NS)
        await wait_rollout(client)
        seen_mixed = []
        pod_watch = Informer(client, PODS, NS)

        def check(_p=None):
            images = {p["spec"]["containers"][0]["image"] for p in pod_watch.indexer.list()}
            if len(images) > 1:
                seen_mixed.append(images)

        pod_watch.add_event_handler(on_add=check, on_update=lambda _o, n: check(), on_delete=check)
        pod_watch.start()
        try:
            assert await pod_watch.wait_for_sync(5)
            await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")
            await wait_rollout(client)
        finally:
            await pod_watch.stop()
        assert seen_mixed == []
        assert {p["spec"]["containers"][0]["image"] for p in await live_pods(client)} == {"nginx:2"}


async def test_rollback_reuses_the_old_replica_set_with_a_new_revision():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=2), NS)
        await wait_rollout(client)
        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")
        await wait_rollout(client)
        first, _second = await replicasets(client)
        # What `kubectl rollout undo` sends: the old ReplicaSet's template without the hash label.
        template = first["spec"]["template"]
        template["metadata"]["labels"].pop(HASH_LABEL)
        await client.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": template}],
                           NS, patch_type="json")
        await wait_rollout(client)
        rss = await replicasets(client)
        assert len(rss) == 2
        newest = rss[-1]
        assert newest["metadata"]["uid"] == first["metadata"]["uid"]
        assert newest["metadata"]["annotations"][REVISION] == "3"
        assert newest["metadata"]["annotations"][REVISION_HISTORY] == "1"
        assert newest["spec"]["replicas"] == 2 and rss[0]["spec"]["replicas"] == 0
        assert (await get_d(client))["metadata"]["annotations"][REVISION] == "3"


async def test_pause_stops_progress_and_resume_continues():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=2), NS)
        await wait_rollout(client)
        await client.patch(DEPLOYMENTS, "web", {"spec": {"paused": True}}, NS)

        async def progressing_reason():
            d = await get_d(client)
            return next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")

        for _ in range(200):
            cond = await progressing_reason()
            if cond["reason"] == "DeploymentPaused":
                break
            await asyncio.sleep(0.02)
        assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused",
                                                                    "Deployment is paused")
        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")
        # Scaling still works while paused, the template change does not roll out.
        await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}}, NS)
        await eventually_async(lambda: _status_is(client, replicas=3))
        assert len(await replicasets(client)) == 1
        assert {p["spec"]["containers"][0]["image"] for p in await live_pods(client)} == {"nginx:1"}
        await client.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}}, NS)
        await wait_rollout(client)
        assert {p["spec"]["containers"][0]["image"] for p in await live_pods(client)} == {"nginx:2"}
        assert (await progressing_reason())["reason"] == "NewReplicaSetAvailable"


async def _status_is(client, replicas):
    d = await get_d(client)
    return (d["status"].get("observedGeneration") == d["metadata"]["generation"]
            and d["status"].get("availableReplicas") == replicas)


async def eventually_async(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_scaling_mid_rollout_is_proportional():
    async with cluster() as (client, kubelet):
        spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}}
        await client.create(DEPLOYMENTS, deployment(replicas=10, **spec), NS)
        await wait_rollout(client)
        kubelet.hold = True  # new pods never become ready: the rollout stalls after surging
        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")

        async def surged():
            rss = await replicasets(client)
            return len(rss) == 2 and [rs["spec"]["replicas"] for rs in rss] == [10, 3]

        await eventually_async(surged)
        await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 20}}, NS)

        async def scaled():
            rss = await replicasets(client)
            return sum(rs["spec"]["replicas"] for rs in rss) == 23

        await eventually_async(scaled)
        old, new = await replicasets(client)
        # 10:3 of 13 → 23 allowed (20 + surge 3): old 10*23/13 = 17.7 → 18, new gets the rest (5).
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (18, 5)
        kubelet.release()
        await wait_rollout(client, timeout=15)
        old, new = await replicasets(client)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 20)


async def test_deleted_pods_are_recreated_and_restart_makes_a_new_replica_set():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=3), NS)
        await wait_rollout(client)
        victims = [p["metadata"]["name"] for p in await live_pods(client)][:2]
        for name in victims:
            await client.delete(PODS, name, NS)

        async def replaced():
            names = [p["metadata"]["name"] for p in await live_pods(client)]
            return len(names) == 3 and not set(victims) & set(names)

        await eventually_async(replaced)
        await wait_rollout(client)
        # `kubectl rollout restart`
        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}, NS, patch_type="strategic")
        await wait_rollout(client)
        rss = await replicasets(client)
        assert len(rss) == 2 and rss[-1]["spec"]["replicas"] == 3 and rss[0]["spec"]["replicas"] == 0


async def test_revision_history_limit_deletes_old_replica_sets():
    async with cluster() as (client, _kubelet):
        await client.create(DEPLOYMENTS, deployment(replicas=1, revisionHistoryLimit=1), NS)
        await wait_rollout(client)
        for image in ("nginx:2", "nginx:3", "nginx:4"):
            await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": image}]}}}}, NS, patch_type="strategic")
            await wait_rollout(client)

        async def trimmed():
            return len(await replicasets(client)) == 2

        await eventually_async(trimmed)
        revisions = [rs["metadata"]["annotations"][REVISION] for rs in await replicasets(client)]
        assert revisions == ["3", "4"]
