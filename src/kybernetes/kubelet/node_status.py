"""The Node a kubelet registers and the status it reports: pure functions of its configuration.

As Kubernetes' kubelet writes them (pkg/kubelet/kubelet_node_status.go, nodestatus/setters.go):
the well-known labels (kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch and their
beta twins), capacity and allocatable (cpu, memory, pods, ephemeral-storage, hugepages),
addresses, nodeInfo, the kubelet's endpoint, and the four conditions with the reasons and the
messages ``kubectl describe node`` shows. A condition's lastTransitionTime is kept while its
status does not change; lastHeartbeatTime is the time of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

KUBELET_PORT = 10250
NODE_LEASE_NAMESPACE = "kube-node-lease"


@dataclass
class NodeConfig:
    name: str
    internal_ip: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    kubelet_version: str = "v0.0.0"
    container_runtime_version: str = "fake://0.1.0"
    os_image: str = "Kybernetes simulated node"
    kernel_version: str = ""
    operating_system: str = "linux"
    architecture: str = "amd64"
    machine_id: str = ""
    system_uuid: str = ""
    boot_id: str = ""
    status_update_frequency: float = 10.0  # how often the status is computed and compared
    status_report_frequency: float = 300.0  # how often it is written when nothing changed
    lease_duration_seconds: int = 40
    lease_renew_interval: float = 10.0  # a quarter of the lease duration, as upstream
    kubelet_port: int = KUBELET_PORT  # where the kubelet's server listens (status.daemonEndpoints)


def default_labels(config: NodeConfig) -> dict[str, str]:
    return {
        "beta.kubernetes.io/arch": config.architecture,
        "beta.kubernetes.io/os": config.operating_system,
        "kubernetes.io/arch": config.architecture,
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": config.operating_system,
    }


def capacity(config: NodeConfig) -> dict[str, str]:
    return {"cpu": str(config.cpu), "ephemeral-storage": str(config.ephemeral_storage),
            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": str(config.memory), "pods": str(config.pods)}


def node_conditions(*, ready: bool = True, ready_reason: str = "KubeletReady",
                    ready_message: str = "kubelet is posting ready status") -> list[Obj]:
    """The conditions without times (see ``with_times``)."""
    return [
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available"},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
         "message": "kubelet has no disk pressure"},
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
         "message": "kubelet has sufficient PID available"},
        {"type": "Ready", "status": "True" if ready else "False", "reason": ready_reason, "message": ready_message},
    ]


def with_times(conditions: list[Obj], previous: list[Obj], now: str) -> list[Obj]:
    before = {c.get("type"): c for c in previous}
    out = []
    for cond in conditions:
        old = before.get(cond["type"])
        kept = old.get("lastTransitionTime") if old and old.get("status") == cond["status"] else None
        out.append({**cond, "lastHeartbeatTime": now, "lastTransitionTime": kept or now})
    return out


def node_status(config: NodeConfig, previous: Obj, now: str, *, ready: bool = True,
                ready_reason: str = "KubeletReady", ready_message: str = "kubelet is posting ready status") -> Obj:
    resources = capacity(config)
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": with_times(node_conditions(ready=ready, ready_reason=ready_reason, ready_message=ready_message),
                                 previous.get("conditions") or [], now),
        "addresses": [{"type": "InternalIP", "address": config.internal_ip},
                      {"type": "Hostname", "address": config.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": {
            "machineID": config.machine_id, "systemUUID": config.system_uuid, "bootID": config.boot_id,
            "kernelVersion": config.kernel_version, "osImage": config.os_image,
            "containerRuntimeVersion": config.container_runtime_version,
            "kubeletVersion": config.kubelet_version, "kubeProxyVersion": "",
            "operatingSystem": config.operating_system, "architecture": config.architecture,
        },
    }


def new_node(config: NodeConfig, now: str) -> Obj:
    spec: Obj = {}
    if config.taints:
        spec["taints"] = [dict(t) for t in config.taints]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": config.name,
            "labels": {**default_labels(config), **config.labels},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                            **config.annotations},
        },
        "spec": spec,
        "status": node_status(config, {}, now),
    }


def _without_heartbeats(status: Obj) -> Obj:
    conditions = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": conditions}


def status_changed(current: Obj, desired: Obj) -> bool:
    """Whether ``desired`` says something ``current`` does not, heartbeat times aside."""
    current, desired = _without_heartbeats(current), _without_heartbeats(desired)
    return any(current.get(k) != v for k, v in desired.items())


def new_lease(config: NodeConfig, node_uid: str, renew_time: str) -> Obj:
    lease: Obj = {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": config.name, "namespace": NODE_LEASE_NAMESPACE},
        "spec": {"holderIdentity": config.name, "leaseDurationSeconds": config.lease_duration_seconds,
                 "renewTime": renew_time},
    }
    if node_uid:
        lease["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": config.name,
                                                 "uid": node_uid}]
    return lease
