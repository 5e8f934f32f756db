"""The node agent against the real apiserver: registration, leases and status on a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import time

from kybernetes.client.resource import LEASES, NODES
from kybernetes.kubelet.node import NodeAgent
from kybernetes.kubelet.node_status import NodeConfig
from kybernetes.kubelet.runtime.fake import FakeRuntime
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

from .conftest import running


def config(**kw) -> NodeConfig:
    return NodeConfig(name=kw.pop("name", "n1"), internal_ip="198.18.0.1", kubelet_version="v1.36.2", **kw)


async def test_registration_writes_the_node_as_a_kubelet_does(client):
    agent = NodeAgent(client, config(cpu="8", memory="32Gi", pods=50), FakeRuntime())
    await agent.register()
    node = await client.get(NODES, "n1")
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "n1"
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
    status = node["status"]
    assert status["capacity"]["cpu"] == "8" and status["allocatable"]["memory"] == "32Gi"
    assert status["capacity"]["pods"] == "50"
    assert status["addresses"] == [{"type": "InternalIP", "address": "198.18.0.1"},
                                   {"type": "Hostname", "address": "n1"}]
    assert status["nodeInfo"]["kubeletVersion"] == "v1.36.2"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "KubeletReady"
    assert conditions["Ready"]["message"] == "kubelet is posting ready status"
    for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conditions[kind]["status"] == "False" and conditions[kind]["lastHeartbeatTime"]
    assert agent.node_uid == node["metadata"]["uid"]


async def test_registering_again_keeps_the_node_and_restores_labels(client):
    first = NodeAgent(client, config(), FakeRuntime())
    await first.register()
    await client.patch(NODES, "n1", {"metadata": {"labels": {"kubernetes.io/os": "plan9", "team": "a"}}})
    again = NodeAgent(client, config(), FakeRuntime())
    await again.register()
    node = await client.get(NODES, "n1")
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert node["metadata"]["labels"]["team"] == "a"
    assert again.node_uid == first.node_uid


async def test_lease_is_created_then_renewed_every_ten_seconds(client):
    clock = FakeClock()
    agent = NodeAgent(client, config(), FakeRuntime(clock=clock), clock=clock)
    task = asyncio.create_task(agent.run())
    try:
        await eventually(lambda: agent.lease_renewals == 1, 5, "the first lease")
        lease = await client.get(LEASES, "n1", "kube-node-lease")
        assert lease["spec"]["holderIdentity"] == "n1"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["spec"]["renewTime"] == "2026-01-01T00:00:00.000000Z"
        assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
        assert lease["metadata"]["ownerReferences"][0]["uid"] == agent.node_uid
        await advance_until(clock, lambda: agent.lease_renewals == 2, step=10)
        await advance_until(clock, lambda: agent.lease_renewals == 3, step=10)
        lease = await client.get(LEASES, "n1", "kube-node-lease")
        assert lease["spec"]["renewTime"] == "2026-01-01T00:00:20.000000Z"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_status_is_written_when_it_changes_or_the_report_is_due(client):
    clock = FakeClock()
    agent = NodeAgent(client, config(status_report_frequency=60), FakeRuntime(clock=clock), clock=clock)
    await agent.register()
    assert await agent.report_status() is False  # nothing changed, nothing due
    await clock.advance(61)
    assert await agent.report_status() is True
    node = await client.get(NODES, "n1")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "2026-01-01T00:01:01Z"
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    # Someone (the node lifecycle controller) marks the node Unknown: the next tick corrects it.
    conditions = [{**c, "status": "Unknown"} if c["type"] == "Ready" else c for c in node["status"]["conditions"]]
    await client.patch(NODES, "n1", {"status": {"conditions": conditions}}, subresource="status")
    assert await agent.report_status() is True
    node = await client.get(NODES, "n1")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["lastTransitionTime"] == "2026-01-01T00:01:01Z"


async def test_fifty_nodes_register_and_hold_leases_quickly(client):
    started = time.monotonic()
    async with running(client, count=50) as group:
        took = time.monotonic() - started
        nodes = await client.list(NODES)
        assert sorted(n["metadata"]["name"] for n in nodes["items"]) == sorted(f"sim-node-{i}" for i in range(50))
        assert all(n["metadata"]["labels"]["type"] == "simulated" for n in nodes["items"])
        assert {n["status"]["nodeInfo"]["osImage"] for n in nodes["items"]} == {"Kybernetes simulated node"}
        assert {n["status"]["nodeInfo"]["containerRuntimeVersion"] for n in nodes["items"]} == {"fake://0.1.0"}
        await eventually(lambda: all(k.agent.lease_renewals for k in group.kubelets.values()), 5, "50 leases")
        leases = await client.list(LEASES, "kube-node-lease")
        assert len(leases["items"]) == 50
        assert len({n["status"]["addresses"][0]["address"] for n in nodes["items"]}) == 50
    assert took < 5, f"50 simulated nodes took {took:.1f} s to register"


async def advance_until(clock: FakeClock, condition, step: float, rounds: int = 50) -> None:
    for _ in range(rounds):
        if condition():
            return
        await clock.advance(step)
        for _ in range(20):  # let real I/O (the apiserver round trip) finish
            if condition():
                return
            await asyncio.sleep(0.01)
    assert condition(), "the condition never held"
