"""The pod worker of real nodes: PodWorker plus what a machine adds to it.

    sync            the pod's volumes are mounted (and resynced) first; a volume that cannot be
                    set up is a FailedMount event and a retry, with the containers still waiting
    sandbox_config  + resolv.conf from dnsPolicy/dnsConfig and the node's cluster DNS,
                    hostPID / hostIPC namespaces
    _ensure_image   imagePullSecrets -> the registry credentials for the pull
    _start          the container's configuration from container_config.ContainerConfigBuilder
                    (env with valueFrom, mounts, securityContext, resources); what makes it
                    impossible (a missing ConfigMap, runAsNonRoot with a root image) is
                    CreateContainerConfigError
    _probe          probes run for real (real_probes.ProbeManager), once a container's postStart
                    hook is done
    hooks           postStart / preStop run for real (hooks.HookRunner: exec in the container,
                    httpGet to the pod, sleep); a failed liveness probe kills through
                    kill_container, so the preStop hook runs first; a finished postStart hook
                    resyncs the pod through the prober's on_change (the node's work queue)
    remove          + the pod's probes forgotten and its volumes unmounted
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from kybernetes.api.dns_config import DnsConfigError, parse_resolv_conf, pod_resolv_conf
from kybernetes.kubelet.container_config import ContainerConfigBuilder
from kybernetes.kubelet.hooks import HookRunner
from kybernetes.kubelet.images.credentials import auth_for_image
from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.pod_worker import PodRuntime, PodWorker, SyncResult
from kybernetes.kubelet.real_probes import ProbeManager
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.status import ContainerView
from kybernetes.kubelet.volumes import (
    ContainerConfigError,
    ObjectCache,
    PodFacts,
    SourceError,
    VolumeManager,
    VolumeSetupError,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MOUNT_RETRY = 2.0
PULL_AUTH: contextvars.ContextVar[cri.AuthConfig | None] = contextvars.ContextVar("pull_auth", default=None)


class PullSecretImages:
    """The node's ImageService, pulling with the credentials of the pod being synced (PULL_AUTH)."""

    def __init__(self, images: Any):
        self.inner = images

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def list_images(self, filter: cri.ImageSpec | None = None) -> list[cri.Image]:
        return await self.inner.list_images(filter)

    async def image_status(self, image: cri.ImageSpec) -> cri.Image | None:
        return await self.inner.image_status(image)

    async def pull_image(self, image: cri.ImageSpec, auth: cri.AuthConfig | None = None,
                         sandbox_config: cri.PodSandboxConfig | None = None) -> str:
        return await self.inner.pull_image(image, auth or PULL_AUTH.get(), sandbox_config)

    async def remove_image(self, image: cri.ImageSpec) -> None:
        await self.inner.remove_image(image)


def _docker_config(secret: Obj) -> Obj | None:
    data = secret.get("data") or {}
    for key in (".dockerconfigjson", ".dockercfg"):
        if data.get(key):
            try:
                return json.loads(base64.b64decode(data[key]))
            except (ValueError, TypeError):
                return None
    return None


