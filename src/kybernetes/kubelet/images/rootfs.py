"""A container's root filesystem: the image's unpacked layers under a private overlayfs.

    STORE/containers/<container id>/
        container.json   image id and layers (written first: it keeps the layers referenced)
        upper/           the container's writes
        work/            overlayfs' scratch dir (same filesystem as upper/)
        rootfs/          the overlay mount: lowerdir = the image's layers, top layer first

The kernel takes the mount options in one page (4 KiB). The mount is made by mount(2) itself
with absolute lowerdirs when they fit (a few dozen layers: nearly every image; a ``mount``
process per container start cost milliseconds of CPU); beyond that they are given relative to
the store's layers/ dir (``<hex>/fs``, 67 bytes each) and ``mount`` runs with that as its working
directory: ~60 layers fit. An image without layers gets an empty lowerdir. Preparing is
idempotent (a second call for the same container returns the existing mount) and so is
releasing, which unmounts (lazily if something still holds the mount) and removes the dirs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from kybernetes.kubelet.images.errors import ImageNotFoundError, ImageStoreError
from kybernetes.kubelet.images.store import ImageStore

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MNT_DETACH = 2
TOUCH_INTERVAL = 60.0  # seconds between writes of an image's last_used by container starts
_PAGE = 4096  # the kernel copies at most this much of mount(2)'s data, NUL included
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)


@dataclass(frozen=True)
class RootfsMount:
    container_id: str
    image_id: str
    path: str  # the mounted root filesystem (an OCI bundle's root.path)
    lowerdirs: tuple[str, ...]  # absolute, top layer first
    upperdir: str
    workdir: str


def _container_dir(store: ImageStore, container_id: str) -> str:
    if not isinstance(container_id, str) or not _CONTAINER_ID.match(container_id):
        raise ImageStoreError(f"invalid container id {container_id!r}")
    return str(store.root / "containers" / container_id)


def _mount_of(store: ImageStore, container_id: str, record: dict) -> RootfsMount:
    base = _container_dir(store, container_id)
    lowers = tuple(str(store.layer_fs(d)) for d in reversed(record["layers"])) or (str(store.root / "layers" / "empty"),)
    return RootfsMount(container_id, record["image_id"], os.path.join(base, "rootfs"), lowers,
                       os.path.join(base, "upper"), os.path.join(base, "work"))


def prepare_rootfs(store: ImageStore, image_id: str, container_id: str) -> RootfsMount:
    """Mount the image's layers (read-only) under a fresh upper dir for this container.

    The store's lock covers the record (written first: from then on the layers are referenced, so
    no prune or image removal can take them), not the mount itself: pod starts of a busy node
    would otherwise queue behind one another's mount(8)."""
    base = _container_dir(store, container_id)
    record_path = os.path.join(base, "container.json")
    with store.locked():
        if os.path.exists(record_path):
            with open(record_path) as f:
                existing = json.load(f)
            mount = _mount_of(store, container_id, existing)
            wanted = _find_image(store, image_id)
            if wanted is not None and wanted.id != existing["image_id"]:
                raise ImageStoreError(f"container {container_id} already has a root filesystem of another image")
            if not os.path.ismount(mount.path):
                _mount_overlay(store, mount, existing["layers"])
            return mount
        image = _find_image(store, image_id)
        if image is None:
            raise ImageNotFoundError(f"image {image_id!r} not found")
        missing = [d for d in image.layers if not store.has_layer(d)]
        if missing:
            raise ImageStoreError(f"image {image.id}: layers missing from the store: {', '.join(missing)}")
        record = {"image_id": image.id, "layers": image.layers}
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(base, sub), mode=0o755, exist_ok=True)
        with open(record_path, "w") as f:
            json.dump(record, f)
        if not image.layers:
            os.makedirs(store.root / "layers" / "empty", mode=0o755, exist_ok=True)
        _note_use(store, image.id)
    mount = _mount_of(store, container_id, record)
    try:
        _mount_overlay(store, mount, image.layers)
    except BaseException:
        with store.locked():
            shutil.rmtree(base, ignore_errors=True)
        raise
    return mount


# (store root, image id) -> when the image's last_used was last written (time.monotonic())
_last_noted: dict[tuple[str, str], float] = {}


def _note_use(store: ImageStore, image_id: str) -> None:
    """Record that the image is in use (image GC removes the least recently used first). A record
    write (with fsync) at every container start is not needed for that: once a minute is."""
    key, now = (str(store.root), image_id), time.monotonic()
    if now - _last_noted.get(key, -TOUCH_INTERVAL) >= TOUCH_INTERVAL:
        store.touch(image_id)
        _last_noted[key] = now


def _find_image(store: ImageStore, name: str):
    return (store.get(name) if name.startswith("sha256:") else None) or store.find(name)


def _mount_overlay(store: ImageStore, mount: RootfsMount, layers: list[str]) -> None:
    options = f"lowerdir={':'.join(mount.lowerdirs)},upperdir={mount.upperdir},workdir={mount.workdir}"
    if len(options) < _PAGE:
        if _libc.mount(b"overlay", mount.path.encode(), b"overlay", 0, options.encode()) != 0:
            err = ctypes.get_errno()
            raise ImageStoreError(f"mounting the root filesystem of {mount.container_id} failed: "
                                  f"{os.strerror(err)}")
        return
    lowers = [f"{d.removeprefix('sha256:')}/fs" for d in reversed(layers)] or ["empty"]
    options = f"lowerdir={':'.join(lowers)},upperdir={mount.upperdir},workdir={mount.workdir}"
    if len(options) >= _PAGE:
        raise ImageStoreError(f"image has too many layers ({len(layers)}) for one overlay mount")
    result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, mount.path],
                            cwd=store.root / "layers", capture_output=True, text=True)
    if result.returncode != 0:
        raise ImageStoreError(f"mounting the root filesystem of {mount.container_id} failed: "
                              f"{result.stderr.strip() or result.returncode}")


def _unmount(path: str) -> None:
    for flags in (0, _MNT_DETACH):
        if _libc.umount2(path.encode(), flags) == 0:
            return
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return  # not mounted (any more)
        if err != errno.EBUSY:
            raise ImageStoreError(f"unmounting {path} failed: {os.strerror(err)}")
    raise ImageStoreError(f"unmounting {path} failed: busy")


def release_rootfs(store: ImageStore, container_id: str) -> None:
    """Unmount and remove the container's rootfs; layers nobody else uses any more are pruned."""
    base = _container_dir(store, container_id)
    with store.locked():
        rootfs = os.path.join(base, "rootfs")
        while os.path.ismount(rootfs):
            _unmount(rootfs)
        if os.path.exists(base):
            shutil.rmtree(base)
            store.prune()


def mounted_rootfs(store: ImageStore) -> dict[str, RootfsMount]:
    """Every container's rootfs record (mounted or not): container id -> RootfsMount."""
    return {cid: _mount_of(store, cid, record) for cid, record in store.container_records().items()}
