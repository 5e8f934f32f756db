"""The default plugins, one module each, and the default profile (kube-scheduler's v1 defaults).

    queue sort   PrioritySort
    pre-filter   NodeAffinity NodePorts PodTopologySpread InterPodAffinity NodeName
    filter       NodeUnschedulable NodeName TaintToleration NodeAffinity NodePorts
                 NodeResourcesFit PodTopologySpread InterPodAffinity
    post-filter  DefaultPreemption
    score        TaintToleration (3)  NodeAffinity (2)  NodeResourcesFit (1)  PodTopologySpread (2)
                 InterPodAffinity (2)  NodeResourcesBalancedAllocation (1)        (weights)
    bind         DefaultBinder

Cheap, node-local filters run first so most rejected nodes cost one or two calls.
"""

from __future__ import annotations

from kybernetes.scheduler.plugins.balanced_allocation import BalancedAllocation
from kybernetes.scheduler.plugins.default_binder import DefaultBinder
from kybernetes.scheduler.plugins.default_preemption import DefaultPreemption
from kybernetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kybernetes.scheduler.plugins.node_affinity import NodeAffinity
from kybernetes.scheduler.plugins.node_name import NodeName
from kybernetes.scheduler.plugins.node_ports import NodePorts
from kybernetes.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kybernetes.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kybernetes.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kybernetes.scheduler.plugins.queue_sort import PrioritySort
from kybernetes.scheduler.plugins.taint_toleration import TaintToleration
from kybernetes.scheduler.profile import PluginConfig

REGISTRY: dict[str, type] = {cls.NAME: cls for cls in (
    PrioritySort, NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
    PodTopologySpread, InterPodAffinity, BalancedAllocation, DefaultPreemption, DefaultBinder)}


def default_plugins() -> list[PluginConfig]:
    return [
        PluginConfig(PrioritySort),
        PluginConfig(NodeUnschedulable),
        PluginConfig(NodeName),
        PluginConfig(TaintToleration, weight=3),
        PluginConfig(NodeAffinity, weight=2),
        PluginConfig(NodePorts),
        PluginConfig(NodeResourcesFit, weight=1),
        PluginConfig(PodTopologySpread, weight=2),
        PluginConfig(InterPodAffinity, weight=2),
        PluginConfig(BalancedAllocation, weight=1),
        PluginConfig(DefaultPreemption),
        PluginConfig(DefaultBinder),
    ]
