"""subPath mounts that cannot escape their volume, as Kubernetes makes them.

A container may write a symlink into a shared volume (``ln -s / vol/evil``) and a second
container then ask for ``subPath: evil``: binding whatever the path resolves to would hand it
the node's root. So the path is resolved and must stay inside the volume; then it is opened one
component at a time relative to the volume (``openat`` with O_NOFOLLOW, refusing any symlink),
and the open file descriptor itself, not the path, is bind-mounted (``/proc/self/fd/N``) onto
a per-container mount point, so a symlink swapped in after the check changes nothing:

    <pod dir>/volume-subpaths/<volume>/<container>/<mount index>   what the runtime bind-mounts

A missing subPath is created as a directory inside the volume, as the kubelet does.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from kybernetes.kubelet.volumes import fs
from kybernetes.kubelet.volumes.errors import ContainerConfigError

SUBPATHS_DIR = "volume-subpaths"


def check_relative(subpath: str) -> None:
    if subpath.startswith("/"):
        raise ContainerConfigError(f"subPath {subpath!r} must not be an absolute path")
    if ".." in subpath.split("/"):
        raise ContainerConfigError(f"subPath {subpath!r} must not contain '..'")


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _open_beneath(base: str, relative: str, *, create: bool) -> int:
    """An O_PATH descriptor of base/relative, walked without following any symlink."""
    fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in [p for p in relative.split("/") if p and p != "."]:
            if create:
                directory = _dir_fd(fd)
                try:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=directory)
                finally:
                    os.close(directory)
            child = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise ContainerConfigError(f"subPath component {part!r} is a symlink; refusing to follow it")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _dir_fd(path_fd: int) -> int:
    # mkdir with dir_fd needs a real directory descriptor; /proc/self/fd/N re-opens the O_PATH one.
    return os.open(f"/proc/self/fd/{path_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def prepare(volume_path: Path, subpath: str, target: Path) -> Path:
    """Bind-mount ``subpath`` of the volume onto ``target`` (made here); returns ``target``."""
    check_relative(subpath)
    base = os.path.realpath(volume_path)
    wanted = os.path.join(base, subpath)
    resolved = os.path.realpath(wanted)
    if not _within(resolved, base):
        raise ContainerConfigError(f'subpath "{wanted}" not within volume path "{base}"')
    if fs.is_mount_point(target):
        return target  # prepared before (a restarted container)
    try:
        fd = _open_beneath(base, os.path.relpath(resolved, base), create=not os.path.lexists(resolved))
    except OSError as e:
        raise ContainerConfigError(f"failed to prepare subPath {subpath!r}: {e.strerror or e}") from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_dir:
            target.mkdir(exist_ok=True)
        elif not target.exists():
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        fs.bind_mount(f"/proc/self/fd/{fd}", target)
    except OSError as e:
        raise ContainerConfigError(f"failed to prepare subPath {subpath!r}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    return target


def target_for(pod_dir: Path, volume: str, container: str, index: int) -> Path:
    return pod_dir / SUBPATHS_DIR / volume / container / str(index)
