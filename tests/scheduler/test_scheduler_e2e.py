"""The scheduler against a real (in-process) apiserver, with Node objects and no kubelets."""

from __future__ import annotations

import asyncio

from kybernetes.client.resource import EVENTS, NODES, PODS, PRIORITYCLASSES
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.testing import eventually
from tests.scheduler.conftest import running
from tests.scheduler.objects import make_node, make_pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


async def node_of(client, name, namespace="default", timeout=5.0) -> str:
    result = {}

    async def bound() -> bool:
        pod = await client.get(PODS, name, namespace)
        result["node"] = pod["spec"].get("nodeName") or ""
        return bool(result["node"])

    deadline = asyncio.get_running_loop().time() + timeout
    while not await bound():
        assert asyncio.get_running_loop().time() < deadline, f"pod {name} was not bound in {timeout} s"
        await asyncio.sleep(0.02)
    return result["node"]


async def wait_condition(client, name, message_start, timeout=5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pod = await client.get(PODS, name)
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and (c.get("message") or "").startswith(message_start):
                return pod
        assert asyncio.get_running_loop().time() < deadline, f"no PodScheduled condition on {name}: {pod['status']}"
        await asyncio.sleep(0.02)


async def events_for(client, name) -> list[tuple[str, str, str]]:
    items = (await client.list(EVENTS, "default"))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


async def test_unschedulable_message_then_scheduled_when_a_node_is_added(client, scheduler):
    await client.create(NODES, make_node("cp", taints=[CP_TAINT]))
    await client.create(NODES, make_node("w1", cpu="1"))
    await client.create(NODES, make_node("w2", cpu="1"))
    await client.create(PODS, make_pod("web-1", cpu="2"))
    expected = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
                "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    pod = await wait_condition(client, "web-1", "0/3 nodes")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", expected)
    await eventually(lambda: scheduler.queue.pending()["unschedulable"] == ["default/web-1"], what="unschedulable")
    assert ("Warning", "FailedScheduling", expected) in await events_for(client, "web-1")

    await client.create(NODES, make_node("w3", cpu="4"))
    assert await node_of(client, "web-1") == "w3"
    pod = await client.get(PODS, "web-1")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "True"
    await eventually(lambda: scheduler.stats.bound == 1, what="bound")
    for _ in range(100):
        if ("Normal", "Scheduled", "Successfully assigned default/web-1 to w3") in await events_for(client, "web-1"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("no Scheduled event")


async def test_placement_by_taints_affinity_anti_affinity_spread_and_resources(client, scheduler):
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c")):
        await client.create(NODES, make_node(name, cpu="2", labels={"zone": zone}))
    await client.create(NODES, make_node("gpu", labels={"zone": "c"}, taints=[
        {"key": "gpu", "value": "true", "effect": "NoSchedule"}]))
    tolerant = make_pod("gpu-job", spec={"nodeSelector": {"zone": "c"}, "tolerations": [
        {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu"]}]}]}}}})
    await client.create(PODS, tolerant)
    assert await node_of(client, "gpu-job") == "gpu"

    anti = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}}}
    for i in range(3):
        await client.create(PODS, make_pod(f"db-{i}", labels={"app": "db"}, spec=anti))
    zones = set()
    for i in range(3):
        node = await node_of(client, f"db-{i}")
        zones.add({"a1": "a", "a2": "a", "b1": "b", "c1": "c", "gpu": "c"}[node])
    assert zones == {"a", "b", "c"}

    near = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}}
    await client.create(PODS, make_pod("sidecar", spec=near))
    db_nodes = {await node_of(client, f"db-{i}") for i in range(3)}
    assert await node_of(client, "sidecar") in db_nodes

    spread = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable":
                                             "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
              "nodeSelector": {"zone": "a"}}
    for i in range(2):
        await client.create(PODS, make_pod(f"web-{i}", labels={"app": "web"}, cpu="1500m", spec=spread))
    assert {await node_of(client, "web-0"), await node_of(client, "web-1")} == {"a1", "a2"}


async def test_preemption_by_priority_class(client, scheduler):
    await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                          "metadata": {"name": "high"}, "value": 1000})
    await client.create(NODES, make_node("only", cpu="2"))
    low = make_pod("low", cpu="1500m", spec={"terminationGracePeriodSeconds": 0})
    await client.create(PODS, low)
    assert await node_of(client, "low") == "only"
    await eventually(lambda: scheduler.pod_informer.get("default/low") is not None
                     and scheduler.pod_informer.get("default/low")["spec"].get("nodeName"), what="cached")
    await client.create(PODS, make_pod("vip", cpu="1500m", spec={"priorityClassName": "high"}))
    assert await node_of(client, "vip", timeout=10) == "only"
    assert await client.get_or_none(PODS, "low") is None
    vip = await client.get(PODS, "vip")
    assert vip["status"].get("nominatedNodeName") in ("only", None)
    preempted = [e for e in await events_for(client, "low") if e[1] == "Preempted"]
    assert preempted and preempted[0][2].startswith("Preempted by pod ")


async def test_preemption_policy_never_and_no_victims(client, scheduler):
    await client.create(NODES, make_node("only", cpu="1"))
    await client.create(PODS, make_pod("first", cpu="1", priority=10))
    assert await node_of(client, "first") == "only"
    await eventually(lambda: scheduler.cache.get_pod("default/first") is not None
                     and not scheduler.cache.is_assumed("default/first"), what="confirmed")
    await client.create(PODS, make_pod("polite", cpu="1", priority=100, spec={"preemptionPolicy": "Never"}))
    pod = await wait_condition(client, "polite", "0/1 nodes")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["message"] == ("0/1 nodes are available: 1 Insufficient cpu. "
                               "preemption: not eligible due to preemptionPolicy=Never.")
    await client.create(PODS, make_pod("equal", cpu="1", priority=10))
    pod = await wait_condition(client, "equal", "0/1 nodes")
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                               "available: 1 No preemption victims found for incoming pod.")


async def test_pods_for_other_schedulers_are_left_alone(srv, client, scheduler):
    await client.create(NODES, make_node("n1"))
    await client.create(PODS, make_pod("mine"))
    await client.create(PODS, make_pod("theirs", spec={"schedulerName": "other-scheduler"}))
    assert await node_of(client, "mine") == "n1"
    await asyncio.sleep(0.2)
    assert not (await client.get(PODS, "theirs"))["spec"].get("nodeName")
    async with srv.client() as c2, running(Scheduler(c2, scheduler_names=["other-scheduler"])):
        assert await node_of(client, "theirs") == "n1"


async def test_deleted_pending_pod_is_dropped_and_bound_pods_count(client, scheduler):
    await client.create(NODES, make_node("small", cpu="1", pods="2"))
    await client.create(PODS, make_pod("bound-elsewhere", node_name="small", cpu="500m"))
    await client.create(PODS, make_pod("p1", cpu="500m"))
    assert await node_of(client, "p1") == "small"
    await client.create(PODS, make_pod("p2", cpu="100m"))
    pod = await wait_condition(client, "p2", "0/1 nodes")
    assert "1 Too many pods" in pod["status"]["conditions"][-1]["message"]
    await client.delete(PODS, "p2")
    await eventually(lambda: "default/p2" not in scheduler.queue, what="p2 gone from the queue")
