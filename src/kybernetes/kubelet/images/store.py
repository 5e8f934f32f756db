"""The node's content-addressed image store, on disk under the data dir.

    ROOT/
      blobs/sha256/<hex>         manifests, indexes and configs, by digest
      layers/<hex>/fs/           one unpacked layer, by diffID (sha256 of its uncompressed tar),
      layers/<hex>/layer.json      ready to be an overlayfs lowerdir; layer.json marks it complete
      images/<hex>.json          one image record, by image id (= its config digest, as containerd
                                   and Docker count): repo tags, repo digests, layers, size, last use
      containers/<id>/           per-container overlay dirs (rootfs.py) and container.json
      skeletons/<key>/           mount points an image lacks, shared by its containers (rootfs.py)
      ingest/                    downloads and unpacks in progress (renamed into place when whole)
      lock                       flock held while records change (the kubelet and ``kyb images``
                                   may work on one store at once)

Layers are unpacked once and shared by every image and container that lists them. A layer or a
blob is kept while something refers to it: a layer while an image record or a container record
lists it, a blob while an image record names it (config, manifest, repo digest), a skeleton while
its image is in the store or a container record names it. ``prune`` removes the rest, so the
reference counts are always counted from the records, never kept beside them (nothing to drift
after a crash). Compressed layer blobs are not kept once unpacked and verified.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from kybernetes.kubelet.images.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    ImageStoreError,
    LayerUnpackError,
)
from kybernetes.kubelet.images.manifest import ImageConfig, parse_json
from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.images.unpack import UnpackResult, unpack_layer
from kybernetes.kubelet.runtime.protocol import Image
from kybernetes.util.files import write_atomic

_HEX = re.compile(r"^[0-9a-f]{64}$")


def digest_hex(digest: str) -> str:
    algo, _, hex_ = digest.partition(":")
    if algo != "sha256" or not _HEX.match(hex_):
        raise DigestMismatchError(f"unsupported digest {digest!r} (only sha256 is)")
    return hex_


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ImageRecord:
    id: str  # sha256:<config digest>
    layers: list[str]  # diffIDs, bottom first
    repo_tags: list[str] = field(default_factory=list)  # docker.io/library/busybox:latest
    repo_digests: list[str] = field(default_factory=list)  # docker.io/library/busybox@sha256:...
    manifest_digest: str = ""
    size: int = 0  # bytes on disk: unpacked layers and config
    created_at: float = 0.0
    last_used: float = 0.0

    def to_image(self) -> Image:
        return Image(id=self.id, repo_tags=tuple(self.repo_tags), repo_digests=tuple(self.repo_digests),
                     size=self.size)


def skeleton_image_part(image_id: str) -> str:
    """The part of a skeleton's name (rootfs.skeleton_key) that says whose image it is: prune keeps
    a skeleton while that image is stored."""
    return image_id.removeprefix("sha256:")[:16]


RECORDS_SETTLED_NS = 2_000_000_000  # a records directory unchanged this long is cached (_records_data)


def _record_of(data: dict) -> ImageRecord:
    """A record of its own (its lists copied), so that changing it leaves the cached data alone."""
    return ImageRecord(**{key: list(value) if isinstance(value, list) else value for key, value in data.items()})


class ImageStore:
    def __init__(self, root: str | os.PathLike, now: Callable[[], float] = time.time) -> None:
        self.root = Path(root).absolute()
        self.now = now
        for sub in ("blobs/sha256", "layers", "images", "containers", "ingest"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._configs: dict[str, ImageConfig] = {}  # image id -> its config (read once)
        # (the records directory's inode, mtime and ctime; the records' data by image id)
        self._records: tuple[tuple[int, int, int], dict[str, dict]] | None = None

    # -- locking ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (re-entrant within a process, exclusive across processes)."""
        with self._thread_lock:
            if self._depth == 0:
                self._lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    os.close(self._lock_fd)  # closing drops the flock

    # -- blobs --------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest_hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def write_blob(self, data: bytes, expected: str = "") -> str:
        digest = sha256_digest(data)
        if expected and digest != expected:
            raise DigestMismatchError(f"content has digest {digest}, expected {expected}")
        path = self.blob_path(digest)
        if not path.exists():
            write_atomic(path, data, 0o644)
        return digest

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageStoreError(f"blob {digest} is not in the store") from None

    def ingest_dir(self) -> str:
        """A fresh temp dir on the store's filesystem (rename into place is atomic); caller removes it."""
        return tempfile.mkdtemp(dir=self.root / "ingest")

    # -- layers -------------------------------------------------------------------------------------

    def layer_path(self, diff_id: str) -> Path:
        return self.root / "layers" / digest_hex(diff_id)

    def layer_fs(self, diff_id: str) -> Path:
        return self.layer_path(diff_id) / "fs"

    def has_layer(self, diff_id: str) -> bool:
        return (self.layer_path(diff_id) / "layer.json").exists()

    def layer_size(self, diff_id: str) -> int:
        try:
            return int(json.loads((self.layer_path(diff_id) / "layer.json").read_bytes()).get("size", 0))
        except (OSError, ValueError):
            return 0

    def unpack_layer(self, stream: BinaryIO, diff_id: str, digest: str = "") -> UnpackResult:
        """Unpack one layer (verifying its blob digest if given, and its diffID) unless already there."""
        final = self.layer_path(diff_id)
        tmp = self.ingest_dir()
        try:
            os.mkdir(os.path.join(tmp, "fs"), 0o755)
            result = unpack_layer(stream, os.path.join(tmp, "fs"))
            if digest and result.digest != digest:
                raise DigestMismatchError(f"layer blob has digest {result.digest}, expected {digest}")
            if result.diff_id != diff_id:
                raise LayerUnpackError(f"layer has diffID {result.diff_id}, the image config says {diff_id}")
            with open(os.path.join(tmp, "layer.json"), "w") as f:
                json.dump({"diff_id": diff_id, "digest": result.digest, "size": result.size}, f)
            with self.locked():
                if self.has_layer(diff_id):
                    return result  # unpacked meanwhile by another pull: keep that one
                if final.exists():
                    shutil.rmtree(final)  # a half-written leftover without layer.json
                os.rename(tmp, final)
            return result
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    # -- images -------------------------------------------------------------------------------------

    def _record_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{digest_hex(image_id)}.json"

    def _save(self, record: ImageRecord) -> None:
        write_atomic(self._record_path(record.id), json.dumps(asdict(record), indent=1).encode(), 0o644)

    def _records_data(self) -> dict[str, dict]:
        """Every image record's data by image id: the copy read last while the records directory
        has not changed since, else read again. A container start looks images up several times
        (by name, by id), and each look used to read every record file. Records are only ever
        written whole and renamed into place (``_save``) or unlinked, which changes the directory's
        mtime, also when another process (``kyb images``) does it."""
        directory = self.root / "images"
        stat = os.stat(directory)
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
        cached = self._records
        if cached is not None and cached[0] == signature:
            return cached[1]
        records = {}
        for path in sorted(directory.glob("*.json")):
            try:
                data = json.loads(path.read_bytes())
                ImageRecord(**data)  # a record of ours: it converts
            except (OSError, ValueError, TypeError):
                continue  # removed meanwhile, or not ours
            records[data.get("id")] = data
        # A directory's timestamps move in coarse ticks: a change made in the same tick as the
        # stat above would leave the signature as it is, so only a settled directory is cached.
        if time.time_ns() - stat.st_mtime_ns > RECORDS_SETTLED_NS:
            self._records = (signature, records)
        return records

    def images(self) -> list[ImageRecord]:
        return [_record_of(data) for data in self._records_data().values()]

    def get(self, image_id: str) -> ImageRecord | None:
        data = self._records_data().get(image_id)
        return None if data is None else _record_of(data)

    def find(self, name: str) -> ImageRecord | None:
        """By image id (``sha256:<hex>``, the hex, or a prefix of 12+), repo tag or repo digest."""
        name = name.strip()
        bare = name.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{12,64}", bare):
            matches = [r for r in self.images() if r.id.removeprefix("sha256:").startswith(bare)]
            if len(matches) == 1:
                return matches[0]
            if name.startswith("sha256:"):
                return None
        try:
            ref = parse_image_reference(name)
        except InvalidImageNameError:
            return None
        for record in self.images():
            if ref.digest:
                if ref.with_digest(ref.digest) in record.repo_digests:
                    return record
            elif str(ref) in record.repo_tags:
                return record
        return None

    def commit_image(self, config: bytes, diff_ids: list[str], repo_tags: list[str] = (),
                     repo_digests: list[str] = (), manifest_digest: str = "") -> ImageRecord:
        """Record an image whose layers are unpacked; tags move here from any other image."""
        image_id = self.write_blob(config)
        with self.locked():
            missing = [d for d in diff_ids if not self.has_layer(d)]
            if missing:
                raise ImageStoreError(f"image {image_id}: layers not in the store: {', '.join(missing)}")
            now = self.now()
            record = self.get(image_id) or ImageRecord(id=image_id, layers=list(diff_ids), created_at=now)
            record.layers = list(diff_ids)
            record.manifest_digest = manifest_digest or record.manifest_digest
            record.size = len(config) + sum(self.layer_size(d) for d in diff_ids)
            record.last_used = now
            for other in self.images():
                if other.id == image_id:
                    continue
                kept_tags = [t for t in other.repo_tags if t not in repo_tags]
                kept_digests = [d for d in other.repo_digests if d not in repo_digests]
                if (kept_tags, kept_digests) != (other.repo_tags, other.repo_digests):
                    other.repo_tags, other.repo_digests = kept_tags, kept_digests
                    self._save(other)
            record.repo_tags = sorted(set(record.repo_tags) | set(repo_tags))
            record.repo_digests = sorted(set(record.repo_digests) | set(repo_digests))
            self._save(record)
            return record

    def touch(self, image_id: str) -> None:
        with self.locked():
            record = self.get(image_id)
            if record is not None:
                record.last_used = self.now()
                self._save(record)

    def remove(self, name: str) -> ImageRecord:
        """Remove the image (all its tags) and whatever only it referred to."""
        with self.locked():
            record = self.find(name)
            if record is None:
                raise ImageNotFoundError(f"image {name!r} not found")
            self._record_path(record.id).unlink(missing_ok=True)
            self.prune()
            return record

    def image_config(self, image_id: str) -> ImageConfig:
        record = self.get(image_id) or self.find(image_id)
        if record is None:
            raise ImageNotFoundError(f"image {image_id!r} not found")
        config = self._configs.get(record.id)  # the config blob is content-addressed: it never changes
        if config is None:
            config = ImageConfig.from_config(parse_json(self.read_blob(record.id), f"config of {record.id}"))
            self._configs[record.id] = config
        return config

    # -- references and pruning ---------------------------------------------------------------------

    def container_records(self) -> dict[str, dict]:
        out = {}
        for path in (self.root / "containers").glob("*/container.json"):
            try:
                out[path.parent.name] = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
        return out

    def layer_references(self, containers: dict[str, dict] | None = None,
                         images: list[ImageRecord] | None = None) -> dict[str, int]:
        """diffID -> how many image and container records list it (``containers``, ``images``: the
        records, if the caller has read them already)."""
        counts: dict[str, int] = {}
        for record in self.images() if images is None else images:
            for d in set(record.layers):
                counts[d] = counts.get(d, 0) + 1
        for container in (self.container_records() if containers is None else containers).values():
            for d in set(container.get("layers", [])):
                counts[d] = counts.get(d, 0) + 1
        return counts

    def kept_by_images(self, container_record: dict) -> bool:
        """Would the stored images alone keep everything ``container_record`` (a container.json)
        refers to: each of its layers listed by an image, its skeleton's image stored? Then removing
        that container leaves nothing for prune to take, and the scan of every container record a
        prune makes (one file per container on the node) can be skipped."""
        images = self.images()
        layers = {d for record in images for d in record.layers}
        skeleton = container_record.get("skeleton") or ""
        return (isinstance(container_record.get("layers"), list)
                and set(container_record["layers"]) <= layers
                and (not skeleton or skeleton.partition("-")[0] in {skeleton_image_part(r.id) for r in images}))

    def prune(self) -> int:
        """Remove layers, blobs and skeletons nothing refers to; the bytes freed (layer content)."""
        freed = 0
        with self.locked():
            containers, images = self.container_records(), self.images()
            refs = self.layer_references(containers, images)
            for path in (self.root / "layers").iterdir():
                if path.name == "empty" or refs.get(f"sha256:{path.name}", 0):
                    continue
                freed += self.layer_size(f"sha256:{path.name}") if _HEX.match(path.name) else 0
                shutil.rmtree(path, ignore_errors=True)
            wanted = set()
            for record in images:
                wanted.add(record.id)
                if record.manifest_digest:
                    wanted.add(record.manifest_digest)
                wanted.update(d.rpartition("@")[2] for d in record.repo_digests)
            for path in (self.root / "blobs" / "sha256").iterdir():
                if f"sha256:{path.name}" not in wanted:
                    path.unlink(missing_ok=True)
            skeletons = self.root / "skeletons"
            named = {c.get("skeleton") for c in containers.values()}
            stored = {skeleton_image_part(record.id) for record in images}
            for path in skeletons.iterdir() if skeletons.is_dir() else ():
                if path.name not in named and path.name.partition("-")[0] not in stored:
                    shutil.rmtree(path, ignore_errors=True)
        return freed

    def disk_bytes(self) -> int:
        """Bytes of file content in the store (layers as unpacked, blobs, container upper dirs;
        skeletons hold only directories and empty files)."""
        total = 0
        for dirpath, dirs, files in os.walk(self.root):
            if Path(dirpath).parent.name == "containers":
                dirs[:] = [d for d in dirs if d != "rootfs"]  # a mount of layers counted already
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
        return total
