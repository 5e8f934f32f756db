"""What the runc runtime needs from the node's images: a root filesystem per container and the
image's configuration (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal).

The image store (kubelet/images/) is injected as a ``ContainerImages``; ``image_config_from``
accepts its image-config object, an OCI image config JSON dict, or None, so the two packages
only meet at this seam.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kybernetes.kubelet.images import rootfs


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "KEY=value"
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""


@runtime_checkable
class ContainerImages(Protocol):
    """The image store, as the runtime uses it. ``image`` is what the pod asked for (a name or a
    reference); ``resolve`` gives its image id and the repo digest reported as imageID."""

    async def resolve(self, image: str) -> tuple[str, str]:
        """(image_id, image_ref); raises LookupError when the image is not on the node."""

    async def prepare_rootfs(self, image_id: str, container_id: str,
                             mount_points: tuple[tuple[str, bool], ...] = ()) -> str:
        """Mount (or make) the container's writable root filesystem; its path. ``mount_points``
        are (path in the container, is a directory) of the spec's mounts: a store may provide
        those the image lacks, so runc need not create them in the container's writable layer."""

    async def release_rootfs(self, container_id: str) -> None: ...

    async def image_config(self, image_id: str) -> ImageConfig: ...


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def image_config_from(raw: Any) -> ImageConfig:
    """An ImageConfig from an OCI config dict (``{"config": {...}}`` or its inner part), an object
    with snake-case or OCI-named attributes, or None."""
    if raw is None:
        return ImageConfig()
    if isinstance(raw, ImageConfig):
        return raw
    if isinstance(raw, dict):
        inner = raw.get("config", raw) if isinstance(raw.get("config", raw), dict) else raw
        get = inner.get
    else:
        def get(key: str, default: Any = None) -> Any:
            snake = {"Entrypoint": "entrypoint", "Cmd": "cmd", "Env": "env", "WorkingDir": "working_dir",
                     "User": "user", "StopSignal": "stop_signal"}[key]
            return getattr(raw, snake, getattr(raw, key, default))
    return ImageConfig(_strings(get("Entrypoint")), _strings(get("Cmd")), _strings(get("Env")),
                       get("WorkingDir") or "", get("User") or "", get("StopSignal") or "")


class StoreImages:
    """ContainerImages over the node's image store (kubelet/images/): overlay rootfs per
    container, the pulled image's config. Mounting and unmounting are blocking work (and wait
    for the store's lock), run in a thread; looking an image up is answered from the store's
    memory, or from a few small files, at once."""

    def __init__(self, store: Any):
        self.store = store

    async def resolve(self, image: str) -> tuple[str, str]:
        record = self.store.find(image)
        if record is None:
            raise LookupError(image)
        return record.id, (record.repo_digests[0] if record.repo_digests else record.id)

    async def prepare_rootfs(self, image_id: str, container_id: str,
                             mount_points: tuple[tuple[str, bool], ...] = ()) -> str:
        mount = await asyncio.to_thread(rootfs.prepare_rootfs, self.store, image_id, container_id, mount_points)
        return mount.path

    async def release_rootfs(self, container_id: str) -> None:
        await asyncio.to_thread(rootfs.release_rootfs, self.store, container_id)

    async def image_config(self, image_id: str) -> ImageConfig:
        return image_config_from(self.store.image_config(image_id))
