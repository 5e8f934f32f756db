"""DefaultPreemption on a seeded cache: eligibility, victims, the choice of node, PDBs."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.framework import Code, CycleState, FitError
from kybernetes.scheduler.podinfo import PodInfo
from tests.scheduler.harness import Cluster
from tests.scheduler.objects import make_node, make_pod


def preempt(c: Cluster, pod: dict):
    info = PodInfo(pod)
    state = CycleState()
    with pytest.raises(FitError) as err:
        c.algorithm.schedule(c.profile, state, info)
    return c.plugin("DefaultPreemption").post_filter(state, info, err.value.diagnosis.node_statuses)


def test_picks_the_node_with_the_least_important_victims():
    c = Cluster([make_node("n1", cpu="2"), make_node("n2", cpu="2")], [
        make_pod("a", node_name="n1", cpu="1", priority=50), make_pod("b", node_name="n1", cpu="1", priority=5),
        make_pod("c", node_name="n2", cpu="1", priority=10), make_pod("d", node_name="n2", cpu="1", priority=10)])
    node, status = preempt(c, make_pod("vip", cpu="1", priority=100))
    assert (node, status.code) == ("n1", Code.SUCCESS)  # n1 loses b (5); n2 would lose a 10
    assert len(c.handle.spawned) == 1  # the evictions run off the scheduling cycle
    # the what-ifs left the cache as it was
    assert sorted(c.handle.cache.get_node("n1").pods) == ["default/a", "default/b"]
    assert c.handle.cache.get_node("n1").requested.milli_cpu == 2000


def test_victims_are_the_fewest_needed():
    c = Cluster([make_node("n1", cpu="3")], [
        make_pod("x", node_name="n1", cpu="1", priority=1), make_pod("y", node_name="n1", cpu="1", priority=2),
        make_pod("z", node_name="n1", cpu="1", priority=3)])
    plugin = c.plugin("DefaultPreemption")
    victims, violations, failure = plugin._select_victims(PodInfo(make_pod("vip", cpu="2", priority=10)), "n1")
    assert failure is None and violations == 0
    assert sorted(v.name for v in victims) == ["x", "y"]  # z (most important) is reprieved


def test_pdb_protected_pods_are_spared_when_possible():
    c = Cluster([make_node("n1", cpu="1"), make_node("n2", cpu="1")], [
        make_pod("guarded", node_name="n1", cpu="1", priority=1, labels={"app": "db"}),
        make_pod("free", node_name="n2", cpu="1", priority=1, labels={"app": "web"})])
    c.handle.pdb_list = [{"metadata": {"name": "db", "namespace": "default"},
                          "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 0}}]
    node, status = preempt(c, make_pod("vip", cpu="1", priority=10))
    assert node == "n2"


def test_not_eligible_and_not_helpful():
    c = Cluster([make_node("n1", cpu="1")], [make_pod("busy", node_name="n1", cpu="1", priority=1)])
    node, status = preempt(c, make_pod("never", cpu="1", priority=10, spec={"preemptionPolicy": "Never"}))
    assert node is None and status.message == "preemption: not eligible due to preemptionPolicy=Never."
    node, status = preempt(c, make_pod("huge", cpu="2", priority=10))
    assert node is None
    assert status.message == ("preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    node, status = preempt(c, make_pod("peer", cpu="1", priority=1))
    assert status.message == ("preemption: 0/1 nodes are available: 1 No preemption victims found for "
                              "incoming pod.")
