"""secret volumes: a Secret's keys as files on a tmpfs (never on disk), updated on change."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.errors import SourceError, VolumeSetupError
from kybernetes.kubelet.volumes.projection import DEFAULT_MODE, Payload, key_paths, write_volume
from kybernetes.kubelet.volumes.sources import secret_data

PLUGIN = "secret"
MISSING_KEY = "references non-existent secret key: {key}"


async def payload(ctx: VolumeContext, volume: str, name: str, source: Obj, default_mode: int) -> Payload:
    optional = bool(source.get("optional"))
    try:
        secret = await ctx.sources.secret(ctx.namespace, name)
    except SourceError as e:
        if e.not_found and optional:
            return {}
        raise VolumeSetupError(volume, str(e)) from None
    return key_paths(volume, secret_data(secret), source.get("items"), default_mode,
                     optional=optional, missing=MISSING_KEY)


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("secret") or {}
    files = await payload(ctx, name, str(source.get("secretName") or ""), source,
                          file_mode(source.get("defaultMode"), DEFAULT_MODE))
    return write_volume(ctx, PLUGIN, name, files, memory=True)
