"""Writing files whole, with the right mode from the first byte.

Private keys and kubeconfigs must never exist on disk with a wider mode, not even for the moment
between creating a file and a chmod, so files are created with their final mode (os.open's mode
argument) under a temporary name and renamed over the target. A reader sees the old file or the
new one, never half of either.

Small files rewritten in place (a pod's hosts file, pid files read back) use ``read_text`` and
``write_text``: plain open() on a string path, which on a pod start's hot path costs a fraction
of pathlib's read_text/write_text (a Path object parsed for every call).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600
PUBLIC = 0o644


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically; the file has ``mode`` (less the umask) from creation.
    ``durable``: fsync before the rename, so the new content survives a power loss too, not only a
    crash of the writer. Files rewritten at every pod start, which a power loss makes moot anyway,
    skip it: an fsync costs a busy node milliseconds of CPU and disk."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        os.unlink(tmp)  # a leftover from a crashed writer would make O_EXCL fail
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; a directory we create is 0700."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_text(path: str) -> str | None:
    """The text of a small file; None when there is no such file."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_text(path: str, text: str) -> None:
    """Write ``text`` over the file at ``path`` (in place, not atomically)."""
    with open(path, "w") as f:
        f.write(text)
