"""The node's run directory lives on a tmpfs, as /run does on a systemd machine.

Everything in it (runc's state, namespace files, conmon's sockets, exit files and bundles, the
sandboxes' hostname and resolv.conf) describes processes of this boot: it must go with them
when the machine reboots, and a pod start creates about 25 such files that its removal deletes
again. On a disk file system that churn is not free: on ext4 without a journal (this project's
CI machines) every new inode is checked against each recently deleted one, which made inode
allocation about a sixth of all CPU spent in a burst of pod starts (bench/pod_start.py).

Where the directory is not on a tmpfs already, the node mounts one of its own there (source
name ``kybernetes-run``, so it is recognisable in /proc/mounts). It stays mounted while pods may
run, kubelet restarts included, like /run; a node stopped with its pods (``stop_pods``) or
``kyb uninstall`` takes it away. A directory that already holds something is never covered:
that is the live state of a node started before this existed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kybernetes.kubelet.runtime.runc import linux

log = logging.getLogger(__name__)

SOURCE = "kybernetes-run"
OPTIONS = "mode=755,size=10%"


def _mount_of(path: Path) -> tuple[str, str, str]:
    """(mount point, file system type, source) of the mount holding ``path``."""
    target, best = str(path), ("/", "", "")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            dash = fields.index("-")
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]):
                best = (point, fields[dash + 1], fields[dash + 2])
    return best


def on_tmpfs(path: Path) -> bool:
    return _mount_of(path)[1] == "tmpfs"


def ensure_tmpfs(run_dir: Path) -> bool:
    """Make ``run_dir`` (created if missing) be on a tmpfs; True when a tmpfs was mounted now."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if on_tmpfs(run_dir):
        return False
    if any(run_dir.iterdir()):
        log.warning("%s is not on a tmpfs and already holds state: left as it is", run_dir)
        return False
    linux.mount(SOURCE, str(run_dir), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, OPTIONS)
    log.info("mounted a tmpfs on %s (the node's volatile state)", run_dir)
    return True


def release(run_dir: Path) -> bool:
    """Unmount the tmpfs ``ensure_tmpfs`` put on ``run_dir`` when nothing but empty directories is
    left in it (a file there belongs to something still alive); True when it was unmounted."""
    point, _, source = _mount_of(run_dir)
    if point != str(run_dir) or source != SOURCE:
        return False
    for _, _, files in os.walk(run_dir):
        if files:
            log.warning("%s still holds files: its tmpfs stays mounted", run_dir)
            return False
    try:
        linux.umount(str(run_dir), detach=False)
    except OSError as e:  # busy: a process still works in it
        log.warning("%s", e)
        return False
    return True
