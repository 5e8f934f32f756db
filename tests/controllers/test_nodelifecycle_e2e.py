"""A node whose Lease stops renewing, end to end: the node lifecycle, taint eviction and
ReplicaSet controllers in a controller-manager on a FakeClock against a real apiserver.

n1 goes silent while n2 keeps renewing: after the 40 s grace n1 is Unknown and tainted
unreachable (NoSchedule and NoExecute), its pod is not ready; after the pod's default 300 s
toleration it is marked DisruptionTarget and deleted, and its ReplicaSet makes a replacement."""

from __future__ import annotations

import asyncio
import contextlib

from kybernetes.client.resource import LEASES, NODES, PODS, REPLICASETS
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.nodelifecycle import NodeLifecycleController
from kybernetes.controllers.nodelifecycle_tainteviction import TaintEvictionController
from kybernetes.controllers.replicaset import ReplicaSetController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"


async def make_node(client, clock, name):
    node = await client.create(NODES, {"metadata": {"name": name}})
    now = clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
    node["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                      "lastHeartbeatTime": now, "lastTransitionTime": now}]}
    await client.update_status(NODES, node)


async def renew(client, clock, name):
    renew_time = clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = await client.get_or_none(LEASES, name, "kube-node-lease")
    spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew_time}
    if lease is None:
        await client.create(LEASES, {"metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec})
    else:
        lease["spec"] = spec
        await client.update(LEASES, lease)
    return renew_time


async def bind_and_run(client, pod_name, node):
    await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod_name},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                        NS, name=pod_name, subresource="binding")
    await client.patch(PODS, pod_name, {"status": {"phase": "Running", "podIP": "10.42.0.9", "conditions": [
        {"type": "Ready", "status": "True"}]}}, NS, subresource="status")


async def test_silent_node_is_tainted_and_its_pods_evicted_and_replaced():
    clock = FakeClock()
    async with TestApiServer() as srv, srv.client() as client:
        for name in ("n1", "n2"):
            await make_node(client, clock, name)
            await renew(client, clock, name)
        manager = ControllerManager(srv.client(), {"nodelifecycle": NodeLifecycleController,
                                                   "taint-eviction-controller": TaintEvictionController,
                                                   "replicaset": ReplicaSetController},
                                    clock=clock, leader_elect=False)
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            nlc = manager.controllers["nodelifecycle"]
            await client.create(REPLICASETS, {"metadata": {"name": "web"}, "spec": {
                "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, NS)

            async def pods():
                return (await client.list(PODS, NS))["items"]

            await eventually(lambda: len(manager.controllers["replicaset"].pods.list()) == 2, what="2 pods")
            first, second = sorted(p["metadata"]["name"] for p in await pods())
            await bind_and_run(client, first, "n1")
            await bind_and_run(client, second, "n2")
            await eventually(lambda: set(nlc.health) == {"n1", "n2"}, what="nodes observed")

            async def advance(seconds):
                """Move time in 10 s steps; n2 renews its lease every step, n1 never."""
                for _ in range(int(seconds // 10)):
                    renew_time = await renew(client, clock, "n2")
                    await eventually(lambda rt=renew_time: nlc.health["n2"].lease_renew == rt, what="n2 renewal seen")
                    await clock.advance(10)

            await advance(50)
            node = None

            async def n1_tainted():
                nonlocal node
                node = await client.get(NODES, "n1")
                return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []} == {
                    ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}

            await poll(n1_tainted, "n1 tainted unreachable")
            assert node["status"]["conditions"][0]["status"] == "Unknown"
            n2 = await client.get(NODES, "n2")
            assert n2["status"]["conditions"][0]["status"] == "True" and not (n2.get("spec") or {}).get("taints")

            async def first_not_ready():
                pod = await client.get(PODS, first, NS)
                return pod["status"]["conditions"][0]["status"] == "False"

            await poll(first_not_ready, "pod on n1 not ready")
            assert not (await client.get(PODS, first, NS))["metadata"].get("deletionTimestamp")

            await advance(310)  # the default toleration: 300 s after the taint was seen

            async def evicted_and_replaced():
                items = await pods()
                gone = next((p for p in items if p["metadata"]["name"] == first), None)
                live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
                return (gone is None or gone["metadata"].get("deletionTimestamp")) and len(live) == 2

            await poll(evicted_and_replaced, "pod evicted and replaced")
            evicted = await client.get(PODS, first, NS)  # terminating: no kubelet on n1 to confirm
            conditions = {c["type"]: c for c in evicted["status"]["conditions"]}
            assert conditions["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
            assert conditions["Ready"]["status"] == "False"
            assert (await client.get(PODS, second, NS))["metadata"].get("deletionTimestamp") is None
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await manager.client.close()


async def poll(check, what, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
