"""runc run from a sealed in-memory copy, so that runc does not copy itself for every container.

Since CVE-2019-5736 (a container overwriting the host's runc through /proc/self/exe), every
``runc init`` first makes sure it is not running from the host's binary file: runc 1.1 bind-mounts
its binary read-only onto a temporary file, re-executes itself from there and unmounts it again
(or copies itself into a memfd), for each container start and each ``runc exec`` (exec probes
included). It skips all of that when its executable is already a fully sealed memfd, which
cannot be written by anyone. So the kubelet makes one such copy per process and runs runc (and
has conmon run it) through ``/proc/<kubelet pid>/fd/<n>``; measured with bench/pod_start.py
--perf, runc init's share of the CPU of a burst of pod starts fell from ~21% to ~16%.

The path is valid while this process lives: conmon uses it only to run ``runc create``, so
containers outlive the kubelet as before. Where a copy cannot be made (no memfd sealing), runc
runs from its own file and protects itself as usual.
"""

from __future__ import annotations

import fcntl
import logging
import os

log = logging.getLogger(__name__)

F_ADD_SEALS = 1033
F_GET_SEALS = 1034
FULLY_SEALED = 0x1 | 0x2 | 0x4 | 0x8  # F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE

_copies: dict[tuple[int, str], str] = {}  # (pid, binary) -> the path of its sealed copy


def executable(binary: str) -> str:
    """The path to run ``binary`` by: its sealed copy in this process, or ``binary`` itself."""
    key = (os.getpid(), binary)
    path = _copies.get(key)
    if path is None:
        try:
            path = _seal(binary)
        except OSError as e:
            log.info("running %s from its file (no sealed copy: %s)", binary, e)
            path = binary
        _copies[key] = path
    return path


def _seal(binary: str) -> str:
    fd = os.memfd_create(os.path.basename(binary), os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        with open(binary, "rb") as source:
            data = memoryview(source.read())
        while data:
            data = data[os.write(fd, data):]
        os.fchmod(fd, 0o755)
        fcntl.fcntl(fd, F_ADD_SEALS, FULLY_SEALED)
    except BaseException:
        os.close(fd)
        raise
    return f"/proc/{os.getpid()}/fd/{fd}"
