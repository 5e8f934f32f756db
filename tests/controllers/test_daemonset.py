"""DaemonSet controller: node eligibility and update planning as pure functions, then reconcile as
a step against a real apiserver, asserting the actions taken (RecordingClient)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from kybernetes.client.informer import SharedInformerFactory
from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, EVENTS, NODES, PODS
from kybernetes.controllers import daemonset_nodes as dn
from kybernetes.controllers import daemonset_update as du
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.controllerrevision import REVISION_HASH_LABEL
from kybernetes.controllers.daemonset import DaemonSetController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

NS = "default"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def daemonset(name="agent", image="agent:1", **spec):
    return {"metadata": {"name": name, "namespace": NS, "uid": "ds-uid", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


def node(name, labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def pod(name, node_name, hash_="h1", ready=True, ready_ago=600, created="2026-01-01T00:00:00Z", phase="Running"):
    when = (NOW - timedelta(seconds=ready_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": name, "labels": {"app": "agent", REVISION_HASH_LABEL: hash_},
                         "creationTimestamp": created},
            "spec": {"nodeName": node_name},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                       "lastTransitionTime": when}]}}


# -- eligibility -----------------------------------------------------------------------------------

def test_daemon_pods_tolerate_node_condition_taints_but_not_others():
    ds = daemonset()
    assert dn.node_should_run(node("n1"), ds) == (True, True)
    pressure = node("n2", taints=[{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
                                  {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    assert dn.node_should_run(pressure, ds) == (True, True)
    no_schedule = node("n3", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    assert dn.node_should_run(no_schedule, ds) == (False, True)  # a running pod may stay
    no_execute = node("n4", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}])
    assert dn.node_should_run(no_execute, ds) == (False, False)
    tolerant = daemonset()
    tolerant["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Equal",
                                                            "value": "db"}]
    assert dn.node_should_run(no_execute, tolerant) == (True, True)
    network = node("n5", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert dn.node_should_run(network, ds) == (False, True)
    host = daemonset()
    host["spec"]["template"]["spec"]["hostNetwork"] = True
    assert dn.node_should_run(network, host) == (True, True)


def test_node_selector_and_required_affinity_pick_nodes():
    ds = daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert dn.node_should_run(node("a", {"disk": "ssd"}), ds)[0]
    assert dn.node_should_run(node("b", {"disk": "hdd"}), ds) == (False, False)
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
                              {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}]}}}
    assert dn.node_should_run(node("x", {"zone": "b"}), ds)[0]
    assert dn.node_should_run(node("special"), ds)[0]
    assert not dn.node_should_run(node("y", {"zone": "c"}), ds)[0]


def test_pods_are_pinned_with_a_metadata_name_term_and_tolerations():
    pinned = dn.pin_to_node({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}},
        "podAffinity": {"x": 1}}, "n7")
    assert pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    assert pinned["podAffinity"] == {"x": 1}
    assert dn.target_node({"spec": {"affinity": pinned}}) == "n7"
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}]}
    dn.add_daemon_tolerations(spec)
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert len(keys) == 6 and ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    assert "tolerationSeconds" not in spec["tolerations"][0]  # replaced: daemons are never evicted


# -- update planning -------------------------------------------------------------------------------

def _nodes(*names):
    return {n: node(n) for n in names}


def test_rolling_update_without_surge_respects_max_unavailable():
    ds = daemonset(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}})
    on_nodes = {f"n{i}": [pod(f"p{i}", f"n{i}", hash_="old")] for i in range(4)}
    delete, create = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2", "n3"), "new", NOW, lambda n: True)
    assert [p["metadata"]["name"] for p in delete] == ["p0", "p1"] and create == []
    # One new pod still unavailable: only one more old pod may go.
    on_nodes["n0"] = [pod("q0", "n0", hash_="new", ready=False)]
    delete, _ = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2", "n3"), "new", NOW, lambda n: True)
    assert [p["metadata"]["name"] for p in delete] == ["p1"]
    # An old pod that is unavailable anyway is replaced at once, beyond the budget.
    on_nodes["n3"] = [pod("p3", "n3", hash_="old", ready=False)]
    delete, _ = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2", "n3"), "new", NOW, lambda n: True)
    assert sorted(p["metadata"]["name"] for p in delete) == ["p3"]


def test_rolling_update_with_surge_creates_beside_and_deletes_once_available():
    ds = daemonset(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    on_nodes = {f"n{i}": [pod(f"p{i}", f"n{i}", hash_="old")] for i in range(3)}
    delete, create = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2"), "new", NOW, lambda n: True)
    assert delete == [] and create == ["n0"]
    on_nodes["n0"].append(pod("q0", "n0", hash_="new", ready=False))
    delete, create = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2"), "new", NOW, lambda n: True)
    assert delete == [] and create == []  # the surge slot is taken until q0 is available
    on_nodes["n0"][1] = pod("q0", "n0", hash_="new")
    delete, create = du.plan_rolling(ds, on_nodes, _nodes("n0", "n1", "n2"), "new", NOW, lambda n: True)
    assert [p["metadata"]["name"] for p in delete] == ["p0"] and create == ["n1"]


def test_plan_node_keeps_the_oldest_and_replaces_failed_pods():
    ds = daemonset()
    older = pod("a", "n1", created="2026-01-01T00:00:00Z")
    newer = pod("b", "n1", created="2026-01-01T00:01:00Z")
    assert du.plan_node(ds, True, True, [newer, older], "h1", NOW, lambda p: True) == (False, [newer])
    failed = pod("c", "n1", phase="Failed")
    assert du.plan_node(ds, True, True, [failed], "h1", NOW, lambda p: True) == (False, [failed])
    assert du.plan_node(ds, True, True, [failed], "h1", NOW, lambda p: False) == (False, [])
    assert du.plan_node(ds, True, True, [], "h1", NOW, lambda p: True) == (True, [])
    assert du.plan_node(ds, False, False, [older], "h1", NOW, lambda p: True) == (False, [older])


# -- reconcile as a step ---------------------------------------------------------------------------

class Harness:
    def __init__(self, srv: TestApiServer):
        self.client = RecordingClient(srv.url, qps=0)
        self.seed = srv.client()
        self.informers = SharedInformerFactory(self.client)
        self.ctrl = DaemonSetController(ControllerContext(self.client, self.informers, FakeClock()))

    async def settle(self):
        for informer, resource, ns in ((self.ctrl.pods, PODS, NS), (self.ctrl.revisions, CONTROLLERREVISIONS, NS),
                                       (self.ctrl.nodes, NODES, None), (self.ctrl.daemonsets, DAEMONSETS, NS)):
            items = (await self.seed.list(resource, ns))["items"]
            want = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}
            await eventually(lambda inf=informer, w=want: {
                o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.list()} == w,
                what=f"{resource} cache in sync")

    async def reconcile(self, name="agent"):
        await self.settle()
        self.client.clear()
        await self.ctrl.reconcile(f"{NS}/{name}")
        await self.settle()

    def pod_actions(self):
        return [(a.verb, a.body) for a in self.client.actions if a.resource == "pods"]

    async def pods(self):
        return (await self.seed.list(PODS, NS))["items"]


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
            await h.seed.close()


async def test_one_pod_per_eligible_node_pinned_by_affinity_then_status():
    async with harness() as h:
        for name in ("n1", "n2"):
            await h.seed.create(NODES, node(name))
        await h.seed.create(NODES, node("n3", taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]))
        ds = await h.seed.create(DAEMONSETS, {k: v for k, v in daemonset().items() if k != "metadata"} |
                                 {"metadata": {"name": "agent"}}, NS)
        await h.reconcile()
        creates = [body for verb, body in h.pod_actions() if verb == "create"]
        assert len(creates) == 2
        targets = sorted(dn.target_node(b) for b in creates)
        assert targets == ["n1", "n2"]
        revision = (await h.seed.list(CONTROLLERREVISIONS, NS))["items"][0]
        hash_ = revision["metadata"]["labels"][REVISION_HASH_LABEL]
        assert revision["metadata"]["name"] == f"agent-{hash_}" and revision["revision"] == 1
        assert revision["data"]["spec"]["template"]["$patch"] == "replace"
        body = creates[0]
        assert body["metadata"]["labels"][REVISION_HASH_LABEL] == hash_
        assert body["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
        assert any(t["key"] == "node.kubernetes.io/not-ready" for t in body["spec"]["tolerations"])
        # Seen: nothing more to create; the status counts desired 2, scheduled 2, none ready yet.
        await h.reconcile()
        assert h.pod_actions() == []
        status = (await h.seed.get(DAEMONSETS, "agent", NS))["status"]
        assert status["desiredNumberScheduled"] == 2 and status["currentNumberScheduled"] == 2
        assert status["numberReady"] == 0 and status["numberUnavailable"] == 2
        assert status["updatedNumberScheduled"] == 2 and status["observedGeneration"] == 1
        reasons = [e["reason"] for e in (await h.seed.list(EVENTS, NS))["items"]]
        assert reasons.count("SuccessfulCreate") == 2


async def test_pods_on_a_node_that_stops_being_eligible_are_deleted():
    async with harness() as h:
        await h.seed.create(NODES, node("n1", {"role": "edge"}))
        await h.seed.create(NODES, node("n2", {"role": "edge"}))
        body = daemonset()
        body["spec"]["template"]["spec"]["nodeSelector"] = {"role": "edge"}
        await h.seed.create(DAEMONSETS, {"metadata": {"name": "agent"}, "spec": body["spec"]}, NS)
        await h.reconcile()
        assert len(await h.pods()) == 2
        await h.seed.patch(NODES, "n2", {"metadata": {"labels": {"role": "core"}}})
        await h.reconcile()
        deleted = [v for v, _ in h.pod_actions() if v == "delete"]
        assert deleted == ["delete"]
        assert [dn.target_node(p) for p in await h.pods()] == ["n1"]
