"""OCI and Docker manifests, indexes and image configs: media types, parsing, platform choice.

A registry answers a reference with one of four documents: an OCI image index or a Docker
manifest list (one entry per platform), or an OCI or Docker image manifest (a config blob and
the layer blobs, bottom layer first). The image config carries the diffIDs (sha256 of each
uncompressed layer tar) and what the runtime needs to start a container (ImageConfig).
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field

from kybernetes.kubelet.runtime.protocol import ImagePullError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_MANIFEST_BYTES = 4 << 20

_MACHINE_TO_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
                    "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
                    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def of_this_machine(cls) -> Platform:
        arch, variant = _MACHINE_TO_ARCH.get(_platform.machine().lower(), (_platform.machine().lower(), ""))
        return cls("linux", arch, variant)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    def matches(self, entry: dict) -> bool:
        if entry.get("os") != self.os or entry.get("architecture") != self.architecture:
            return False
        variant = entry.get("variant", "")
        if self.architecture == "arm64":  # v8 is arm64's only variant: "" and "v8" are the same
            return variant in ("", "v8")
        return not self.variant or not variant or variant == self.variant


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, what: str) -> Descriptor:
        if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
            raise ImagePullError(f"{what}: a descriptor without a digest")
        size = raw.get("size", -1)
        return cls(str(raw.get("mediaType", "")), raw["digest"], size if isinstance(size, int) else -1,
                   raw.get("platform") or {}, raw.get("annotations") or {})


def parse_json(body: bytes, what: str) -> dict:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ImagePullError(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise ImagePullError(f"{what} is not a JSON object")
    return doc


def media_type_of(doc: dict, header: str = "") -> str:
    """The document's mediaType, else the Content-Type, else guessed from its shape."""
    media = doc.get("mediaType") or header.split(";")[0].strip()
    if media in INDEX_TYPES or media in MANIFEST_TYPES:
        return media
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    return media


def select_platform(index: dict, platform: Platform, what: str) -> Descriptor:
    entries = [Descriptor.parse(m, what) for m in index.get("manifests") or []]
    for entry in entries:
        if platform.matches(entry.platform):
            return entry
    raise ImagePullError(f"{what}: no match for platform {platform} in the manifest list entries")


def manifest_parts(manifest: dict, what: str) -> tuple[Descriptor, list[Descriptor]]:
    """(config, layers) of an image manifest."""
    if manifest.get("schemaVersion") != 2:
        raise ImagePullError(f"{what}: schemaVersion {manifest.get('schemaVersion')!r} is not supported")
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise ImagePullError(f"{what}: no layers")
    return Descriptor.parse(manifest.get("config"), what), [Descriptor.parse(x, what) for x in layers]


def diff_ids_of(config: dict, what: str) -> list[str]:
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and d.startswith("sha256:") for d in diff_ids):
        raise ImagePullError(f"{what}: the image config has no rootfs.diff_ids")
    return list(diff_ids)


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime needs from an image config (its ``config`` object)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # KEY=VALUE, in order
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    stop_signal: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    os: str = "linux"
    architecture: str = ""

    @classmethod
    def from_config(cls, config: dict) -> ImageConfig:
        c = config.get("config") or {}

        def strings(value) -> tuple[str, ...]:
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return cls(entrypoint=strings(c.get("Entrypoint")), cmd=strings(c.get("Cmd")), env=strings(c.get("Env")),
                   working_dir=str(c.get("WorkingDir") or ""), user=str(c.get("User") or ""),
                   exposed_ports=tuple(sorted(c.get("ExposedPorts") or {})),
                   stop_signal=str(c.get("StopSignal") or ""),
                   labels={str(k): str(v) for k, v in (c.get("Labels") or {}).items()},
                   volumes=tuple(sorted(c.get("Volumes") or {})),
                   os=str(config.get("os") or "linux"), architecture=str(config.get("architecture") or ""))
