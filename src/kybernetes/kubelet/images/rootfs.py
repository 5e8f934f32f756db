"""A container's root filesystem: the image's unpacked layers under a private overlayfs.

    STORE/containers/<container id, 16 hex digits of it for a runtime's 64-digit id>/
        container.json   container id, image id, layers and skeleton (written first: it keeps
                         them referenced)
        upper/           the container's writes
        work/            overlayfs' scratch dir (same filesystem as upper/)
        rootfs/          the overlay mount: lowerdir = [skeleton,] the image's layers, top first
    STORE/skeletons/<key>/   the mount points an image lacks, shared read-only (key: image id and
                             the set of mount points; kept while the image is in the store)

The kernel takes the mount options in one page (4 KiB). They name the layers, upper and work
dirs relative to the store's root, and mount(2) runs from a thread whose working directory is
the store (``_mount_overlay``): the node's mountinfo, which runc reads whole four times per
container start, stays short, and ~55 layers fit; beyond that they are relative to the layers/
dir (``<hex>/fs``, 67 bytes each): ~60 layers. An image without layers gets an empty lowerdir.
Preparing is idempotent (a second call for the same container returns the existing mount) and so is
releasing, which unmounts (lazily if something still holds the mount) and removes the dirs.

Why skeletons: runc creates every mount point the image lacks (/proc, /sys, /etc/hosts,
/var/run/secrets/..., about ten) in the container's upper dir, and the container's removal
deletes them again. Each is an inode allocated and freed on the node's filesystem (costly on an
ext4 with much churn). Given the mount points the runtime will mount (``mount_points``: (path in
the container, is a directory)), they are made once per image and set of mount points in a
skeleton directory, the topmost lowerdir of every such container, and runc finds them present.
The skeleton is worked out from the image's merged view, so whiteouts and opaque directories are
the kernel's business: the container's own fresh overlay (its upper dir still empty) is that view
when the skeleton is not built yet. A path through a symlink or a non-directory is left to runc.
Existing image directories on the way (``/etc`` for ``/etc/hosts``) are in the skeleton too, with
the image's mode, owner and times: overlayfs shows a merged directory with the attributes of its
topmost layer. The store's prune removes a skeleton once its image is gone and no container
record names it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.images.errors import ImageNotFoundError, ImageStoreError
from kybernetes.kubelet.images.store import ImageStore, skeleton_image_part
from kybernetes.util.files import PUBLIC, write_atomic

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_LONG_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
SHORT_DIR_DIGITS = 16
_MNT_DETACH = 2
TOUCH_INTERVAL = 60.0  # seconds between writes of an image's last_used by container starts
_CLONE_FS = 0x200
_PAGE = 4096  # the kernel copies at most this much of mount(2)'s data, NUL included
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)

MountPoint = tuple[str, bool]  # (absolute path in the container, whether it is a directory)


@dataclass(frozen=True)
class RootfsMount:
    container_id: str
    image_id: str
    path: str  # the mounted root filesystem (an OCI bundle's root.path)
    lowerdirs: tuple[str, ...]  # absolute, top layer first (the skeleton, if any, on top)
    upperdir: str
    workdir: str
    skeleton: str = ""  # the key of the skeleton among the lowerdirs, "" for none


def _read_record(base: str) -> dict | None:
    """The container.json in ``base``; None when there is none (or it cannot be read)."""
    try:
        with open(os.path.join(base, "container.json"), "rb") as f:
            record = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _container_dir(store: ImageStore, container_id: str) -> str:
    """``containers/<the first 16 hex digits of the id>`` for a runtime's 64-hex-digit container id
    (its mount point, upper and work dirs are in the overlay's line of the node's mountinfo, which
    runc reads whole four times per container start), unless that directory is another
    container's (its record names it) or the container has one by its full id (made before);
    ``containers/<id>`` for any other id."""
    if not isinstance(container_id, str) or not _CONTAINER_ID.match(container_id):
        raise ImageStoreError(f"invalid container id {container_id!r}")
    full = str(store.root / "containers" / container_id)
    if not _LONG_HEX_ID.match(container_id) or os.path.isdir(full):
        return full
    short = str(store.root / "containers" / container_id[:SHORT_DIR_DIGITS])
    record = _read_record(short)
    # no record: free (or this container's, cut short by a crash)
    return short if record is None or record.get("container_id") == container_id else full


def skeleton_dir(store: ImageStore, key: str) -> Path:
    return store.root / "skeletons" / key


def _mount_of(store: ImageStore, container_id: str, base: str, record: dict) -> RootfsMount:
    """The mount ``record`` describes for the container whose directory is ``base``."""
    lowers = tuple(str(store.layer_fs(d)) for d in reversed(record["layers"])) or (str(store.root / "layers" / "empty"),)
    skeleton = record.get("skeleton") or ""
    if skeleton:
        lowers = (str(skeleton_dir(store, skeleton)),) + lowers
    return RootfsMount(container_id, record["image_id"], os.path.join(base, "rootfs"), lowers,
                       os.path.join(base, "upper"), os.path.join(base, "work"), skeleton)


# (store root, skeleton key) -> True: a skeleton was made; False: the image lacks none of the points
_skeletons: dict[tuple[str, str], bool] = {}
# One skeleton builder at a time in this process: a burst of an image's first containers waits for
# the first one's skeleton instead of each making its own (and a mount more).
_building = threading.Lock()


class _SkeletonUnknown(Exception):
    """Raised before anything is written: this container's skeleton is to be made first."""


