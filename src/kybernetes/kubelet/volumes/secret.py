"""secret volumes: a Secret's keys as files on a tmpfs (never on disk), updated on change."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.projection import DEFAULT_MODE, Payload, object_payload, write_volume
from kybernetes.kubelet.volumes.sources import secret_data

PLUGIN = "secret"
MISSING_KEY = "references non-existent secret key: {key}"


async def payload(ctx: VolumeContext, volume: str, name: str, source: Obj, default_mode: int) -> Payload:
    return await object_payload(volume, lambda: ctx.sources.secret(ctx.namespace, name), secret_data, source,
                                default_mode, MISSING_KEY)


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("secret") or {}
    files = await payload(ctx, name, str(source.get("secretName") or ""), source,
                          file_mode(source.get("defaultMode"), DEFAULT_MODE))
    return write_volume(ctx, PLUGIN, name, files, memory=True)
