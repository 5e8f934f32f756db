"""Unpack one layer tar into a directory, safely, as an overlayfs lower layer.

A layer comes from a registry or an archive nobody here wrote, so every entry is checked before
anything touches the disk:

- names are relative and never climb: an absolute name or a ``..`` component refuses the layer;
- nothing is ever written *through* a symlink: every parent of an entry must be a real directory
  inside the layer (lstat, no following), and an existing entry is unlinked, never opened;
- symlinks are created as they are (their targets are resolved inside the container later, not
  here), hardlinks must name an entry of this same layer;
- device nodes are skipped (a container gets its /dev from the runtime), as are unknown types;
- whiteouts become overlayfs whiteouts: ``.wh.NAME`` -> a 0/0 character device NAME, and
  ``.wh..wh..opq`` -> the ``trusted.overlay.opaque=y`` xattr on its directory, so stacking the
  unpacked layers with overlayfs hides what the OCI layer deletes.

The compressed stream is hashed (the blob digest) and so is the uncompressed tar (the diffID the
image config promises), so a caller can check both without reading the layer twice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from kybernetes.kubelet.images.errors import LayerUnpackError

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# xattrs carried over from PAX headers; trusted.* (overlay's own) and others are never taken from a layer.
_KEPT_XATTR_PREFIXES = ("user.", "security.capability")


@dataclass(frozen=True)
class UnpackResult:
    digest: str  # sha256 of the bytes read (the blob, compressed or not)
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # bytes of file content written


class _HashingReader:
    """A read-only stream that hashes (and counts) what passes through it."""

    def __init__(self, raw: BinaryIO, prefix: bytes = b"") -> None:
        self.raw, self.prefix = raw, prefix
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            if n < 0:
                data, self.prefix = self.prefix + self.raw.read(), b""
            else:
                data, self.prefix = self.prefix[:n], self.prefix[n:]
                if len(data) < n:
                    data += self.raw.read(n - len(data))
        else:
            data = self.raw.read(n)
        self.sha.update(data)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _decompressed(blob: _HashingReader, head: bytes):
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=blob, mode="rb")
    if head.startswith(_ZSTD_MAGIC):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True)
    return blob


def unpack_layer(stream: BinaryIO, dest: str) -> UnpackResult:
    """Unpack the (gzip, zstd or plain) layer tar read from ``stream`` into the existing dir ``dest``."""
    head = stream.read(4)
    blob = _HashingReader(stream, head)
    tar_stream = _HashingReader(_decompressed(blob, head))
    try:
        with tarfile.open(fileobj=tar_stream, mode="r|", errorlevel=2) as tar:
            size = _Extractor(tar, dest).run()
        while tar_stream.read(_CHUNK):  # the tail after the end-of-archive blocks counts in the diffID
            pass
        while blob.read(_CHUNK):
            pass
    except LayerUnpackError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise LayerUnpackError(f"layer is not a valid tar stream: {e}") from None
    except Exception as e:  # zstandard.ZstdError and the like: a corrupt stream
        raise LayerUnpackError(f"layer could not be decompressed: {e}") from None
    return UnpackResult(blob.digest(), tar_stream.digest(), size)


def clean_name(name: str) -> str:
    """The entry's path relative to the layer root ("" for the root); refuses escapes."""
    if name.startswith("/"):
        raise LayerUnpackError(f"layer entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerUnpackError(f"layer entry {name!r} climbs out of the layer with '..'")
    return "/".join(parts)


class _Extractor:
    def __init__(self, tar: tarfile.TarFile, root: str) -> None:
        self.tar, self.root = tar, root
        self.known_dirs: set[str] = {""}
        self.dir_times: list[tuple[str, float]] = []
        self.size = 0

    def run(self) -> int:
        for member in self.tar:
            self._entry(member)
        for path, mtime in reversed(self.dir_times):  # children are done: their parents' mtimes stick now
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        return self.size

    def _parent_dir(self, rel: str) -> str:
        """Make sure every parent of ``rel`` is a real directory of the layer; its absolute path."""
        parent = rel.rpartition("/")[0]
        if parent in self.known_dirs:
            return os.path.join(self.root, parent) if parent else self.root
        current = ""
        for part in parent.split("/"):
            current = f"{current}/{part}" if current else part
            if current in self.known_dirs:
                continue
            path = os.path.join(self.root, current)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise LayerUnpackError(f"layer entry {rel!r} would be written through the symlink {current!r}")
                if not stat.S_ISDIR(st.st_mode):
                    raise LayerUnpackError(f"layer entry {rel!r} needs {current!r} to be a directory")
            self.known_dirs.add(current)
        return os.path.join(self.root, parent)

    def _clear(self, path: str, keep_dir: bool) -> None:
        """Remove what is at ``path`` (never following a symlink) unless it is a dir we keep."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            _rmtree(path)
            self.known_dirs = {""}  # what we knew under it is gone: check parents again from now on
        else:
            os.unlink(path)

    def _entry(self, member: tarfile.TarInfo) -> None:
        rel = clean_name(member.name)
        if not rel:
            if member.isdir():
                self._metadata(self.root, member)
            return
        base = rel.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(rel, base)
            return
        if member.ischr() or member.isblk() or not (member.isdir() or member.isreg() or member.issym()
                                                    or member.islnk() or member.isfifo()):
            return  # device nodes and unknown types: skipped
        parent = self._parent_dir(rel)
        path = os.path.join(parent, base)
        self._clear(path, keep_dir=member.isdir())
        if member.isdir():
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            self.known_dirs.add(rel)
            self._metadata(path, member)
            self.dir_times.append((path, member.mtime))
            return
        if member.isreg():
            source = self.tar.extractfile(member)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
            self.size += member.size
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            target_rel = clean_name(member.linkname)
            target = os.path.join(self._parent_dir(target_rel), target_rel.rpartition("/")[2])
            if not target_rel or not os.path.lexists(target) or stat.S_ISDIR(os.lstat(target).st_mode):
                raise LayerUnpackError(f"hardlink {rel!r} points at {member.linkname!r}, not a file of this layer")
            os.link(target, path, follow_symlinks=False)
            return  # a hardlink shares its target's inode and metadata
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        self._metadata(path, member)

    def _metadata(self, path: str, member: tarfile.TarInfo) -> None:
        os.lchown(path, member.uid, member.gid)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                name = key[len("SCHILY.xattr."):]
                if name.startswith(_KEPT_XATTR_PREFIXES) and not member.issym():
                    try:
                        os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
                    except OSError:
                        pass  # a filesystem without user xattrs: not worth failing the pull
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def _whiteout(self, rel: str, base: str) -> None:
        parent = self._parent_dir(rel)
        if base == OPAQUE_WHITEOUT:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other .wh..wh. entries are aufs bookkeeping (hardlink dirs): nothing to do
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", "..") or "/" in name:
            raise LayerUnpackError(f"whiteout {rel!r} names nothing inside the layer")
        path = os.path.join(parent, name)
        self._clear(path, keep_dir=False)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _rmtree(path: str) -> None:
    import shutil
    shutil.rmtree(path)


def is_overlay_whiteout(path: str) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
