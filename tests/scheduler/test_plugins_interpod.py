"""Plugins that look at other pods: PodTopologySpread and InterPodAffinity, table-driven."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code
from tests.scheduler.harness import Cluster
from tests.scheduler.objects import make_node, make_pod


def zone_nodes():
    return [make_node("a1", labels={"zone": "a"}), make_node("a2", labels={"zone": "a"}),
            make_node("b1", labels={"zone": "b"}), make_node("c1", labels={"zone": "c"})]


def web(name, node, **kw):
    return make_pod(name, node_name=node, labels={"app": "web"}, **kw)


def spread(max_skew=1, key="zone", when="DoNotSchedule", **extra):
    return {"topologySpreadConstraints": [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
                                           "labelSelector": {"matchLabels": {"app": "web"}}, **extra}]}


@pytest.mark.parametrize("existing, spec, feasible", [
    # zones a:2 b:1 c:0 -> only c keeps the skew at most 1
    ([("w1", "a1"), ("w2", "a2"), ("w3", "b1")], spread(), ["c1"]),
    ([("w1", "a1"), ("w2", "a2"), ("w3", "b1")], spread(max_skew=2), ["b1", "c1"]),
    ([], spread(), ["a1", "a2", "b1", "c1"]),
    # per node (hostname): a1 has 1, the others none
    ([("w1", "a1")], spread(key="kubernetes.io/hostname"), ["a2", "b1", "c1"]),
    # minDomains 5 > 3 zones: the global minimum counts as 0, so a zone with 1 is already full
    ([("w1", "a1"), ("w2", "b1"), ("w3", "c1")], spread(minDomains=5), []),
    ([("w1", "a1"), ("w2", "b1"), ("w3", "c1")], spread(), ["a1", "a2", "b1", "c1"]),
    # nodeAffinityPolicy Honor (default): zones outside the pod's nodeSelector do not count
    ([("w1", "a1"), ("w2", "b1")], {**spread(), "nodeSelector": {"zone": "a"}}, ["a1", "a2"]),
])
def test_topology_spread_filter(existing, spec, feasible):
    c = Cluster(zone_nodes(), [web(n, node) for n, node in existing])
    assert c.feasible(make_pod("new", labels={"app": "web"}, spec=spec)) == feasible


def test_topology_spread_missing_label_and_message():
    c = Cluster([make_node("a1", labels={"zone": "a"}), make_node("nolabel")], [web("w1", "a1")])
    pod = make_pod("new", labels={"app": "web"}, spec=spread())
    status = c.filter("PodTopologySpread", pod, "nolabel")
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ["node(s) didn't match pod topology spread constraints (missing required label)"]
    c2 = Cluster(zone_nodes(), [web("w1", "a1"), web("w2", "a2")])
    status = c2.filter("PodTopologySpread", pod, "a1")
    assert status.code == Code.UNSCHEDULABLE
    assert status.reasons == ["node(s) didn't match pod topology spread constraints"]


def test_topology_spread_score_prefers_emptier_domains():
    c = Cluster(zone_nodes(), [web("w1", "a1"), web("w2", "a2"), web("w3", "b1")])
    scores = c.scores("PodTopologySpread", make_pod("new", labels={"app": "web"},
                                                    spec=spread(when="ScheduleAnyway")))
    assert scores["c1"] == 100
    assert scores["c1"] > scores["b1"] > scores["a1"] == scores["a2"]


def test_spread_places_replicas_evenly():
    c = Cluster(zone_nodes())
    placed = [c.place(make_pod(f"w{i}", labels={"app": "web"}, spec=spread())) for i in range(6)]
    zones = [{"a1": "a", "a2": "a", "b1": "b", "c1": "c"}[n] for n in placed]
    assert sorted(zones) == ["a", "a", "b", "b", "c", "c"]


def affinity(kind, key, labels, required=True, weight=10, **term_extra):
    term = {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **term_extra}
    if required:
        return {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    return {"affinity": {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "podAffinityTerm": term}]}}}


def test_required_pod_affinity():
    db = make_pod("db", node_name="b1", labels={"app": "db"})
    c = Cluster(zone_nodes(), [db])
    same_zone = make_pod("p", spec=affinity("podAffinity", "zone", {"app": "db"}))
    assert c.feasible(same_zone) == ["b1"]
    same_node = make_pod("p", spec=affinity("podAffinity", "kubernetes.io/hostname", {"app": "db"}))
    assert c.feasible(same_node) == ["b1"]
    status = c.filter("InterPodAffinity", same_zone, "a1")
    assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                             ["node(s) didn't match pod affinity rules"])
    # another namespace does not count unless the term names it
    other_ns = make_pod("p", namespace="other", spec=affinity("podAffinity", "zone", {"app": "db"}))
    assert c.feasible(other_ns) == []
    named = make_pod("p", namespace="other", spec=affinity("podAffinity", "zone", {"app": "db"},
                                                            namespaces=["default"]))
    assert c.feasible(named) == ["b1"]
    c.handle.namespaces["default"] = {"team": "data"}
    by_selector = make_pod("p", namespace="other", spec=affinity(
        "podAffinity", "zone", {"app": "db"}, namespaceSelector={"matchLabels": {"team": "data"}}))
    assert c.feasible(by_selector) == ["b1"]


def test_first_pod_of_a_self_affine_group_goes_anywhere():
    c = Cluster(zone_nodes())
    first = make_pod("cache-0", labels={"app": "cache"}, spec=affinity("podAffinity", "zone", {"app": "cache"}))
    assert c.feasible(first) == ["a1", "a2", "b1", "c1"]
    node = c.place(first)
    second = make_pod("cache-1", labels={"app": "cache"}, spec=affinity("podAffinity", "zone", {"app": "cache"}))
    zone = node[0]
    assert all(n.startswith(zone) for n in c.feasible(second))


def test_required_anti_affinity_both_ways():
    c = Cluster(zone_nodes(), [web("w1", "a1")])
    anti = make_pod("p", labels={"app": "web"}, spec=affinity("podAntiAffinity", "zone", {"app": "web"}))
    assert c.feasible(anti) == ["b1", "c1"]
    status = c.filter("InterPodAffinity", anti, "a2")
    assert (status.code, status.reasons) == (Code.UNSCHEDULABLE, ["node(s) didn't match pod anti-affinity rules"])
    # an existing pod's anti-affinity keeps matching pods out of its domain
    guard = make_pod("guard", node_name="b1", spec=affinity("podAntiAffinity", "kubernetes.io/hostname",
                                                            {"app": "web"}))
    c2 = Cluster(zone_nodes(), [guard])
    plain = make_pod("p", labels={"app": "web"})
    assert c2.feasible(plain) == ["a1", "a2", "c1"]
    status = c2.filter("InterPodAffinity", plain, "b1")
    assert status.reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]


def test_one_replica_per_node_with_anti_affinity():
    c = Cluster(zone_nodes())
    spec = affinity("podAntiAffinity", "kubernetes.io/hostname", {"app": "web"})
    nodes = [c.place(make_pod(f"w{i}", labels={"app": "web"}, spec=spec)) for i in range(4)]
    assert sorted(nodes) == ["a1", "a2", "b1", "c1"]
    from kybernetes.scheduler.framework import FitError
    with pytest.raises(FitError) as err:
        c.place(make_pod("w4", labels={"app": "web"}, spec=spec))
    assert str(err.value) == "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules."


def test_preferred_affinity_and_anti_affinity_scores():
    c = Cluster(zone_nodes(), [make_pod("db", node_name="b1", labels={"app": "db"})])
    near = make_pod("p", spec=affinity("podAffinity", "zone", {"app": "db"}, required=False))
    scores = c.scores("InterPodAffinity", near)
    assert scores["b1"] == 100 and scores["a1"] == scores["c1"] == 0
    away = make_pod("p", spec=affinity("podAntiAffinity", "zone", {"app": "db"}, required=False))
    scores = c.scores("InterPodAffinity", away)
    assert scores["b1"] == 0 and scores["a1"] == scores["c1"] == 100
    assert c.schedule(near) == "b1"


def test_system_default_spreading_for_pods_of_one_controller():
    from kybernetes.api.selectors import selector_from_set

    big = [make_node(f"n{i}", cpu="1000", memory="4Ti") for i in range(3)]  # resources alone: ties
    c = Cluster(big, seed=7)
    c.handle.default_spread_selector = lambda pod: selector_from_set({"app": "web"}) if pod.labels else None
    placed = [c.place(make_pod(f"w{i}", labels={"app": "web"})) for i in range(6)]
    assert sorted(placed) == ["n0", "n0", "n1", "n1", "n2", "n2"]
    assert c.scores("PodTopologySpread", make_pod("lonely")) == {}  # no group: no default spreading


async def test_default_selector_from_services_and_owners(srv, client):
    from kybernetes.client import SharedInformerFactory
    from kybernetes.client.resource import REPLICASETS, REPLICATIONCONTROLLERS, SERVICES, STATEFULSETS
    from kybernetes.scheduler.default_selector import DefaultSpreadSelector
    from kybernetes.scheduler.podinfo import PodInfo

    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    await client.create(REPLICASETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1"},
                                      "spec": {"selector": {"matchLabels": {"app": "web", "hash": "1"}},
                                               "template": {"metadata": {"labels": {"app": "web", "hash": "1"}},
                                                            "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    factory = SharedInformerFactory(client)
    informers = [factory.informer_for(r) for r in (SERVICES, REPLICASETS, STATEFULSETS, REPLICATIONCONTROLLERS)]
    factory.start()
    try:
        assert await factory.wait_for_cache_sync(5)
        select = DefaultSpreadSelector(*informers)
        owned = make_pod("w", labels={"app": "web", "hash": "1"})
        owned["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                                 "uid": "u", "controller": True}]
        selector = select(PodInfo(owned))
        assert selector.matches({"app": "web", "hash": "1"}) and not selector.matches({"app": "web", "hash": "2"})
        assert select(PodInfo(make_pod("other", labels={"app": "db"}))) is None
    finally:
        await factory.shutdown()