class RealPodWorker(PodWorker):
    def __init__(self, runtime: cri.RuntimeService, images: Any, *, volumes: VolumeManager,
                 builder: ContainerConfigBuilder, probes: ProbeManager, sources: ObjectCache,
                 cluster_dns: list[str] | None = None, cluster_domain: str = "cluster.local",
                 host_resolv_conf: str = "/etc/resolv.conf", **kwargs: Any):
        kwargs.setdefault("hooks", HookRunner(runtime, clock=kwargs.get("clock")))
        kwargs.setdefault("resync", probes.on_change)
        super().__init__(runtime, PullSecretImages(images), prober=probes, **kwargs)
        probes.kill = self.kill_container
        self.volumes = volumes
        self.builder = builder
        self.probes = probes
        self.sources = sources
        self.cluster_dns = list(cluster_dns or [])
        self.cluster_domain = cluster_domain
        self.host_resolv_conf = host_resolv_conf

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, pod: Obj, old_status: Obj) -> SyncResult:
        terminal = old_status.get("phase") in ("Succeeded", "Failed")
        if not terminal:
            try:
                if self.volumes.mounted(pod["metadata"]["uid"]) is None:
                    await self.volumes.mount_pod_volumes(pod, self._facts(pod, old_status))
                else:
                    await self.volumes.resync(pod, self._facts(pod, old_status))
            except VolumeSetupError as e:
                self._event(pod, "Warning", "FailedMount", str(e))
                state = await self.runtime_state(pod["metadata"]["uid"])
                views: dict[str, ContainerView] = {}
                self._probe(pod, state, views, [])
                result = await self._status(pod, old_status, state, views, pod_is_terminal=False)
                result.requeue_after = MOUNT_RETRY
                return result
        return await super().sync(pod, old_status)

    def _facts(self, pod: Obj, status: Obj) -> PodFacts:
        ips = tuple(p.get("ip", "") for p in status.get("podIPs") or [] if p.get("ip"))
        return PodFacts(pod_ips=ips or ((status["podIP"],) if status.get("podIP") else ()),
                        host_ips=(self.host_ip,), node_allocatable=dict(self.volumes.node_allocatable))

    # -- the sandbox --------------------------------------------------------------------------------

    def sandbox_config(self, pod: Obj, attempt: int) -> cri.PodSandboxConfig:
        config = super().sandbox_config(pod, attempt)
        spec = pod.get("spec") or {}
        try:
            host = parse_resolv_conf(Path(self.host_resolv_conf).read_text())
        except OSError:
            host = None
        try:
            resolv = pod_resolv_conf(pod, cluster_dns=self.cluster_dns, cluster_domain=self.cluster_domain,
                                     host=host)
            dns = cri.DNSConfig(tuple(resolv.nameservers), tuple(resolv.searches), tuple(resolv.options))
        except DnsConfigError as e:
            log.warning("pod %s: %s; using the host's DNS settings", pod.get("metadata", {}).get("name"), e)
            dns = None
        modes = cri.NamespaceOption(
            network=cri.NamespaceMode.NODE if spec.get("hostNetwork") else cri.NamespaceMode.POD,
            pid=cri.NamespaceMode.NODE if spec.get("hostPID") else (
                cri.NamespaceMode.POD if spec.get("shareProcessNamespace") else cri.NamespaceMode.CONTAINER),
            ipc=cri.NamespaceMode.NODE if spec.get("hostIPC") else cri.NamespaceMode.POD)
        linux = cri.LinuxPodSandboxConfig(security_context=cri.LinuxSandboxSecurityContext(modes))
        return dataclasses.replace(config, dns_config=dns, linux=linux)

    # -- images -------------------------------------------------------------------------------------

    async def _pull_auth(self, pod: Obj, image: str) -> cri.AuthConfig | None:
        names = [s.get("name") for s in (pod.get("spec") or {}).get("imagePullSecrets") or [] if s.get("name")]
        if not names:
            return None
        try:
            ref = parse_image_reference(image)
        except InvalidImageNameError:
            return None
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        configs = []
        for name in names:
            try:
                secret = await self.sources.secret(namespace, name)
            except SourceError:
                continue  # as upstream: a missing pull secret is skipped (the pull may still work)
            config = _docker_config(secret)
            if config is not None:
                configs.append(config)
        return auth_for_image(configs, ref)

    async def _ensure_image(self, pod: Obj, c: Obj, sandbox_config: cri.PodSandboxConfig, view: ContainerView,
                            requeue: list[float]) -> bool:
        token = PULL_AUTH.set(await self._pull_auth(pod, c.get("image", "")))
        try:
            return await super()._ensure_image(pod, c, sandbox_config, view, requeue)
        finally:
            PULL_AUTH.reset(token)

    async def _image_user(self, image: str) -> str | None:
        config_of = getattr(self.images, "image_config", None)
        if config_of is None:
            return None
        try:
            return str((await config_of(image)).user or "")
        except Exception:  # noqa: BLE001 - unknown here: the runtime resolves the user later
            return None

    # -- containers ---------------------------------------------------------------------------------

    async def _start(self, pod: Obj, c: Obj, sandbox_id: str, sandbox_config: cri.PodSandboxConfig, attempt: int,
                     view: ContainerView, requeue: list[float], *, init: bool) -> None:
        if not await self._ensure_image(pod, c, sandbox_config, view, requeue):
            return
        uid, name = (pod.get("metadata") or {}).get("uid", ""), c.get("name", "")
        status = await self._sandbox_facts(pod, sandbox_id)
        try:
            config = await self.builder.build(pod, c, attempt=attempt, init=init, volumes=self.volumes.mounted(uid),
                                              facts=status, image_user=await self._image_user(c.get("image", "")))
        except ContainerConfigError as e:
            view.waiting_reason, view.waiting_message = "CreateContainerConfigError", str(e)
            self._event(pod, "Warning", "Failed", f"Error: {e}")
            requeue.append(self.restarts.restarted(f"{uid}/config/{name}", self.clock.wall().timestamp()))
            return
        try:
            container_id = await self.runtime.create_container(sandbox_id, config, sandbox_config)
        except cri.RuntimeServiceError as e:
            view.waiting_reason, view.waiting_message = "CreateContainerError", str(e)
            self._event(pod, "Warning", "Failed", f"Error: {e}")
            requeue.append(self.restarts.restarted(f"{uid}/create/{name}", self.clock.wall().timestamp()))
            return
        self._event(pod, "Normal", "Created", f"Created container: {name}")
        await self._start_created(pod, c, container_id, view)

    async def _sandbox_facts(self, pod: Obj, sandbox_id: str) -> PodFacts:
        ips: tuple[str, ...] = ()
        try:
            network = (await self.runtime.pod_sandbox_status(sandbox_id)).network
            ips = tuple(ip for ip in (network.ip, *network.additional_ips) if ip)
        except cri.NotFoundError:
            pass
        if not ips and (pod.get("spec") or {}).get("hostNetwork"):
            ips = (self.host_ip,)
        return PodFacts(pod_ips=ips, host_ips=(self.host_ip,), node_allocatable=dict(self.volumes.node_allocatable))

    # -- probes -------------------------------------------------------------------------------------

    def _probe(self, pod: Obj, state: PodRuntime, views: dict[str, ContainerView], requeue: list[float]) -> None:
        spec = pod.get("spec") or {}
        running: set[str] = set()
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            attempts = state.containers.get(c.get("name", "")) or []
            if attempts and attempts[0].state == cri.ContainerState.CONTAINER_RUNNING:
                running.add(attempts[0].id)
                if attempts[0].id not in self.post_start:
                    self.probes.observe(pod, c, attempts[0])
        self.probes.retain((pod.get("metadata") or {}).get("uid", ""), running)
        super()._probe(pod, state, views, requeue)

    # -- removal ------------------------------------------------------------------------------------

    async def remove(self, uid: str) -> None:
        self.probes.forget_pod(uid)
        await super().remove(uid)
        await self.volumes.unmount_pod_volumes(uid)
