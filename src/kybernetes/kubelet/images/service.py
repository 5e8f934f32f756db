"""The ImageService of real nodes: CRI's image calls over the on-disk store.

    service = OciImageService(data_dir / "images", registries=load_registries(path))
    ref = await service.pull_image(ImageSpec("busybox:1.36"), auth)   # docker.io/library/busybox@sha256:...
    image = await service.image_status(ImageSpec("busybox:1.36"))    # Image(id=sha256:<config>, ...)
    mount = await service.prepare_rootfs(image.id, container_id)      # RootfsMount(path=...)
    config = await service.image_config(image.id)                     # ImageConfig(entrypoint, cmd, env, ...)
    await service.release_rootfs(container_id)

Disk work runs in threads so the kubelet's event loop keeps serving; concurrent pulls of one
reference share one pull (as containerd's do).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from kybernetes.kubelet.images import archive, gc, rootfs
from kybernetes.kubelet.images.manifest import ImageConfig, Platform
from kybernetes.kubelet.images.pull import pull_image
from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.images.registries import RegistriesConfig
from kybernetes.kubelet.images.rootfs import RootfsMount
from kybernetes.kubelet.images.store import ImageStore
from kybernetes.kubelet.runtime.protocol import (
    AuthConfig,
    Image,
    ImagePullError,
    ImageSpec,
    PodSandboxConfig,
)


def default_store_dir(data_dir: str | os.PathLike) -> Path:
    """Where a node keeps its images under its data dir."""
    return Path(data_dir) / "images"


class OciImageService:
    def __init__(self, root: str | os.PathLike, registries: RegistriesConfig | None = None,
                 platform: Platform | None = None, store: ImageStore | None = None) -> None:
        self.store = store or ImageStore(root)
        self.registries = registries or RegistriesConfig()
        self.platform = platform or Platform.of_this_machine()
        self._pulls: dict[tuple[str, str], asyncio.Future[str]] = {}

    # -- CRI ImageService -------------------------------------------------------------------------

    async def list_images(self, filter: ImageSpec | None = None) -> list[Image]:
        if filter is not None and filter.image:
            image = await self.image_status(filter)
            return [image] if image else []
        records = await asyncio.to_thread(self.store.images)
        return [r.to_image() for r in records]

    async def image_status(self, image: ImageSpec) -> Image | None:
        record = self.store.find(image.image)  # from the store's memory (or a few small files)
        return record.to_image() if record else None

    async def pull_image(self, image: ImageSpec, auth: AuthConfig | None = None,
                         sandbox_config: PodSandboxConfig | None = None) -> str:
        try:
            ref = parse_image_reference(image.image)
        except InvalidImageNameError as e:
            raise ImagePullError(str(e)) from None
        key = (str(ref), repr(auth))
        running = self._pulls.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pulls[key] = future
        try:
            result = await pull_image(self.store, ref, self.registries, auth, self.platform)
            future.set_result(result.repo_digest)
            return result.repo_digest
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._pulls.pop(key, None)

    async def remove_image(self, image: ImageSpec) -> None:
        """Remove the image (all its names); idempotent, as CRI's RemoveImage is."""
        def remove() -> None:
            with self.store.locked():
                if self.store.find(image.image) is not None:
                    self.store.remove(image.image)
        await asyncio.to_thread(remove)

    # -- for the runtime --------------------------------------------------------------------------

    async def image_config(self, image: str) -> ImageConfig:
        """The config of an image given by id, tag or digest reference (read once per image)."""
        return self.store.image_config(image)

    async def prepare_rootfs(self, image_id: str, container_id: str,
                             mount_points: tuple[tuple[str, bool], ...] = ()) -> RootfsMount:
        """``mount_points``: (path in the container, is a directory) the runtime will mount on."""
        return await asyncio.to_thread(rootfs.prepare_rootfs, self.store, image_id, container_id, mount_points)

    async def release_rootfs(self, container_id: str) -> None:
        await asyncio.to_thread(rootfs.release_rootfs, self.store, container_id)

    # -- node housekeeping ------------------------------------------------------------------------

    async def import_archive(self, path: str | os.PathLike) -> list[archive.ImportedImage]:
        return await asyncio.to_thread(archive.import_archive, self.store, path, self.platform)

    async def garbage_collect(self, high_percent: float = 85, low_percent: float = 80,
                              in_use: Iterable[str] = (), disk_usage: gc.DiskUsage | None = None) -> gc.GCResult:
        return await asyncio.to_thread(gc.garbage_collect, self.store, high_percent, low_percent,
                                       list(in_use), disk_usage)
