"""The volume manager: a pod's volumes set up on the node before its containers start, kept
up to date while it runs, and removed with it.

    <root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>     a directory (or a tmpfs: Memory)
                             kubernetes.io~configmap/<name>      atomic-writer files
                             kubernetes.io~secret/<name>         atomic-writer files on a tmpfs
                             kubernetes.io~downward-api/<name>   atomic-writer files
                             kubernetes.io~projected/<name>      atomic-writer files on a tmpfs
    <root>/pods/<uid>/volume-subpaths/<volume>/<container>/<i>   subPath bind mounts
    hostPath and persistentVolumeClaim volumes are the node's own paths, type-checked

``mount_pod_volumes(pod)`` is idempotent: the pod worker calls it on every sync and gets
``PodVolumes`` (volume name -> host path, and the service-account token mount containers get).
``resync(pod)`` rewrites the volumes whose sources can change (ConfigMaps, Secrets, labels,
annotations, expiring tokens). ``unmount_pod_volumes(uid)`` unmounts every tmpfs and subPath
bind and deletes the pod's directory; ``cleanup_orphans(uids)`` does that at start for every
pod directory no running pod owns.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.client import ApiClient
from kybernetes.kubelet.volumes import (
    config_map,
    downward_api,
    empty_dir,
    fs,
    host_path,
    persistent_volume_claim,
    projected,
    secret,
    service_account,
)
from kybernetes.kubelet.volumes.atomic_writer import DATA_LINK
from kybernetes.kubelet.volumes.context import VolumeContext
from kybernetes.kubelet.volumes.downward import PodFacts
from kybernetes.kubelet.volumes.errors import SourceError, VolumeSetupError
from kybernetes.kubelet.volumes.sources import DEFAULT_TTL, ObjectCache
from kybernetes.kubelet.volumes.tokens import TokenManager
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PLUGINS = {
    "emptyDir": empty_dir,
    "hostPath": host_path,
    "configMap": config_map,
    "secret": secret,
    "downwardAPI": downward_api,
    "projected": projected,
    "persistentVolumeClaim": persistent_volume_claim,
}
UPDATABLE = ("configMap", "secret", "downwardAPI", "projected")


@dataclass
class PodVolumes:
    uid: str
    pod_dir: Path
    paths: dict[str, Path] = field(default_factory=dict)  # volume name -> host path
    extra_mounts: tuple[Obj, ...] = ()  # volumeMounts each container without one at that path gets


def volume_type(volume: Obj) -> str:
    return next((key for key in volume if key != "name" and volume[key] is not None), "")


class VolumeManager:
    def __init__(self, client: ApiClient, root_dir: Path | str, *, clock: Clock | None = None,
                 ttl: float = DEFAULT_TTL, node_allocatable: dict[str, str] | None = None,
                 sources: ObjectCache | None = None, tokens: TokenManager | None = None):
        self.root_dir = Path(root_dir)
        self.clock = clock or REAL_CLOCK
        self.sources = sources or ObjectCache(client, ttl=ttl, clock=self.clock)
        self.tokens = tokens or TokenManager(client, clock=self.clock)
        self.node_allocatable = dict(node_allocatable or {})
        self._mounted: dict[str, PodVolumes] = {}
        self._sources_of: dict[str, dict[str, Obj]] = {}  # uid -> the volumes set up (token one included)

    def pod_dir(self, uid: str) -> Path:
        if not uid or "/" in uid or uid in (".", ".."):
            raise ValueError(f"invalid pod uid {uid!r}")
        return self.root_dir / "pods" / uid

    def mounted(self, uid: str) -> PodVolumes | None:
        return self._mounted.get(uid)

    def _context(self, pod: Obj, facts: PodFacts | None) -> VolumeContext:
        uid = (pod.get("metadata") or {}).get("uid") or ""
        facts = facts or PodFacts(node_allocatable=self.node_allocatable)
        return VolumeContext(pod, self.pod_dir(uid), self.sources, self.tokens, facts)

    async def _token_volume(self, pod: Obj) -> tuple[Obj | None, Obj | None]:
        spec = pod.get("spec") or {}
        account = None
        if spec.get("automountServiceAccountToken") is None:
            namespace = (pod.get("metadata") or {}).get("namespace") or "default"
            try:
                account = await self.sources.service_account(
                    namespace, spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
            except SourceError:
                account = None
        if not service_account.wants_token(pod, account):
            return None, None
        return service_account.token_mount(pod)

    async def mount_pod_volumes(self, pod: Obj, facts: PodFacts | None = None) -> PodVolumes:
        """Set up every volume of ``pod``; VolumeSetupError names the first that failed. Once
        all are set up, later calls return the same answer at once (``resync`` updates)."""
        uid = (pod.get("metadata") or {}).get("uid") or ""
        if uid in self._mounted:
            return self._mounted[uid]
        ctx = self._context(pod, facts)
        volumes = list((pod.get("spec") or {}).get("volumes") or [])
        token_volume, token_mount = await self._token_volume(pod)
        if token_volume is not None:
            volumes.append(token_volume)
        ctx.pod_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        result = PodVolumes(uid, ctx.pod_dir, extra_mounts=(token_mount,) if token_mount else ())
        for volume in volumes:
            name = str(volume.get("name") or "")
            kind = volume_type(volume)
            plugin = PLUGINS.get(kind)
            if plugin is None:
                raise VolumeSetupError(name, f"volume type {kind or 'unknown'!r} is not supported on this node")
            result.paths[name] = await plugin.set_up(ctx, volume)
        self._mounted[uid] = result
        self._sources_of[uid] = {str(v.get("name") or ""): v for v in volumes}
        return result

    async def resync(self, pod: Obj, facts: PodFacts | None = None) -> list[str]:
        """Rewrite the pod's updatable volumes from their current sources; the names that changed.
        A pod not mounted yet is left alone (its next mount sets everything up). A source that
        cannot be read now (deleted, API down) leaves the volume as it was, as upstream does."""
        uid = (pod.get("metadata") or {}).get("uid") or ""
        volumes = self._sources_of.get(uid)
        if uid not in self._mounted or volumes is None:
            return []
        ctx = self._context(pod, facts)
        changed = []
        for name, volume in volumes.items():
            kind = volume_type(volume)
            if kind not in UPDATABLE:
                continue
            before = _version(self._mounted[uid].paths.get(name))
            try:
                await PLUGINS[kind].set_up(ctx, volume)
            except VolumeSetupError as e:
                log.warning("pod %s: volume not updated: %s", uid, e)
                continue
            if _version(self._mounted[uid].paths.get(name)) != before:
                changed.append(name)
        return changed

    def refresh_due_in(self) -> float | None:
        """Seconds until a service-account token is due for renewal: when to resync next."""
        return self.tokens.next_refresh_in()

    async def unmount_pod_volumes(self, uid: str) -> None:
        """Unmount the pod's tmpfs volumes and subPath binds, delete its directory."""
        self._mounted.pop(uid, None)
        self._sources_of.pop(uid, None)
        self.tokens.forget_pod(uid)
        fs.remove_tree(self.pod_dir(uid))

    async def cleanup_orphans(self, active_uids: set[str] | list[str]) -> list[str]:
        """Remove the directories (and mounts) of pods that are not in ``active_uids``."""
        pods_dir = self.root_dir / "pods"
        if not pods_dir.is_dir():
            return []
        active = set(active_uids)
        removed = []
        for entry in sorted(os.listdir(pods_dir)):
            if entry in active:
                continue
            try:
                await self.unmount_pod_volumes(entry)
                removed.append(entry)
            except OSError as e:
                log.warning("cannot clean up the orphaned pod directory %s: %s", pods_dir / entry, e)
        return removed


def _version(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return os.readlink(path / DATA_LINK)
    except OSError:
        return None
