"""Importing image archives into the store: OCI image layouts and ``docker save`` tarballs.

    OCI layout   oci-layout, index.json (manifests, maybe nested indexes; the image name in the
                 ``io.containerd.image.name`` or ``org.opencontainers.image.ref.name`` annotation),
                 blobs/sha256/<hex>
    docker save  manifest.json: [{"Config": "<hex>.json", "RepoTags": ["app:1"], "Layers":
                 ["<dir>/layer.tar", ...]}] (newer Dockers write the OCI layout beside it)

Every blob is checked against its digest and every layer against the config's diffIDs, exactly
as for a pull; the layers are unpacked with the same safe unpacker. A docker-save image has no
registry digest, so it gets no repo digest (as with ``ctr images import`` of such archives).
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass

import orjson

from kybernetes.kubelet.images.errors import ArchiveImportError
from kybernetes.kubelet.images.manifest import (
    INDEX_TYPES,
    Platform,
    diff_ids_of,
    manifest_parts,
    media_type_of,
    parse_json,
    select_platform,
)
from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.images.store import ImageRecord, ImageStore, digest_hex, sha256_digest
from kybernetes.kubelet.runtime.protocol import ImagePullError

_NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


@dataclass(frozen=True)
class ImportedImage:
    record: ImageRecord
    names: tuple[str, ...]


class _Archive:
    def __init__(self, path: str) -> None:
        try:
            self.tar = tarfile.open(path, "r:*")
            self.members = {os.path.normpath(m.name).lstrip("/"): m for m in self.tar.getmembers() if m.isfile()}
        except (OSError, tarfile.TarError) as e:
            raise ArchiveImportError(f"{path}: not a readable tar archive: {e}") from None

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str):
        member = self.members.get(os.path.normpath(name).lstrip("/"))
        if member is None:
            raise ArchiveImportError(f"the archive has no {name!r}")
        return self.tar.extractfile(member)

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        return self.open(name).read(limit)

    def blob(self, digest: str) -> bytes:
        data = self.read(f"blobs/sha256/{digest_hex(digest)}")
        if sha256_digest(data) != digest:
            raise ArchiveImportError(f"blob {digest} in the archive does not match its digest")
        return data


def _names(candidates: list[str]) -> list[str]:
    out = []
    for name in candidates:
        try:
            ref = parse_image_reference(name)
        except InvalidImageNameError:
            continue
        if ref.tag and not ref.digest:
            out.append(str(ref))
    return out


def _unpack_layers(store: ImageStore, archive: _Archive, layers: list[tuple[str, str, str]]) -> None:
    """(member name, blob digest or "", diffID) each: unpack those not in the store yet."""
    for name, digest, diff_id in layers:
        if not store.has_layer(diff_id):
            store.unpack_layer(archive.open(name), diff_id, digest)


def _import_oci(store: ImageStore, archive: _Archive, platform: Platform) -> list[ImportedImage]:
    index = parse_json(archive.read("index.json"), "index.json")
    out = []
    for raw in index.get("manifests") or []:
        annotations = raw.get("annotations") or {}
        names = _names([annotations[k] for k in _NAME_ANNOTATIONS if k in annotations])
        top_digest = raw.get("digest", "")
        body = archive.blob(top_digest)
        doc = parse_json(body, f"manifest {top_digest}")
        store.write_blob(body)
        manifest_digest, manifest = top_digest, doc
        if media_type_of(doc, raw.get("mediaType", "")) in INDEX_TYPES:
            entry = select_platform(doc, platform, f"index {top_digest}")
            manifest_body = archive.blob(entry.digest)
            manifest, manifest_digest = parse_json(manifest_body, f"manifest {entry.digest}"), entry.digest
            store.write_blob(manifest_body)
        config_desc, layer_descs = manifest_parts(manifest, f"manifest {manifest_digest}")
        config = archive.blob(config_desc.digest)
        diff_ids = diff_ids_of(parse_json(config, "image config"), "image config")
        if len(diff_ids) != len(layer_descs):
            raise ArchiveImportError(f"manifest {manifest_digest}: {len(layer_descs)} layers, {len(diff_ids)} diffIDs")
        _unpack_layers(store, archive, [(f"blobs/sha256/{digest_hex(d.digest)}", d.digest, i)
                                        for d, i in zip(layer_descs, diff_ids, strict=True)])
        digests = [parse_image_reference(n).with_digest(top_digest) for n in names]
        record = store.commit_image(config, diff_ids, names, digests, manifest_digest)
        out.append(ImportedImage(record, tuple(names)))
    return out


def _import_docker(store: ImageStore, archive: _Archive) -> list[ImportedImage]:
    try:
        entries = orjson.loads(archive.read("manifest.json"))
    except ValueError:
        raise ArchiveImportError("manifest.json is not JSON") from None
    if not isinstance(entries, list):
        raise ArchiveImportError("manifest.json is not a list of images")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveImportError("manifest.json: an entry without Config")
        config = archive.read(entry["Config"])
        diff_ids = diff_ids_of(parse_json(config, entry["Config"]), entry["Config"])
        layers = entry.get("Layers") or []
        if len(layers) != len(diff_ids):
            raise ArchiveImportError(f"{entry['Config']}: {len(layers)} layers, {len(diff_ids)} diffIDs")
        _unpack_layers(store, archive, [(name, "", diff_id) for name, diff_id in zip(layers, diff_ids, strict=True)])
        names = _names([str(t) for t in entry.get("RepoTags") or []])
        out.append(ImportedImage(store.commit_image(config, diff_ids, names, []), tuple(names)))
    return out


def import_archive(store: ImageStore, path: str | os.PathLike, platform: Platform | None = None) -> list[ImportedImage]:
    """Import every image of the archive at ``path``; what was imported, with its names."""
    archive = _Archive(os.fspath(path))
    try:
        if archive.has("index.json") and archive.has("oci-layout"):
            images = _import_oci(store, archive, platform or Platform.of_this_machine())
        elif archive.has("manifest.json"):
            images = _import_docker(store, archive)
        else:
            raise ArchiveImportError(f"{path}: neither an OCI layout (index.json) nor a docker save archive "
                                     "(manifest.json)")
    except ImagePullError as e:
        raise ArchiveImportError(f"{path}: {e}") from None
    finally:
        archive.tar.close()
    if not images:
        raise ArchiveImportError(f"{path}: the archive holds no image")
    return images
