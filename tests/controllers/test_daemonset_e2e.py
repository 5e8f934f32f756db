"""DaemonSets end to end: the controller in a ControllerManager against a real apiserver, with a
fake binder (binding each pod to the node its affinity names) and a fake kubelet."""

from __future__ import annotations

import asyncio
import contextlib

from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kybernetes.controllers.daemonset import DaemonSetController
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.podutil import is_pod_ready
from kybernetes.testing.apiserver import TestApiServer
from tests.controllers.test_statefulset_fakes import FakeBinder, FakeKubelet, kubectl_env

NS = "default"


def daemonset(name="agent", image="agent:1", **strategy):
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": image}]}}}
    if strategy:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": strategy}
    return {"metadata": {"name": name}, "spec": spec}


async def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(nodes, kubelet_delay=0.05):
    async with TestApiServer() as srv:
        log: list = []
        client = srv.client()
        for name, taints in nodes.items():
            await client.create(NODES, {"metadata": {"name": name}, "spec": {"taints": taints}})
        manager = ControllerManager(srv.client(), {"daemonset": DaemonSetController}, leader_elect=False)
        binder, kubelet = FakeBinder(srv.client(), log), FakeKubelet(srv.client(), log, kubelet_delay)
        binder.start()
        kubelet.start()
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            yield srv, client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await binder.stop()
            await kubelet.stop()


async def pods_by_node(client):
    pods = (await client.list(PODS, NS))["items"]
    return {p["spec"].get("nodeName"): p for p in pods if not p["metadata"].get("deletionTimestamp")}


def rolled_out(client, desired, image):
    async def check():
        ds = await client.get(DAEMONSETS, "agent", NS)
        status = ds.get("status") or {}
        on_nodes = await pods_by_node(client)
        return (status.get("observedGeneration") == ds["metadata"]["generation"]
                and status.get("desiredNumberScheduled") == desired and status.get("numberAvailable") == desired
                and status.get("updatedNumberScheduled") == desired and len(on_nodes) == desired
                and all(p["spec"]["containers"][0]["image"] == image and is_pod_ready(p) for p in on_nodes.values()))
    return check


async def test_one_pod_per_untainted_node_and_a_new_node_gets_one():
    taint = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    async with cluster({"n1": [], "n2": [], "n3": taint}) as (srv, client), kubectl_env(srv.url) as kubectl:
        await client.create(DAEMONSETS, daemonset(), NS)
        await wait_for(rolled_out(client, 2, "agent:1"), what="two daemon pods")
        assert sorted(await pods_by_node(client)) == ["n1", "n2"]
        code, out = await kubectl("rollout", "status", "daemonset/agent", "--timeout=20s")
        assert code == 0 and 'daemon set "agent" successfully rolled out' in out, out
        await client.create(NODES, {"metadata": {"name": "n4"}})
        await wait_for(rolled_out(client, 3, "agent:1"), what="a pod on the new node")
        assert sorted(await pods_by_node(client)) == ["n1", "n2", "n4"]
        status = (await client.get(DAEMONSETS, "agent", NS))["status"]
        assert status["currentNumberScheduled"] == 3 and status["numberMisscheduled"] == 0
        assert "numberUnavailable" not in status


async def test_rolling_update_respects_max_unavailable_and_kubectl_undo():
    nodes = {f"n{i}": [] for i in range(4)}
    async with cluster(nodes, kubelet_delay=0.1) as (srv, client), kubectl_env(srv.url) as kubectl:
        await client.create(DAEMONSETS, daemonset(maxUnavailable=1), NS)
        await wait_for(rolled_out(client, 4, "agent:1"), what="four daemon pods")
        worst = 0
        stop = asyncio.Event()

        async def watch_availability():
            nonlocal worst
            while not stop.is_set():
                ready = [p for p in (await pods_by_node(client)).values() if is_pod_ready(p)]
                worst = max(worst, 4 - len(ready))
                await asyncio.sleep(0.01)

        monitor = asyncio.create_task(watch_availability())
        try:
            await client.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "agent:2"}]}}}}, NS, patch_type="strategic")
            await wait_for(rolled_out(client, 4, "agent:2"), timeout=20, what="rolled to agent:2")
        finally:
            stop.set()
            await monitor
        assert worst == 1  # one node at a time, never more
        revisions = sorted((await client.list(CONTROLLERREVISIONS, NS))["items"], key=lambda r: r["revision"])
        assert [r["revision"] for r in revisions] == [1, 2]
        code, out = await kubectl("rollout", "undo", "daemonset/agent")
        assert code == 0 and "rolled back" in out, out
        await wait_for(rolled_out(client, 4, "agent:1"), timeout=20, what="rolled back to agent:1")
        revisions = sorted((await client.list(CONTROLLERREVISIONS, NS))["items"], key=lambda r: r["revision"])
        assert [(r["revision"], r["data"]["spec"]["template"]["spec"]["containers"][0]["image"])
                for r in revisions] == [(2, "agent:2"), (3, "agent:1")]
        code, out = await kubectl("rollout", "history", "daemonset/agent")
        assert code == 0 and [ln.split()[0] for ln in out.splitlines()[2:] if ln.strip()] == ["2", "3"], out
