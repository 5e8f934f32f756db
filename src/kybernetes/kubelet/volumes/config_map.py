"""configMap volumes: a ConfigMap's keys as files, updated when the ConfigMap changes."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.projection import DEFAULT_MODE, Payload, object_payload, write_volume
from kybernetes.kubelet.volumes.sources import config_map_data

PLUGIN = "configmap"
MISSING_KEY = "configmap references non-existent config key: {key}"


async def payload(ctx: VolumeContext, volume: str, source: Obj, default_mode: int) -> Payload:
    name = str(source.get("name") or "")
    return await object_payload(volume, lambda: ctx.sources.config_map(ctx.namespace, name), config_map_data,
                                source, default_mode, MISSING_KEY)


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("configMap") or {}
    files = await payload(ctx, name, source, file_mode(source.get("defaultMode"), DEFAULT_MODE))
    return write_volume(ctx, PLUGIN, name, files, memory=False)
