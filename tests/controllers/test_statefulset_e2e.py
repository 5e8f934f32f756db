"""StatefulSets end to end: the controller in a ControllerManager against a real apiserver, a fake
binder where the scheduler would be and a fake kubelet that marks pods Running and Ready; the
pinned kubectl reads history, rolls back and waits on rollout status."""

from __future__ import annotations

import asyncio
import contextlib

from kybernetes.client.resource import CONTROLLERREVISIONS, PODS, STATEFULSETS
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.statefulset import StatefulSetController
from kybernetes.testing.apiserver import TestApiServer
from tests.controllers.test_statefulset_fakes import FakeBinder, FakeKubelet, kubectl_env

NS = "default"


def statefulset(name="web", replicas=3, image="nginx:1", **spec):
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


async def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(kubelet_delay=0.05):
    async with TestApiServer() as srv:
        log: list = []
        client = srv.client()
        manager = ControllerManager(srv.client(), {"statefulset": StatefulSetController}, leader_elect=False)
        binder, kubelet = FakeBinder(srv.client(), log), FakeKubelet(srv.client(), log, kubelet_delay)
        binder.start()
        kubelet.start()
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            yield srv, client, kubelet, log
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await binder.stop()
            await kubelet.stop()


async def images(client):
    pods = (await client.list(PODS, NS))["items"]
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods
            if not p["metadata"].get("deletionTimestamp")}


async def settled(client, name="web", replicas=3):
    sts = await client.get(STATEFULSETS, name, NS)
    status = sts.get("status") or {}
    return (status.get("observedGeneration") == sts["metadata"]["generation"]
            and status.get("readyReplicas") == replicas and status.get("updatedReplicas") == replicas
            and status.get("currentRevision") == status.get("updateRevision") and status.get("replicas") == replicas)


async def test_ordered_creation_and_reverse_ordered_deletion():
    async with cluster() as (_srv, client, _kubelet, log):
        await client.create(STATEFULSETS, statefulset(replicas=3), NS)
        await wait_for(lambda: settled(client), what="three ready pods")
        started = [e[1] for e in log if e[0] in ("bound", "ready")]
        # Each pod is created (then bound) only after the one before it is ready.
        assert started == ["web-0", "web-0", "web-1", "web-1", "web-2", "web-2"]
        await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 0}}, NS)
        await wait_for(lambda: _no_pods(client), what="scale to zero")
        assert [e[1] for e in log if e[0] == "terminating"] == ["web-2", "web-1", "web-0"]


async def _no_pods(client):
    return not (await client.list(PODS, NS))["items"]


async def test_partitioned_rollout_then_kubectl_history_undo_and_status():
    async with cluster() as (srv, client, _kubelet, _log), kubectl_env(srv.url) as kubectl:
        await client.create(STATEFULSETS, statefulset(replicas=3, updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}), NS)
        await wait_for(lambda: settled(client), what="three ready pods")
        code, out = await kubectl("rollout", "status", "statefulset/web", "--timeout=20s")
        assert code == 0, out
        await client.patch(STATEFULSETS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")

        async def partition_done():
            got = await images(client)
            return got == {"web-0": "nginx:1", "web-1": "nginx:2", "web-2": "nginx:2"} and \
                (await client.get(STATEFULSETS, "web", NS))["status"].get("updatedReplicas") == 2
        await wait_for(partition_done, what="ordinals 1 and 2 updated, 0 kept")
        code, out = await kubectl("rollout", "status", "statefulset/web", "--timeout=20s")
        assert code == 0 and "partitioned roll out complete: 2 new pods have been updated" in out, out
        code, out = await kubectl("rollout", "history", "statefulset/web")
        assert code == 0, out
        assert [line.split()[0] for line in out.splitlines()[2:] if line.strip()] == ["1", "2"], out
        code, out = await kubectl("rollout", "history", "statefulset/web", "--revision=1")
        assert code == 0 and "nginx:1" in out, out

        # Undo goes back to revision 1's template, which becomes revision 3; partition 0 finishes it.
        await client.patch(STATEFULSETS, "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
                           NS, patch_type="strategic")
        code, out = await kubectl("rollout", "undo", "statefulset/web")
        assert code == 0 and "rolled back" in out, out
        await wait_for(lambda: settled(client), what="rollback settled")
        assert set((await images(client)).values()) == {"nginx:1"}
        revisions = (await client.list(CONTROLLERREVISIONS, NS))["items"]
        numbers = sorted((r["revision"], r["data"]["spec"]["template"]["spec"]["containers"][0]["image"])
                         for r in revisions)
        assert numbers == [(2, "nginx:2"), (3, "nginx:1")]
        code, out = await kubectl("rollout", "status", "statefulset/web", "--timeout=20s")
        assert code == 0 and "roll out complete: 3 new pods have been updated" in out, out
