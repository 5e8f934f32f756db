"""persistentVolumeClaim volumes backed by hostPath or local PersistentVolumes.

The claim must be bound (spec.volumeName); the PersistentVolume's hostPath (with its type
check) or local path on this node is what the containers get. Other volume sources need a
storage driver this node does not have.
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.client.resource import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES
from kybernetes.kubelet.volumes import host_path
from kybernetes.kubelet.volumes.context import Obj, VolumeContext
from kybernetes.kubelet.volumes.errors import SourceError, VolumeSetupError


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    claim_name = str((volume.get("persistentVolumeClaim") or {}).get("claimName") or "")
    try:
        claim = await ctx.sources.get(PERSISTENTVOLUMECLAIMS, ctx.namespace, claim_name)
        pv_name = (claim.get("spec") or {}).get("volumeName") or ""
        if not pv_name or (claim.get("status") or {}).get("phase") not in (None, "Bound"):
            raise VolumeSetupError(name, f'persistentvolumeclaim "{claim_name}" is not bound')
        pv = await ctx.sources.get(PERSISTENTVOLUMES, "", pv_name)
    except SourceError as e:
        raise VolumeSetupError(name, str(e)) from None
    spec = pv.get("spec") or {}
    if spec.get("hostPath"):
        path = str(spec["hostPath"].get("path") or "")
        host_path.check(name, path, spec["hostPath"].get("type") or "")
        return Path(path)
    if spec.get("local"):
        path = str(spec["local"].get("path") or "")
        host_path.check(name, path, "Directory")
        return Path(path)
    raise VolumeSetupError(name, f'persistentvolume "{pv_name}" has no volume source this node can mount '
                                 "(only hostPath and local)")