def prepare_rootfs(store: ImageStore, image_id: str, container_id: str,
                   mount_points: Iterable[MountPoint] = ()) -> RootfsMount:
    """Mount the image's layers (read-only) under a fresh upper dir for this container, with the
    skeleton of ``mount_points`` on top when the image lacks some of them.

    The store's lock covers the record (written first: from then on the layers and skeleton are
    referenced, so no prune or image removal can take them), not the mount itself: pod starts of
    a busy node would otherwise queue behind one another's mount(8)."""
    points = _clean_mount_points(mount_points)
    try:
        return _prepare(store, image_id, container_id, points, may_build=False)
    except _SkeletonUnknown:
        with _building:
            return _prepare(store, image_id, container_id, points, may_build=True)


def _prepare(store: ImageStore, image_id: str, container_id: str, points: tuple[MountPoint, ...],
             may_build: bool) -> RootfsMount:
    base = _container_dir(store, container_id)
    record_path = os.path.join(base, "container.json")
    with store.locked():
        if os.path.exists(record_path):
            with open(record_path) as f:
                existing = json.load(f)
            wanted = _find_image(store, image_id)
            if wanted is not None and wanted.id != existing["image_id"]:
                raise ImageStoreError(f"container {container_id} already has a root filesystem of another image")
            if existing.get("skeleton") and not skeleton_dir(store, existing["skeleton"]).is_dir():
                del existing["skeleton"]  # gone (by hand?): runc makes the mount points as before
            mount = _mount_of(store, container_id, base, existing)
            if not os.path.ismount(mount.path):
                _mount_overlay(store, mount, existing)
            return mount
        image = _find_image(store, image_id)
        if image is None:
            raise ImageNotFoundError(f"image {image_id!r} not found")
        missing = [d for d in image.layers if not store.has_layer(d)]
        if missing:
            raise ImageStoreError(f"image {image.id}: layers missing from the store: {', '.join(missing)}")
        record = {"container_id": container_id, "image_id": image.id, "layers": image.layers}
        key = skeleton_key(image.id, points) if points else ""
        known = _skeletons.get((str(store.root), key)) if key else False
        if known:
            if skeleton_dir(store, key).is_dir():  # under the lock: no prune takes it before the record
                record["skeleton"] = key
                if not _fits(store, _mount_of(store, container_id, base, record), record):
                    del record["skeleton"]
            else:
                known = None  # pruned since: made again
        if known is None and not may_build:
            raise _SkeletonUnknown()
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(base, sub), mode=0o755, exist_ok=True)
        with open(record_path, "w") as f:
            json.dump(record, f)
        if not image.layers:
            os.makedirs(store.root / "layers" / "empty", mode=0o755, exist_ok=True)
        _note_use(store, image.id)
    mount = _mount_of(store, container_id, base, record)
    try:
        _mount_overlay(store, mount, record)
        if known is None:
            mount = _add_skeleton(store, mount, base, record, key, points)
    except BaseException:
        with store.locked():
            while os.path.ismount(mount.path):
                _unmount(mount.path)
            shutil.rmtree(base, ignore_errors=True)
        raise
    return mount


