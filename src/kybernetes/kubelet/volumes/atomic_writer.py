"""Write a volume's files so that readers never see half an update, as Kubernetes does.

ConfigMap, Secret, downwardAPI and projected volumes change while containers read them. The
files live in a hidden directory named for the time of the write; one symlink, ``..data``,
points at the current one, and every name a user sees is a symlink through it:

    <volume>/..2026_01_01_10_00_00.123456789/   the files of this version (mode as asked)
    <volume>/..data -> ..2026_01_01_10_00_00.123456789
    <volume>/config.yaml -> ..data/config.yaml
    <volume>/nested -> ..data/nested

An update writes a whole new version directory, points a fresh ``..data_tmp`` symlink at it and
renames that over ``..data`` (rename(2) is atomic), then adds links for new top-level names,
drops links for names that are gone and deletes the old version. A reader that opened a path
through ``..data`` reads the old version or the new one entirely. Nothing happens when the
payload is what is already there.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kybernetes.kubelet.volumes.fs import set_volume_ownership

DATA_LINK = "..data"
TMP_LINK = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    """A path in the payload that would escape the volume or clash with the writer's own names."""


def validate_path(path: str) -> None:
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > 4096:
        raise PayloadError(f"invalid path {path!r}: must be less than or equal to 4096 characters")
    if path.startswith("/"):
        raise PayloadError(f"invalid path {path!r}: must be relative path")
    parts = path.split("/")
    if ".." in parts:
        raise PayloadError(f"invalid path {path!r}: must not contain '..'")
    if path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must not start with '..'")
    if any(len(part) > 255 for part in parts):
        raise PayloadError(f"invalid path {path!r}: each element must be at most 255 characters")


def _clean(payload: dict[str, FileProjection]) -> dict[str, FileProjection]:
    cleaned = {}
    for path, projection in payload.items():
        validate_path(path)
        cleaned[os.path.normpath(path)] = projection
    return cleaned


class AtomicWriter:
    """The writer of one volume directory. Paths are strings: a pod start writes a volume or two,
    and pathlib's joins cost more than the file calls they name."""

    def __init__(self, target: str | os.PathLike[str]):
        self.target = os.fspath(target)

    def _in_target(self, name: str) -> str:
        return os.path.join(self.target, name)

    def current_version(self) -> str | None:
        try:
            return self._in_target(os.readlink(self._in_target(DATA_LINK)))
        except OSError:
            return None

    def read_current(self) -> dict[str, FileProjection]:
        """The payload of the current version ({} when there is none)."""
        version = self.current_version()
        found: dict[str, FileProjection] = {}
        if version is None or not os.path.isdir(version):
            return found
        for root, _dirs, files in os.walk(version):
            for name in files:
                full = os.path.join(root, name)
                info = os.lstat(full)
                with open(full, "rb") as f:
                    found[os.path.relpath(full, version)] = FileProjection(f.read(), stat.S_IMODE(info.st_mode))
        return found

    def write(self, payload: dict[str, FileProjection], *, fs_group: int | None = None) -> bool:
        """Make the volume show exactly ``payload``; True when anything changed."""
        payload = _clean(payload)
        os.makedirs(self.target, exist_ok=True)
        old = self.current_version()
        if old is not None and fs_group is None and self.read_current() == payload:
            return False
        if old is not None and fs_group is not None and self._same_with_group(payload, fs_group):
            return False
        version = self._write_version(payload, fs_group)
        tmp_link = self._in_target(TMP_LINK)
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(os.path.basename(version), tmp_link)
        os.rename(tmp_link, self._in_target(DATA_LINK))
        wanted = {path.split("/", 1)[0] for path in payload}
        for name in sorted(wanted):
            link = self._in_target(name)
            if not os.path.lexists(link):
                os.symlink(f"{DATA_LINK}/{name}", link)
        for entry in os.scandir(self.target):
            if not entry.name.startswith("..") and entry.name not in wanted and entry.is_symlink():
                os.unlink(entry.path)
        if old is not None and old != version and os.path.isdir(old):
            _remove_plain_tree(old)
        return True

    def _same_with_group(self, payload: dict[str, FileProjection], fs_group: int) -> bool:
        current = self.read_current()
        if set(current) != set(payload):
            return False
        version = self.current_version()
        assert version is not None
        for path, projection in payload.items():
            if current[path].data != projection.data:
                return False
            if os.lstat(os.path.join(version, path)).st_gid != fs_group:
                return False
        return True

    def _write_version(self, payload: dict[str, FileProjection], fs_group: int | None) -> str:
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        version = self._in_target(f"..{stamp}.{secrets.randbelow(10**9):09d}")
        os.mkdir(version, 0o755)
        os.chmod(version, 0o755)
        for path, projection in sorted(payload.items()):
            full = os.path.join(version, path)
            os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(projection.data)
            os.chmod(full, projection.mode & 0o7777)
        if fs_group is not None:
            set_volume_ownership(Path(version), fs_group, readonly=True)
        return version


def _remove_plain_tree(directory: str) -> None:
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.rmdir(path)
    os.rmdir(directory)
