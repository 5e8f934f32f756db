"""Node-local plugins, table-driven: NodeName, NodeUnschedulable, TaintToleration, NodeAffinity,
NodePorts, NodeResourcesFit, BalancedAllocation."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code
from kybernetes.scheduler.resources import pod_requests
from tests.scheduler.harness import Cluster
from tests.scheduler.objects import make_node, make_pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_node_name_only_matches_its_node():
    c = Cluster([make_node("a"), make_node("b")])
    pod = make_pod("p", spec={"nodeName": "b"})
    assert c.filter("NodeName", pod, "b") is None
    status = c.filter("NodeName", pod, "a")
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ["node(s) didn't match the requested node name"]


@pytest.mark.parametrize("tolerations, fits", [
    ([], False),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True),
    ([{"operator": "Exists"}], True),
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], False),
])
def test_node_unschedulable(tolerations, fits):
    c = Cluster([make_node("cordoned", unschedulable=True)])
    status = c.filter("NodeUnschedulable", make_pod("p", spec={"tolerations": tolerations}), "cordoned")
    if fits:
        assert status is None
    else:
        assert status.reasons == ["node(s) were unschedulable"]
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize("taint, tolerations, fits", [
    (CP_TAINT, [], False),
    (CP_TAINT, [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}], True),
    (CP_TAINT, [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}], True),
    ({"key": "gpu", "value": "yes", "effect": "NoExecute"}, [{"key": "gpu", "value": "no"}], False),
    ({"key": "gpu", "value": "yes", "effect": "NoExecute"}, [{"key": "gpu", "value": "yes"}], True),
    ({"key": "gpu", "value": "yes", "effect": "NoExecute"}, [{"key": "gpu", "operator": "Equal", "value": "yes",
                                                             "effect": "NoSchedule"}], False),
    ({"key": "soft", "effect": "PreferNoSchedule"}, [], True),
])
def test_taint_toleration_filter(taint, tolerations, fits):
    c = Cluster([make_node("n", taints=[taint])])
    status = c.filter("TaintToleration", make_pod("p", spec={"tolerations": tolerations}), "n")
    if fits:
        assert status is None
    else:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert status.reasons == [f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"]


def test_taint_toleration_scores_prefer_no_schedule():
    soft = {"key": "soft", "effect": "PreferNoSchedule"}
    other = {"key": "other", "effect": "PreferNoSchedule"}
    c = Cluster([make_node("clean"), make_node("one", taints=[soft]), make_node("two", taints=[soft, other])])
    assert c.scores("TaintToleration", make_pod("p")) == {"clean": 100, "one": 50, "two": 0}
    tolerant = make_pod("q", spec={"tolerations": [{"key": "soft", "operator": "Exists"}]})
    assert c.scores("TaintToleration", tolerant) == {"clean": 100, "one": 100, "two": 0}


def _affinity(terms=None, preferred=None):
    na = {}
    if terms is not None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    if preferred is not None:
        na["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"affinity": {"nodeAffinity": na}}


NODES = [make_node("a", labels={"zone": "z1", "disk": "ssd", "cores": "8"}),
         make_node("b", labels={"zone": "z2", "cores": "2"}),
         make_node("c", labels={"zone": "z3"})]


@pytest.mark.parametrize("spec, feasible", [
    ({"nodeSelector": {"disk": "ssd"}}, ["a"]),
    ({"nodeSelector": {"disk": "hdd"}}, []),
    (_affinity([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]}]), ["a", "b"]),
    (_affinity([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["z1"]}]}]), ["b", "c"]),
    (_affinity([{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]), ["a"]),
    (_affinity([{"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]}]), ["b", "c"]),
    (_affinity([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]), ["a"]),
    (_affinity([{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}]), ["b"]),
    (_affinity([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]), ["c"]),
    (_affinity([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["c"]}]}]), ["a", "b"]),
    # terms are ORed, expressions inside one term ANDed; an empty term matches nothing
    (_affinity([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]},
                                      {"key": "cores", "operator": "Lt", "values": ["4"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z3"]}]}]), ["c"]),
    (_affinity([{}]), []),
    ({"nodeSelector": {"zone": "z1"}, **_affinity([{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["z2"]}]}])}, []),
])
def test_node_affinity_filter(spec, feasible):
    c = Cluster(NODES)
    assert c.feasible(make_pod("p", spec=spec)) == feasible


def test_node_affinity_message_and_preferred_score():
    c = Cluster(NODES)
    status = c.filter("NodeAffinity", make_pod("p", spec={"nodeSelector": {"disk": "hdd"}}), "a")
    assert status.reasons == ["node(s) didn't match Pod's node affinity/selector"]
    preferred = [{"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In",
                                                                      "values": ["z2"]}]}},
                 {"weight": 30, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]
    assert c.scores("NodeAffinity", make_pod("p", spec=_affinity(preferred=preferred))) == {"a": 100, "b": 33, "c": 0}
    assert c.scores("NodeAffinity", make_pod("p")) == {}  # nothing preferred: skipped


def test_node_ports():
    web = make_pod("web", node_name="a", containers=[{"name": "c", "image": "x", "ports": [
        {"containerPort": 80, "hostPort": 8080}]}])
    c = Cluster([make_node("a"), make_node("b")], [web])

    def wants(port, ip=None, protocol=None):
        p = {"containerPort": 80, "hostPort": port}
        if ip:
            p["hostIP"] = ip
        if protocol:
            p["protocol"] = protocol
        return make_pod("p", containers=[{"name": "c", "image": "x", "ports": [p]}])

    assert c.feasible(wants(8080)) == ["b"]
    assert c.feasible(wants(8080, ip="10.0.0.1")) == ["b"]  # 0.0.0.0 on the node covers every IP
    assert c.feasible(wants(8080, protocol="UDP")) == ["a", "b"]
    assert c.feasible(wants(9090)) == ["a", "b"]
    assert c.filter("NodePorts", wants(8080), "a").reasons == [
        "node(s) didn't have free ports for the requested pod ports"]


def test_pod_requests_with_init_containers_sidecars_and_overhead():
    def c(cpu, memory="0", **extra):
        return {"name": "x", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": memory}}, **extra}

    # max(sum of containers, largest init container)
    spec = {"containers": [c("1"), c("500m")], "initContainers": [c("2"), c("1")]}
    assert pod_requests(spec).milli_cpu == 2000
    spec = {"containers": [c("1"), c("1500m")], "initContainers": [c("2")]}
    assert pod_requests(spec).milli_cpu == 2500
    # a sidecar (restartPolicy Always) runs beside everything after it
    spec = {"containers": [c("1")], "initContainers": [c("500m", restartPolicy="Always"), c("2")]}
    assert pod_requests(spec).milli_cpu == 2500  # init step: 2 + 0.5 sidecar; run: 1 + 0.5
    spec = {"containers": [c("3")], "initContainers": [c("500m", restartPolicy="Always"), c("1")]}
    assert pod_requests(spec).milli_cpu == 3500
    spec = {"containers": [c("1", "1Gi")], "overhead": {"cpu": "250m", "memory": "120Mi"}}
    req = pod_requests(spec)
    assert (req.milli_cpu, req.memory) == (1250, (1024 + 120) * 1024 * 1024)


def test_node_resources_fit_filter_reasons():
    busy = make_pod("busy", node_name="a", cpu="3", memory="1Gi")
    c = Cluster([make_node("a", cpu="4", memory="2Gi", pods="2"), make_node("b", cpu="4", memory="8Gi", pods="1")],
                [busy, make_pod("full", node_name="b")])
    status = c.filter("NodeResourcesFit", make_pod("p", cpu="2", memory="1500Mi"), "a")
    assert status.code == Code.UNSCHEDULABLE
    assert status.reasons == ["Insufficient cpu", "Insufficient memory"]
    status = c.filter("NodeResourcesFit", make_pod("p", cpu="100m"), "b")
    assert status.reasons == ["Too many pods"]
    # asking for more than the node has at all: no eviction helps
    status = c.filter("NodeResourcesFit", make_pod("p", cpu="5"), "a")
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert c.filter("NodeResourcesFit", make_pod("p", cpu="1"), "a") is None


def test_node_resources_fit_extended_resources():
    c = Cluster([make_node("gpu", extra={"nvidia.com/gpu": "2"}), make_node("plain")])
    pod = make_pod("p", containers=[{"name": "c", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1"}}}])
    assert c.feasible(pod) == ["gpu"]
    assert c.filter("NodeResourcesFit", pod, "plain").reasons == ["Insufficient nvidia.com/gpu"]


def test_least_allocated_and_balanced_scores():
    c = Cluster([make_node("empty", cpu="4", memory="4Gi"), make_node("half", cpu="4", memory="4Gi")],
                [make_pod("x", node_name="half", cpu="2", memory="1Gi")])
    pod = make_pod("p", cpu="1", memory="1Gi")
    # LeastAllocated: empty: cpu (4-1)/4=75, mem (4-1)/4=75 -> 75; half: cpu 25, mem 50 -> 37
    assert c.scores("NodeResourcesFit", pod) == {"empty": 75, "half": 37}
    # Balanced: empty: 0.25 vs 0.25 -> 100; half: 0.75 vs 0.5 -> (1 - 0.125) * 100 = 87
    assert c.scores("NodeResourcesBalancedAllocation", pod) == {"empty": 100, "half": 87}
    # the batch forms agree with the one-node forms
    from kybernetes.scheduler.framework import CycleState
    from kybernetes.scheduler.podinfo import PodInfo
    nodes = c.handle.cache.node_list()
    for name in ("NodeResourcesFit", "NodeResourcesBalancedAllocation"):
        plugin = c.plugin(name)
        info = PodInfo(pod)
        assert plugin.score_nodes(CycleState(), info, nodes) == [plugin.score(CycleState(), info, n) for n in nodes]
    assert c.schedule(pod) == "empty"
