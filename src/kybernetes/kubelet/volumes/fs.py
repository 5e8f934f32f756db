"""The host-side file system calls volumes need: tmpfs mounts, bind mounts, mount-point checks,
fsGroup ownership, and removing a pod's directories without crossing into a mount.

mount(2) and umount2(2) through ctypes, as the runtime does: a pod start makes a few of these and
a fork+exec of mount(8) each would cost milliseconds for nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)

MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    result = _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                         data.encode() if data else None)
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def mount_tmpfs(target: Path, size_bytes: int = 0) -> None:
    """A fresh tmpfs on ``target`` (already a directory); ``size_bytes`` 0: the kernel's default."""
    options = "mode=0777" if not size_bytes else f"mode=0777,size={size_bytes}"
    _mount("tmpfs", str(target), "tmpfs", MS_NOSUID | MS_NODEV, options)


def bind_mount(source: str, target: Path) -> None:
    _mount(source, str(target), None, MS_BIND | MS_REC, None)


def umount(target: Path) -> bool:
    """Lazily unmount ``target``; False when it was not a mount point (or does not exist)."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        errno = ctypes.get_errno()
        if errno in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            return False
        raise OSError(errno, f"umount {target}: {os.strerror(errno)}")
    return True


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal
    if "\\" not in field:
        return field  # the common case: nothing escaped (this runs for every line of mountinfo)
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _escape(path: str) -> str:
    """A path as mountinfo spells it (the inverse of ``_unescape``)."""
    if not any(ch in path for ch in " \t\n\\"):
        return path
    return "".join(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch for ch in path)


def _mount_point(line: str) -> str:
    """The mount point field of a mountinfo line."""
    return _unescape(line.split(" ", 5)[4])


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [_mount_point(line) for line in f]


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, deepest first (the order to unmount them in). Only
    the lines that spell ``directory`` somewhere are split: on a busy node nearly all of mountinfo
    is other pods' mounts."""
    base = str(directory).rstrip("/")
    needle = _escape(base)
    with open("/proc/self/mountinfo") as f:
        points = [_mount_point(line) for line in f if needle in line]
    found = [p for p in points if p == base or p.startswith(base + "/")]
    return sorted(set(found), key=lambda p: -p.count("/"))


def is_mount_point(path: Path) -> bool:
    return str(path).rstrip("/") in set(mount_points())


class _StatFs(ctypes.Structure):
    # struct statfs begins with f_type (__fsword_t, a long); the rest is room for the remainder
    _fields_ = (("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 256))


_libc.statfs.argtypes = (ctypes.c_char_p, ctypes.POINTER(_StatFs))
_MAGIC_TYPES = {0x01021994: "tmpfs"}


def _mounted_type(path: Path) -> str:
    """The type of the file system at ``path`` when ``path`` is certainly a mount point of a type
    we know by its magic (another device than its parent's), else "" (look in mountinfo)."""
    try:
        if os.lstat(path).st_dev == os.lstat(os.path.dirname(str(path).rstrip("/")) or "/").st_dev:
            return ""  # no mount point, or one of the same file system (a bind mount): not decidable here
    except OSError:
        return ""
    buf = _StatFs()
    if _libc.statfs(str(path).encode(), ctypes.byref(buf)) != 0:
        return ""
    return _MAGIC_TYPES.get(buf.f_type & 0xFFFFFFFF, "")


def has_own_tmpfs(path: Path) -> bool:
    """Whether a tmpfs of its own is mounted at ``path`` (what the kubelet mounts for a memory-backed
    volume): the answer needs no mountinfo, which a busy node makes long (a pod start checks its
    fresh volume directories here)."""
    return _mounted_type(path) == "tmpfs"


def filesystem_type(path: Path) -> str:
    """The type of the file system mounted exactly at ``path`` ("" if it is no mount point)."""
    known = _mounted_type(path)  # a volume's tmpfs, checked at every resync: no mountinfo to read
    if known:
        return known
    target = _escape(str(path).rstrip("/"))
    fstype = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if target not in line:  # cheap: most lines of a busy node's mountinfo are other mounts
                continue
            left, _, right = line.partition(" - ")
            if left.split(" ", 5)[4] == target:
                fstype = right.split()[0]  # the last one mounted there is the visible one
    return fstype


def unmount_all_under(directory: Path) -> bool:
    """Unmount everything at or below ``directory``; False when nothing was mounted there."""
    points = mounts_under(directory)
    for point in points:
        umount(Path(point))
    return bool(points)


def remove_tree(directory: Path) -> None:
    """Remove ``directory`` after unmounting whatever is still mounted below it, never following
    a symlink or crossing into another file system (a bind mount left behind must not get the
    files of the host path it shows deleted). mountinfo is read again only when there was
    something to unmount (each read costs the kernel time in proportion to the node's mounts)."""
    if not os.path.lexists(directory):
        return
    if unmount_all_under(directory) and mounts_under(directory):
        raise OSError(f"{directory} still has mounts below it; not removing it")
    root_dev = os.lstat(directory).st_dev
    _remove(str(directory), root_dev)


def _remove(path: str, device: int) -> None:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    if info.st_dev != device:
        raise OSError(f"{path} is on another file system; not removing it")
    with os.scandir(path) as entries:
        children = [e.path for e in entries]
    for child in children:
        _remove(child, device)
    os.rmdir(path)


def set_volume_ownership(directory: Path, fs_group: int, *, readonly: bool = False) -> None:
    """Kubernetes' fsGroup rule: every file gets group ``fs_group`` and read for owner and group (and write,
    unless the volume is read-only); directories also get execute and the setgid bit, so
    new files inherit the group. Symlinks are not followed."""
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files, None]:
            path = root if name is None else os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                continue
            os.lchown(path, -1, fs_group)
            mode = stat.S_IMODE(info.st_mode) | (0o440 if readonly else 0o660)
            if stat.S_ISDIR(info.st_mode):
                mode |= 0o110 | stat.S_ISGID
            os.chmod(path, mode)
