"""hostPath: a path of the node, with the type checks Kubernetes makes before mounting it.

    ""                  no check (the default)
    DirectoryOrCreate   created (0755) when missing; must be a directory
    Directory           must exist and be a directory
    FileOrCreate        created empty (0644) when missing (its directory must exist); must be a file
    File                must exist and be a regular file
    Socket | CharDevice | BlockDevice   must exist and be one
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kybernetes.kubelet.volumes.context import Obj, VolumeContext
from kybernetes.kubelet.volumes.errors import VolumeSetupError

_CHECKS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "FileOrCreate": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def check(name: str, path: str, kind: str) -> None:
    if not path.startswith("/"):
        raise VolumeSetupError(name, f"hostPath {path!r} must be an absolute path")
    if kind == "":
        return
    if kind not in _CHECKS:
        raise VolumeSetupError(name, f"invalid HostPathType {kind!r}")
    if not os.path.exists(path):
        try:
            if kind == "DirectoryOrCreate":
                os.makedirs(path, mode=0o755, exist_ok=True)
            elif kind == "FileOrCreate":
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        except OSError as e:
            raise VolumeSetupError(name, f"hostPath type check failed: cannot create {path}: "
                                         f"{e.strerror or e}") from None
    test, what = _CHECKS[kind]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if not mode or not test(mode):
        raise VolumeSetupError(name, f"hostPath type check failed: {path} is not {what}")


async def set_up(ctx: VolumeContext, volume: Obj) -> Path:
    name = volume.get("name", "")
    source = volume.get("hostPath") or {}
    path = str(source.get("path") or "")
    check(name, path, source.get("type") or "")
    return Path(path)
