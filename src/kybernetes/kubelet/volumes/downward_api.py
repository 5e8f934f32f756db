"""downwardAPI volumes: the pod's fields and its containers' resources as files.

Labels and annotations may change while the pod runs; a resync rewrites the files (atomically).
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.volumes.atomic_writer import FileProjection
from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.downward import DownwardError, field_value, resource_value
from kybernetes.kubelet.volumes.errors import VolumeSetupError
from kybernetes.kubelet.volumes.projection import DEFAULT_MODE, Payload, write_volume

PLUGIN = "downward-api"


def payload(ctx: VolumeContext, volume: str, items: list[Obj], default_mode: int) -> Payload:
    files: Payload = {}
    for item in items or []:
        path = str(item.get("path") or "")
        try:
            if item.get("fieldRef"):
                text = field_value(ctx.pod, str((item["fieldRef"] or {}).get("fieldPath") or ""), ctx.facts,
                                   whole_maps=True)
            elif item.get("resourceFieldRef"):
                text = resource_value(ctx.pod, item["resourceFieldRef"], ctx.facts)
            else:
                raise DownwardError(f"item {path!r} has neither fieldRef nor resourceFieldRef")
        except DownwardError as e:
            raise VolumeSetupError(volume, str(e)) from None
        files[path] = FileProjection(text.encode(), file_mode(item.get("mode"), default_mode))
    return files


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("downwardAPI") or {}
    files = payload(ctx, name, source.get("items") or [], file_mode(source.get("defaultMode"), DEFAULT_MODE))
    return write_volume(ctx, PLUGIN, name, files, memory=False)
