"""Simulated nodes: N kubelets with fake runtimes in one NodeGroup (``kyb simulate-nodes``).

Each simulated node is a real Kubelet (registration, lease, status, pod workers) over a
FakeRuntime, so the control plane sees nodes that behave like Kubernetes nodes: pods bound to
them go Pending -> Running with ready containers and an IP from the node's podCIDR, exit when
their ``sim.kybernetes.io/run-seconds`` runs out, restart by restartPolicy, and are deleted
gracefully. Nodes are named ``<prefix><index>`` (sim-node-0, sim-node-1, ...), labelled
``type: simulated`` (as kwok labels its fake nodes) besides the usual labels, and get
InternalIPs from 198.18.0.0/15, the range set aside for benchmarking networks, so no address
of a real machine is claimed. Until the node IPAM controller sets a podCIDR, pod IPs come from
a per-node /24 of 172.16.0.0/12 (the runtime logs that it does so).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from kybernetes.client import ApiClient
from kybernetes.kubelet.kubelet import Kubelet
from kybernetes.kubelet.node_group import NodeGroup
from kybernetes.kubelet.node_status import NodeConfig
from kybernetes.kubelet.runtime.fake import RUNTIME_NAME, RUNTIME_VERSION, FakeRuntime
from kybernetes.kubelet.runtime.pod_ips import fallback_pod_cidr
from kybernetes.util.clock import REAL_CLOCK, Clock

NODE_IP_RANGE = "198.18.0.0/15"
SIMULATED_LABEL = ("type", "simulated")
OS_IMAGE = "Kybernetes simulated node"


@dataclass
class SimulationConfig:
    count: int
    name_prefix: str = "sim-node-"
    first_index: int = 0
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    kubelet_version: str = ""  # "" = the apiserver's gitVersion
    stop_seconds: float = 1.0  # how long a container takes to stop after SIGTERM
    workers: int = 64
    status_writers: int = 16
    events: bool = True
    status_update_frequency: float = 10.0
    status_report_frequency: float = 300.0
    lease_renew_interval: float = 10.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("the number of simulated nodes cannot be negative")
        if self.pods < 1:
            raise ValueError("a node must be able to hold at least one pod")
        span = ipaddress.ip_network(NODE_IP_RANGE).num_addresses - 2
        if self.first_index + self.count > span:
            raise ValueError(f"at most {span} simulated nodes fit {NODE_IP_RANGE}")


def node_ip(index: int) -> str:
    return str(ipaddress.ip_network(NODE_IP_RANGE).network_address + index + 1)


async def server_version(client: ApiClient) -> str:
    info = await client.request("GET", "/version")
    return str((info or {}).get("gitVersion") or "v0.0.0")


async def build_simulation(client: ApiClient, config: SimulationConfig, *, clock: Clock | None = None,
                           heartbeat_client: ApiClient | None = None) -> NodeGroup:
    """A NodeGroup of ``config.count`` simulated nodes (not yet running: ``await group.run()``)."""
    clock = clock or REAL_CLOCK
    version = config.kubelet_version or await server_version(client)
    group = NodeGroup(client, clock=clock, workers=config.workers, status_writers=config.status_writers,
                      events=config.events, heartbeat_client=heartbeat_client)
    timers = group.timers
    for i in range(config.count):
        index = config.first_index + i
        name = f"{config.name_prefix}{index}"
        node = NodeConfig(
            name=name, internal_ip=node_ip(index), cpu=config.cpu, memory=config.memory, pods=config.pods,
            labels={SIMULATED_LABEL[0]: SIMULATED_LABEL[1], **config.labels}, taints=list(config.taints),
            kubelet_version=version, container_runtime_version=f"{RUNTIME_NAME}://{RUNTIME_VERSION}",
            os_image=OS_IMAGE, kernel_version="simulated", machine_id=f"sim-{index}", system_uuid=f"sim-{index}",
            boot_id=f"sim-{index}", status_update_frequency=config.status_update_frequency,
            status_report_frequency=config.status_report_frequency,
            lease_renew_interval=config.lease_renew_interval)
        runtime = FakeRuntime(clock=clock, timers=timers, stop_seconds=config.stop_seconds,
                              fallback_pod_cidr=fallback_pod_cidr(index), node_name=name)
        group.add(Kubelet(client, node, runtime, runtime.images, pods=group.pods, nodes=group.nodes, status=group.status,
                          queue=group.queue, clock=clock, events=group.events, runtime_name=RUNTIME_NAME,
                          phase=(i / config.count) if config.count else 0.0, heartbeat_client=heartbeat_client))
    return group