def _clean_mount_points(mount_points: Iterable[MountPoint]) -> tuple[MountPoint, ...]:
    """Absolute paths without ``.``, ``..`` or repeated slashes, sorted; others are runc's business."""
    out: dict[str, bool] = {}
    for path, is_dir in mount_points:
        if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
            continue
        parts = [p for p in path.split("/") if p and p != "."]
        if parts and ".." not in parts:
            out["/" + "/".join(parts)] = bool(is_dir)
    return tuple(sorted(out.items()))


def skeleton_key(image_id: str, points: tuple[MountPoint, ...]) -> str:
    """``<image hex, 16>-<hash of the mount points, 16>``: the store's prune keeps a skeleton while
    its image is in the store (or a container names it), so pods coming and going one at a time
    do not make it again and again."""
    text = "".join(f"\n{'d' if is_dir else 'f'} {path}" for path, is_dir in sorted(points))
    return f"{skeleton_image_part(image_id)}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _add_skeleton(store: ImageStore, mount: RootfsMount, base: str, record: dict, key: str,
                  points: tuple[MountPoint, ...]) -> RootfsMount:
    """The first container of its image and mount points: work out what the image lacks from its
    mount (still the image's own view), make the skeleton, and mount again with it on top. A
    skeleton that cannot be made is no error: runc makes the mount points as before."""
    cache_key = (str(store.root), key)
    root_stat, entries = _skeleton_entries(mount.path, points)
    if not entries:
        _skeletons[cache_key] = False
        return mount
    with_skeleton = dict(record, skeleton=key)
    if not _fits(store, _mount_of(store, mount.container_id, base, with_skeleton), with_skeleton):
        return mount
    tmp = store.ingest_dir()
    try:
        built = os.path.join(tmp, "skeleton")
        try:
            _build_skeleton(built, root_stat, entries)
        except OSError:
            return mount
        with store.locked():
            final = skeleton_dir(store, key)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            try:
                os.rename(built, final)
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    return mount
                # another container of the image made it meanwhile: the same content, use that one
            record["skeleton"] = key
            write_atomic(Path(base, "container.json"), json.dumps(record).encode(), PUBLIC, durable=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _skeletons[cache_key] = True
    _unmount(mount.path)
    mount = _mount_of(store, mount.container_id, base, record)
    _mount_overlay(store, mount, record)
    return mount


def _skeleton_entries(root: str, points: tuple[MountPoint, ...]) -> tuple[os.stat_result, dict]:
    """The merged root's stat, and what the skeleton holds: relative path -> the stat of an image
    directory on the way to a missing mount point (copied), True (a new directory) or False (a
    new empty file)."""
    entries: dict[str, os.stat_result | bool] = {}
    for path, is_dir in points:
        parts = path.strip("/").split("/")
        on_the_way: list[tuple[str, os.stat_result]] = []
        for i in range(len(parts)):
            rel = "/".join(parts[:i + 1])
            try:
                st = os.lstat(os.path.join(root, rel))
            except FileNotFoundError:
                for rel_parent, parent_stat in on_the_way:
                    if not isinstance(entries.get(rel_parent), bool):
                        entries[rel_parent] = parent_stat
                for j in range(i, len(parts) - 1):
                    entries["/".join(parts[:j + 1])] = True  # a parent: a directory, whatever else asked
                entries.setdefault(path.strip("/"), is_dir)
                break
            except OSError:
                break  # unreadable: runc's business
            if i == len(parts) - 1 or not stat.S_ISDIR(st.st_mode):
                break  # the mount point exists; or a symlink or a file is in the way: runc's business
            on_the_way.append((rel, st))
    return os.lstat(root), entries


def _build_skeleton(dest: str, root_stat: os.stat_result, entries: dict) -> None:
    os.mkdir(dest, 0o755)
    for rel in sorted(entries):  # a parent sorts before what is under it
        path = os.path.join(dest, rel)
        if entries[rel] is False:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
            os.chmod(path, 0o644)
        else:
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)
        os.chown(path, 0, 0)
    for rel, value in [("", root_stat)] + sorted(entries.items()):
        if not isinstance(value, bool):  # the image's own directory: as the image has it
            path = os.path.join(dest, rel) if rel else dest
            os.chown(path, value.st_uid, value.st_gid)
            os.chmod(path, stat.S_IMODE(value.st_mode))
            os.utime(path, ns=(value.st_atime_ns, value.st_mtime_ns))


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


