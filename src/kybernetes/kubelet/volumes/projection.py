"""Turning keys into files, and writing a file volume: what configMap, secret, downwardAPI and
projected volumes share.

``items`` picks keys and renames them (``{key, path, mode}``); without it every key becomes a
file of its own name. A key that ``items`` names but the object lacks fails the volume unless
the source is optional. Files get ``mode`` or the volume's ``defaultMode`` (0644).
Secret and projected volumes sit on a tmpfs so that their contents never reach the disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from kybernetes.kubelet.volumes import fs
from kybernetes.kubelet.volumes.atomic_writer import AtomicWriter, FileProjection, PayloadError
from kybernetes.kubelet.volumes.context import Obj, VolumeContext, file_mode
from kybernetes.kubelet.volumes.errors import SourceError, VolumeSetupError

DEFAULT_MODE = 0o644

Payload = dict[str, FileProjection]


def key_paths(volume: str, data: dict[str, bytes], items: list[Obj] | None, default_mode: int, *,
              optional: bool, missing: str) -> Payload:
    """``missing`` words the error for a key that is not there: "configmap references
    non-existent config key: {key}"."""
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    payload: Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise VolumeSetupError(volume, missing.format(key=key))
        payload[str(item.get("path") or key)] = FileProjection(data[key], file_mode(item.get("mode"), default_mode))
    return payload


async def object_payload(volume: str, read: Callable[[], Awaitable[Obj]], data_of: Callable[[Obj], dict[str, bytes]],
                         source: Obj, default_mode: int, missing: str) -> Payload:
    """The files of a ConfigMap or Secret source: its keys (or ``items``), nothing when it is
    optional and absent, a VolumeSetupError naming the volume otherwise."""
    optional = bool(source.get("optional"))
    try:
        obj = await read()
    except SourceError as e:
        if e.not_found and optional:
            return {}
        raise VolumeSetupError(volume, str(e)) from None
    return key_paths(volume, data_of(obj), source.get("items"), default_mode, optional=optional, missing=missing)


def write_volume(ctx: VolumeContext, plugin: str, volume: str, payload: Payload, *, memory: bool) -> Path:
    """Make (or update) the volume's directory show ``payload``; it is a tmpfs if ``memory``."""
    directory = ctx.volume_dir(plugin, volume)
    directory.mkdir(parents=True, exist_ok=True)
    if memory and not fs.has_own_tmpfs(directory):
        try:
            fs.mount_tmpfs(directory)
        except OSError as e:
            raise VolumeSetupError(volume, f"cannot mount tmpfs: {e}") from None
    try:
        AtomicWriter(directory).write(payload, fs_group=ctx.fs_group)
    except PayloadError as e:
        raise VolumeSetupError(volume, str(e)) from None
    except OSError as e:
        raise VolumeSetupError(volume, f"writing the volume's files: {e}") from None
    return directory
