"""The few Linux calls the runtime makes itself: mount, umount, setns, unshare, and process checks.

ctypes on libc rather than ``mount``/``umount`` subprocesses: a pod start and removal make
several of these, and a fork+exec each would cost milliseconds for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)

MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 2
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str | None, flags: int, options: str = "") -> None:
    data = ctypes.c_char_p(options.encode()) if options else None
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data),
           f"mount {source} on {target}")


def umount(target: str, *, detach: bool = True) -> bool:
    """Unmount ``target``; False when it was not mounted (or does not exist)."""
    result = _libc.umount2(target.encode(), MNT_DETACH if detach else 0)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            return False
        raise OSError(errno, f"umount {target}: {os.strerror(errno)}")
    return True


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    """Move the calling thread (only it: namespaces belong to tasks) into new namespaces."""
    _check(_libc.unshare(flags), "unshare")


async def on_own_thread(work: Callable[[], T]) -> T:
    """``work()``'s result, computed on a new thread that ends with it (never a pooled one: after
    setns or unshare the thread is in namespaces no other work may run in). A caller cancelled
    meanwhile does not stop it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if not done.done():
            done.set_result(result) if error is None else done.set_exception(error)  # type: ignore[arg-type]

    def run() -> None:
        result, error = None, None
        try:
            result = work()
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
            error = e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="kubelet-namespaces", daemon=True).start()
    return await done


def set_link_up(name: str) -> None:
    """Bring interface ``name`` of the calling thread's network namespace up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", name.encode(), 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | IFF_UP))


def mount_points() -> set[str]:
    """Every mount point of this process' mount namespace."""
    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # field 5 is the mount point, with spaces etc. octal-escaped
            points.add(line.split()[4].encode().decode("unicode_escape"))
    return points


def make_shared_mount_dir(path: str) -> bool:
    """Make ``path`` a mount point with shared propagation, as ``ip netns`` does for /run/netns:
    namespace files bind-mounted inside it then propagate to (and their unmounts reach) the copies
    that other mount namespaces made of it, so no copy keeps a dead pod's network alive.
    True when a bind mount was added (to undo on uninstall)."""
    Path(path).mkdir(parents=True, exist_ok=True)
    added = False
    if path not in mount_points():
        mount(path, path, None, MS_BIND | MS_REC)
        added = True
    mount("none", path, None, MS_SHARED | MS_REC)
    return added


def process_alive(pid: int, needle: str = "") -> bool:
    """Is ``pid`` alive (not a zombie) and, if ``needle`` is given, is it in its command line?
    The command-line check guards against a recycled pid after a reboot or a long downtime."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        if not needle:
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except (OSError, IndexError):
        return False