def _overlay_options(store: ImageStore, mount: RootfsMount, record: dict) -> tuple[str, str]:
    """The mount options, and the directory their paths are relative to: the store's root
    (``layers/<hex>/fs``, ``containers/<id>/upper``...), or for an image with very many layers its
    layers/ dir (``<hex>/fs``, 67 bytes each)."""
    root = str(store.root)
    for cwd in (root, os.path.join(root, "layers")):
        lowers = [_relative(d, cwd) for d in mount.lowerdirs]
        options = (f"lowerdir={':'.join(lowers)},upperdir={_relative(mount.upperdir, cwd)},"
                   f"workdir={_relative(mount.workdir, cwd)}")
        if len(options) < _PAGE:
            return options, cwd
    raise ImageStoreError(f"image has too many layers ({len(record['layers'])}) for one overlay mount")


def _relative(path: str, base: str) -> str:
    """``path`` relative to ``base`` (both absolute and normalized, as the store makes them);
    os.path.relpath normalizes both again on every call, eight calls per container start."""
    prefix = base + os.sep
    return path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, base)


def _fits(store: ImageStore, mount: RootfsMount, record: dict) -> bool:
    try:
        _overlay_options(store, mount, record)
        return True
    except ImageStoreError:
        return False


def _mount_overlay(store: ImageStore, mount: RootfsMount, record: dict) -> None:
    """mount(2) the overlay with its paths relative to the store, from a thread that is born for
    it with a working directory of its own (unshare(CLONE_FS), then chdir): the process's other
    threads keep theirs. The kernel shows the options as given in /proc/*/mountinfo, which runc
    reads four times per container start and the kernel formats whole on every read, so short
    options make every later container start on the node cheaper."""
    options, cwd = _overlay_options(store, mount, record)
    outcome: list[int] = []

    def mount_there() -> None:
        if _libc.unshare(_CLONE_FS) != 0:
            outcome.append(ctypes.get_errno())
            return
        try:
            os.chdir(cwd)
        except OSError as e:
            outcome.append(e.errno or errno.EIO)
            return
        failed = _libc.mount(b"overlay", mount.path.encode(), b"overlay", 0, options.encode()) != 0
        outcome.append(ctypes.get_errno() if failed else 0)

    thread = threading.Thread(target=mount_there, name="overlay-mount")
    thread.start()
    thread.join()
    if outcome[0]:
        raise ImageStoreError(f"mounting the root filesystem of {mount.container_id} failed: "
                              f"{os.strerror(outcome[0])}")


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
    """Unmount and remove the container's rootfs; layers and skeletons nobody else uses any more
    are pruned (no prune when the stored images keep all the container used: the usual case)."""
    base = _container_dir(store, container_id)
    with store.locked():
        rootfs = os.path.join(base, "rootfs")
        while os.path.ismount(rootfs):
            _unmount(rootfs)
        if os.path.exists(base):
            record = _read_record(base)
            shutil.rmtree(base)
            if record is None or not store.kept_by_images(record):
                store.prune()


def mounted_rootfs(store: ImageStore) -> dict[str, RootfsMount]:
    """Every container's rootfs record (mounted or not): container id -> RootfsMount."""
    mounts = {}
    for name, record in store.container_records().items():
        container_id = record.get("container_id") or name
        mounts[container_id] = _mount_of(store, container_id, str(store.root / "containers" / name), record)
    return mounts
