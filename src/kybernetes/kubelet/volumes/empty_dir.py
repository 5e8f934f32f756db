"""emptyDir: a directory that lives as long as the pod, on the node's disk or in memory.

``medium: ""`` is a directory under the pod's volume dir (mode 0777 so any container user may
write). ``medium: Memory`` is a tmpfs mounted there; its size is ``sizeLimit`` or else the sum
of the pod's memory limits when every container sets one, as upstream sizes memory-backed
volumes (otherwise the kernel's default, half of RAM). Both get the pod's fsGroup.
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.api.quantity import QuantityError, parse_quantity
from kybernetes.kubelet.volumes import fs
from kybernetes.kubelet.volumes.context import Obj, VolumeContext
from kybernetes.kubelet.volumes.errors import VolumeSetupError

PLUGIN = "empty-dir"


def _bytes(text: object) -> int:
    try:
        return int(parse_quantity(text))
    except QuantityError:
        return 0


def tmpfs_size(pod: Obj, source: Obj) -> int:
    if source.get("sizeLimit") is not None:
        return _bytes(source["sizeLimit"])
    containers = (pod.get("spec") or {}).get("containers") or []
    limits = [((c.get("resources") or {}).get("limits") or {}).get("memory") for c in containers]
    if containers and all(limit is not None for limit in limits):
        return sum(_bytes(limit) for limit in limits)
    return 0


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("emptyDir") or {}
    medium = source.get("medium") or ""
    if medium not in ("", "Memory"):
        raise VolumeSetupError(name, f"emptyDir medium {medium!r} is not supported on this node")
    directory = ctx.volume_dir(PLUGIN, name)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if medium == "Memory" and not fs.has_own_tmpfs(directory):
        try:
            fs.mount_tmpfs(directory, tmpfs_size(ctx.pod, source))
        except OSError as e:
            raise VolumeSetupError(name, f"cannot mount tmpfs: {e}") from None
        created = True
    if created:
        directory.chmod(0o777)
        if ctx.fs_group is not None:
            fs.set_volume_ownership(directory, ctx.fs_group)
    return directory
