"""Framework pieces: statuses, fit error messages, profiles, sampling, the algorithm."""

from __future__ import annotations

import pytest

from kybernetes.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    FitError,
    NoNodesError,
    Plugin,
    Status,
    fit_error_message,
    unresolvable,
)
from kybernetes.scheduler.plugins import default_plugins
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.profile import PluginConfig, Profile
from tests.scheduler.harness import Cluster, FakeHandle
from tests.scheduler.objects import make_node, make_pod


def test_fit_error_message_shape():
    taint = unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")
    statuses = {"cp": taint, "w1": Status(Code.UNSCHEDULABLE, "Insufficient cpu"),
                "w2": Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory")}
    d = Diagnosis(node_statuses=statuses, post_filter_message=(
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."))
    assert fit_error_message(3, d) == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert fit_error_message(2, Diagnosis(pre_filter_message="boom")) == "0/2 nodes are available: boom."


def test_whole_message_from_the_algorithm():
    cp = make_node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    c = Cluster([cp, make_node("w1", cpu="1"), make_node("w2", cpu="1")])
    with pytest.raises(FitError) as err:
        c.schedule(make_pod("big", cpu="2"))
    assert str(err.value) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")
    assert err.value.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}
    with pytest.raises(NoNodesError, match="no nodes available to schedule pods"):
        Cluster([]).schedule(make_pod("p"))


@pytest.mark.parametrize("nodes, percentage, expected", [
    (50, None, 50), (99, None, 99), (100, None, 100), (1000, None, 420), (5000, None, 500),
    (6000, None, 300), (10000, None, 500), (1000, 10, 100), (1000, 30, 300), (1000, 100, 1000),
])
def test_nodes_to_find(nodes, percentage, expected):
    assert num_feasible_nodes_to_find(nodes, percentage) == expected


def test_sampling_rotates_the_starting_node():
    c = Cluster([make_node(f"n{i:03}", cpu="64") for i in range(200)])
    state = CycleState()
    feasible, _ = c.algorithm.find_nodes_that_fit(c.profile, state, PodInfo(make_pod("p")),
                                                  c.handle.cache.node_list())
    assert len(feasible) == 100 and feasible[0].name == "n000"
    assert c.algorithm.next_start_index == 100
    feasible, _ = c.algorithm.find_nodes_that_fit(c.profile, CycleState(), PodInfo(make_pod("q")),
                                                  c.handle.cache.node_list())
    assert feasible[0].name == "n100"


def test_chunked_filtering_matches_one_by_one():
    nodes = [make_node(f"n{i:03}", cpu="2" if i % 3 else "1") for i in range(300)]
    c = Cluster(nodes)
    state = CycleState()
    pod = PodInfo(make_pod("p", cpu="1500m"))
    filters = c.profile.filters_for(state)
    d1, d2 = Diagnosis(), Diagnosis()
    all_nodes = c.handle.cache.node_list()
    a, pa = c.algorithm._filter_in_chunks(filters, state, pod, all_nodes, 150, d1)
    b, pb = c.algorithm._filter_one_by_one(filters, state, pod, all_nodes, 150, d2)
    assert [n.name for n in a] == [n.name for n in b] and pa == pb
    assert d1.node_statuses.keys() >= d2.node_statuses.keys()


class Recorder(Plugin):
    NAME = "Recorder"
    calls: list[str] = []

    def pre_filter(self, state, pod):
        self.calls.append("pre_filter")
        return None, None

    def filter(self, state, pod, node):
        self.calls.append(f"filter {node.name}")
        return None if node.name == "b" else Status(Code.UNSCHEDULABLE, "not b")

    def score(self, state, pod, node):
        return 7

    def reserve(self, state, pod, node):
        self.calls.append(f"reserve {node}")
        return Status(Code.ERROR, "no room") if pod.name == "refused" else None

    def unreserve(self, state, pod, node):
        self.calls.append(f"unreserve {node}")


def test_profile_runs_hooks_in_order():
    handle = FakeHandle()
    for n in ("a", "b"):
        handle.cache.add_node(make_node(n))
    profile = Profile("custom", [*default_plugins(), PluginConfig(Recorder)], handle)
    assert profile.points["reserve"][0].NAME == "Recorder"
    Recorder.calls = []
    result = Algorithm(handle.cache).schedule(profile, CycleState(), PodInfo(make_pod("p")))
    assert result.node == "b"
    assert Recorder.calls == ["pre_filter", "filter a", "filter b"]
    state = CycleState()
    status = profile.run_reserve(state, PodInfo(make_pod("refused")), "b")
    assert status.code == Code.ERROR and status.plugin == "Recorder"
    assert Recorder.calls[-2:] == ["reserve b", "unreserve b"]
    with pytest.raises(ValueError, match="bind plugin"):
        Profile("nobind", [c for c in default_plugins() if c.plugin.NAME != "DefaultBinder"], handle)
