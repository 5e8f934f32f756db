"""One real kubelet: the machine's node, running pods in runc containers (``kyb kubelet``).

    NodeGroup of one (pods with spec.nodeName=<me>) ── Kubelet ── RealPodWorker
        runtime   RuncRuntime(data_dir, StoreImages(image store), network=PodNetwork)
        images    OciImageService (registries.yaml: mirrors, credentials), imagePullSecrets
        volumes   VolumeManager under <data dir>/pods/<uid>
        config    ContainerConfigBuilder (env, mounts, resources, securityContext)
        probes    ProbeManager (exec / httpGet / tcpSocket against the containers)
        server    the kubelet's HTTPS server (logs, exec, attach, port-forward, stats)

Start-up re-adopts what the runtime holds (sandboxes, containers and their conmon monitors are
read back from the runtime's state records, so running containers keep their IDs and restart
counts), then removes what a crash left: CNI attachments of sandboxes that no longer exist and
volume directories of pods without a sandbox. While it runs, a housekeeping loop removes the
sandboxes of pods that were deleted while the kubelet was down.

Every pod of the node is synced again ``resync_period`` seconds after its last sync (upstream's
syncFrequency: how ConfigMap, Secret and downward-API volume updates reach running pods whose
objects did not change, as the volume sources are read through a TTL cache, not watched); each
pod keeps its own time, so a burst of new pods is not resynced in the middle of its starts.
Beside the kubelet, the container log manager rotates container logs by size (log_rotation.py:
--container-log-max-size, --container-log-max-files).

Stopping the kubelet leaves pods running (as k3s does); ``stop_pods=True`` removes every pod's
containers, sandboxes, network attachments and volumes on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.api.quantity import parse_quantity
from kybernetes.client import ApiClient
from kybernetes.kubelet.container_config import ContainerConfigBuilder
from kybernetes.kubelet.images.registries import load_registries
from kybernetes.kubelet.images.service import OciImageService, default_store_dir
from kybernetes.kubelet.kubelet import Kubelet
from kybernetes.kubelet.log_rotation import ContainerLogManager, LogRotationPolicy
from kybernetes.kubelet.network import PodNetwork
from kybernetes.kubelet.node_group import NodeGroup
from kybernetes.kubelet.node_status import KUBELET_PORT
from kybernetes.kubelet.real_machine import HostNames, machine_node_config, node_name
from kybernetes.kubelet.real_pod_worker import RealPodWorker
from kybernetes.kubelet.real_probes import ProbeManager
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import RuncRuntime, run_dir
from kybernetes.kubelet.runtime.runc.images import StoreImages
from kybernetes.kubelet.server import server_ssl_context
from kybernetes.kubelet.simulated import server_version
from kybernetes.kubelet.volumes import ObjectCache, TokenManager, VolumeManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RUNTIME_NAME = "runc"
HOUSEKEEPING_PERIOD = 30.0
# Upstream resyncs every minute and watches ConfigMaps and Secrets; our sources are a 5 s TTL
# cache, and a real node runs at most ~110 pods, so a shorter period costs little and brings a
# changed ConfigMap into a running pod's volume within about 15 s.
POD_RESYNC_PERIOD = 10.0


@dataclass
class RealNodeOptions:
    data_dir: Path
    node_name: str = ""  # "" = the hostname
    node_ip: str = ""  # "" = the address of the default route's interface
    registry_config: Path | None = None
    kubelet_address: str = "0.0.0.0"
    kubelet_port: int = KUBELET_PORT  # 0 = any free port (reported in status.daemonEndpoints)
    tls_cert_file: Path | None = None  # the kubelet server's certificate; none: no server
    tls_key_file: Path | None = None
    client_ca_file: Path | None = None  # who may call the server (the apiserver's client cert CA)
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    labels: dict[str, str] = field(default_factory=dict)
    host_names: HostNames | None = None  # None: derived from data_dir
    cni_bin_dir: str = "/usr/lib/cni"
    stop_pods: bool = False
    apiserver: tuple[str, int] | None = None  # how pods reach the apiserver before Services exist
    log_rotation: LogRotationPolicy = field(default_factory=LogRotationPolicy)
    resync_period: float = POD_RESYNC_PERIOD


class RealNode:
    def __init__(self, group: NodeGroup, kubelet: Kubelet, runtime: RuncRuntime, network: PodNetwork,
                 images: OciImageService, volumes: VolumeManager, probes: ProbeManager, options: RealNodeOptions):
        self.logs = ContainerLogManager(runtime, options.log_rotation, log_root=runtime.logs_dir)
        self.group = group
        self.kubelet = kubelet
        self.runtime = runtime
        self.network = network
        self.images = images
        self.volumes = volumes
        self.probes = probes
        self.options = options

    @property
    def name(self) -> str:
        return self.kubelet.name

    async def clean_leftovers(self) -> None:
        """What a crash left behind: CNI attachments and volume dirs of sandboxes that are gone."""
        sandboxes = await self.runtime.list_pod_sandbox()
        cleaned = await self.network.cleanup_leftovers([s.id for s in sandboxes])
        if cleaned:
            log.info("removed the network attachments of %d sandboxes that no longer exist", len(cleaned))
        live_uids = {s.labels.get(cri.POD_UID_LABEL, "") for s in sandboxes}
        orphans = await self.volumes.cleanup_orphans(live_uids)
        if orphans:
            log.info("removed the volumes of %d pods that no longer run here", len(orphans))

    async def remove_orphaned_pods(self) -> list[str]:
        """Remove what the runtime holds for pods no longer bound to this node (deleted while the
        kubelet was down); the uids removed."""
        wanted = {(p.get("metadata") or {}).get("uid") for p in self.group.pods.list()
                  if (p.get("spec") or {}).get("nodeName") == self.name}
        wanted |= set(self.kubelet._uids.values()) | set(self.kubelet._terminating)
        removed = []
        sandboxes = await self.runtime.list_pod_sandbox()
        containers = await self.runtime.list_containers()
        uids = {s.labels.get(cri.POD_UID_LABEL, "") for s in sandboxes}
        uids |= {c.labels.get(cri.POD_UID_LABEL, "") for c in containers}
        for uid in sorted(uids - wanted - {""}):
            log.info("removing the containers of pod %s, which is no longer bound to this node", uid)
            await self.kubelet.worker.remove(uid)
            removed.append(uid)
        return removed

    async def _housekeeping(self) -> None:
        await self.group.ready.wait()
        while True:
            try:
                await self.remove_orphaned_pods()
            except cri.RuntimeServiceError as e:
                log.warning("housekeeping: %s", e)
            await asyncio.sleep(HOUSEKEEPING_PERIOD)

    async def run(self) -> None:
        """Clean up after a crash, then run until cancelled (then stop, or keep, the pods)."""
        try:
            await self.clean_leftovers()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.group.run(), name="kubelet")
                tg.create_task(self._housekeeping(), name="kubelet housekeeping")
                tg.create_task(self.logs.run(), name="container log rotation")
        finally:
            await asyncio.shield(self._shutdown())

    async def _shutdown(self) -> None:
        await self.probes.aclose()
        if self.options.stop_pods:
            log.info("stopping every pod of this node (--stop-pods)")
            with contextlib.suppress(Exception):
                await self.runtime.uninstall()
            with contextlib.suppress(Exception):
                await self.volumes.cleanup_orphans(set())
            run_dir.release(self.runtime.run_dir)
            _remove_empty_dirs(self.runtime.run_dir)
        self.runtime.close()


def _remove_empty_dirs(root: Path) -> None:
    """rmdir ``root`` and its empty subdirectories (never a file, never across a mount)."""
    if not root.is_dir() or os.path.ismount(root):
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            _remove_empty_dirs(child)
    with contextlib.suppress(OSError):
        root.rmdir()


async def build_real_node(client: ApiClient, options: RealNodeOptions, *,
                          heartbeat_client: ApiClient | None = None) -> RealNode:
    """The machine's kubelet, ready to ``run()``."""
    data_dir = Path(options.data_dir).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    names = options.host_names or HostNames.for_data_dir(data_dir)
    name = options.node_name or node_name()
    images = OciImageService(default_store_dir(data_dir), registries=load_registries(options.registry_config))
    # loopback=False: the runtime's sandbox brings lo up as it makes the namespaces (sandbox.py)
    network = PodNetwork(data_dir, options.cni_bin_dir, network_name=names.network, bridge_name=names.bridge,
                         loopback=False, run_dir=names.run_dir)
    try:
        run_dir.ensure_tmpfs(names.run_dir)
    except OSError as e:  # no right to mount here: the directory works on disk too, only slower
        log.warning("the node's run directory stays on disk: %s", e)
    runtime = RuncRuntime(data_dir, StoreImages(images.store), network=network, run_dir=names.run_dir,
                          cgroup_root=names.cgroup_root)
    runtime_version = (await runtime.version()).runtime_version
    config = machine_node_config(name, data_dir, internal_ip=options.node_ip,
                                 kubelet_version=await server_version(client),
                                 runtime_version=f"{RUNTIME_NAME}://{runtime_version}", labels=options.labels)
    config.kubelet_port = options.kubelet_port
    # 16 pod workers: a pod start mostly waits for runc, conmon and the CNI plugins, so a burst of
    # starts (a Deployment scaled up) overlaps them; measured with bench/pod_start.py
    group = NodeGroup(client, pod_field_selector=f"spec.nodeName={name}", workers=16, status_writers=4,
                      heartbeat_client=heartbeat_client)
    kubelet = Kubelet(client, config, runtime, images, pods=group.pods, nodes=group.nodes, status=group.status,
                      queue=group.queue, events=group.events, runtime_name=RUNTIME_NAME,
                      heartbeat_client=heartbeat_client, resync_period=options.resync_period)
    allocatable = {"cpu": config.cpu, "memory": config.memory, "ephemeral-storage": config.ephemeral_storage}
    sources = ObjectCache(client)
    volumes = VolumeManager(client, data_dir, node_allocatable=allocatable, sources=sources,
                            tokens=TokenManager(client))
    probes = ProbeManager(runtime, host_ip=config.internal_ip, on_change=group.queue.add, events=group.events,
                          node_name=name)

    def event(pod: Obj, event_type: str, reason: str, message: str) -> None:
        group.events.emit(name, pod, event_type, reason, message)

    builder = ContainerConfigBuilder(sources, events=event, apiserver=options.apiserver,
                                     node_memory_capacity=int(parse_quantity(config.memory)))
    kubelet.worker = RealPodWorker(runtime, images, volumes=volumes, builder=builder, probes=probes,
                                   sources=sources, cluster_dns=options.cluster_dns,
                                   cluster_domain=options.cluster_domain, node_name=name,
                                   host_ip=config.internal_ip, runtime_name=RUNTIME_NAME, events=group.events)
    group.add(kubelet)
    if options.tls_cert_file and options.tls_key_file and options.client_ca_file:
        ssl_context = server_ssl_context(options.tls_cert_file, options.tls_key_file, options.client_ca_file)
        group.enable_server(address=options.kubelet_address, port=options.kubelet_port, ssl_context=ssl_context)
    else:
        log.warning("no serving certificate: the kubelet server (logs, exec, port-forward) is off")
    return RealNode(group, kubelet, runtime, network, images, volumes, probes, options)
