"""Build small OCI images in Python, push them to a registry, and write them as archives.

    from tests.support.oci import (busybox_layer, files_layer, build_image, push_image, push_index,
                                   write_oci_archive, write_docker_archive)
    from tests.support.registry import LocalRegistry

    image = build_image([busybox_layer()], cmd=["sh", "-c", "echo hello"], env=["A=1"])
    with LocalRegistry() as registry:
        digest = push_image(registry.url, "library/busybox-test", "latest", image)
        # pull "127.0.0.1:PORT/library/busybox-test:latest" or "...@" + digest
    write_oci_archive(tmp / "img.oci.tar", image, "docker.io/library/busybox-test:latest")
    write_docker_archive(tmp / "img.docker.tar", image, ["busybox-test:latest"])

The base layer is Debian's busybox-static (/bin/busybox) with applet symlinks (sh, echo, cat,
sleep, wget, httpd, nc, ls, ...; see APPLETS), a tiny /etc/passwd and /etc/group and /tmp.
``files_layer`` adds files, directories, symlinks and whiteouts (``.wh.NAME``, opaque dirs);
``tar_layer`` takes raw ``tarfile.TarInfo`` entries, for layers a registry should never serve
(path traversal and the like). ``build_image(..., compression="zstd", media="docker",
architecture="arm64")`` varies the blobs; ``push_index`` pushes a manifest list / OCI index of
several images (one per platform). Pushing speaks the registry HTTP v2 API with urllib and
handles basic and bearer-token auth (``auth=(user, password)``). Layer tars are deterministic
(mtime 0), so the same layer always has the same digest.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = os.environ.get("KYB_BUSYBOX", "/bin/busybox")
APPLETS = ("sh", "ash", "echo", "cat", "sleep", "wget", "httpd", "nc", "ls", "true", "false", "env", "id",
           "hostname", "ps", "mkdir", "rm", "touch", "printf", "test", "[", "grep", "head", "tail", "kill",
           "wc", "dd", "sed", "date", "uname", "whoami", "stat", "cp", "mv", "ln", "chmod", "pwd", "sync",
           "timeout", "seq", "tee", "yes", "nslookup", "ping", "ip", "ifconfig", "mount", "df", "du", "vi", "tar")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Layer:
    tar: bytes  # uncompressed

    @property
    def diff_id(self) -> str:
        return sha256(self.tar)


def _info(name: str, type_: bytes = tarfile.REGTYPE, mode: int = 0o644, size: int = 0,
          linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = type_, mode, size, linkname
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info


def tar_layer(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Layer:
    """A layer of raw tar entries, written as given (for hostile layers in tests)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return Layer(buf.getvalue())


def files_layer(files: dict[str, bytes | str] | None = None, *, dirs: tuple[str, ...] = (),
                symlinks: dict[str, str] | None = None, whiteouts: tuple[str, ...] = (),
                opaque_dirs: tuple[str, ...] = (), modes: dict[str, int] | None = None) -> Layer:
    """A layer with files (path -> content), dirs, symlinks (path -> target) and whiteouts.

    ``whiteouts=("etc/old",)`` writes ``etc/.wh.old``; ``opaque_dirs=("var/cache",)`` writes
    ``var/cache/.wh..wh..opq``. Parent directories are added as needed.
    """
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    seen: set[str] = set()

    def parents(path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in seen:
                seen.add(d)
                entries.append((_info(d, tarfile.DIRTYPE, 0o755), None))

    for d in dirs:
        parents(d + "/x")
    for path, target in (symlinks or {}).items():
        parents(path)
        entries.append((_info(path, tarfile.SYMTYPE, 0o777, linkname=target), None))
    for path, content in (files or {}).items():
        parents(path)
        data = content.encode() if isinstance(content, str) else content
        entries.append((_info(path, mode=(modes or {}).get(path, 0o644)), data))
    for path in whiteouts:
        parents(path)
        head, _, name = path.strip("/").rpartition("/")
        entries.append((_info(f"{head}/.wh.{name}" if head else f".wh.{name}"), b""))
    for d in opaque_dirs:
        parents(d + "/x")
        entries.append((_info(f"{d.strip('/')}/.wh..wh..opq"), b""))
    return tar_layer(entries)


_BUSYBOX_LAYER: Layer | None = None


def busybox_layer() -> Layer:
    """bin/busybox, its applets as symlinks, etc/passwd, etc/group, tmp (cached per process)."""
    global _BUSYBOX_LAYER
    if _BUSYBOX_LAYER is None:
        with open(BUSYBOX, "rb") as f:
            binary = f.read()
        entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
            (_info("bin", tarfile.DIRTYPE, 0o755), None),
            (_info("bin/busybox", mode=0o755), binary),
        ]
        entries += [(_info(f"bin/{a}", tarfile.SYMTYPE, 0o777, linkname="busybox"), None) for a in APPLETS]
        entries += [
            (_info("etc", tarfile.DIRTYPE, 0o755), None),
            (_info("etc/passwd"), b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
            (_info("etc/group"), b"root:x:0:\nnogroup:x:65534:\n"),
            (_info("root", tarfile.DIRTYPE, 0o700), None),
            (_info("tmp", tarfile.DIRTYPE, 0o1777), None),
        ]
        _BUSYBOX_LAYER = tar_layer(entries)
    return _BUSYBOX_LAYER


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zstd":
        import zstandard
        return zstandard.ZstdCompressor().compress(data)
    if compression == "none":
        return data
    raise ValueError(f"unknown compression {compression!r}")


@dataclass
class OciImage:
    manifest: bytes
    config: bytes
    layers: list[Layer]
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes (config and compressed layers)
    media_type: str = OCI_MANIFEST
    architecture: str = "amd64"

    @property
    def manifest_digest(self) -> str:
        return sha256(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]


def build_image(layers: list[Layer], *, entrypoint: list[str] | None = None, cmd: list[str] | None = None,
                env: list[str] | None = None, workdir: str = "", user: str = "",
                exposed_ports: list[str] | None = None, labels: dict[str, str] | None = None,
                stop_signal: str = "", compression: str = "gzip", media: str = "oci",
                architecture: str = "amd64", os_name: str = "linux") -> OciImage:
    """An image of ``layers`` (bottom first) with that config; blobs compressed as asked."""
    container_config: dict = {"Env": env if env is not None else ["PATH=/usr/local/sbin:/usr/local/bin:"
                                                                   "/usr/sbin:/usr/bin:/sbin:/bin"]}
    if entrypoint is not None:
        container_config["Entrypoint"] = entrypoint
    if cmd is not None:
        container_config["Cmd"] = cmd
    if workdir:
        container_config["WorkingDir"] = workdir
    if user:
        container_config["User"] = user
    if exposed_ports:
        container_config["ExposedPorts"] = {p: {} for p in exposed_ports}
    if labels:
        container_config["Labels"] = labels
    if stop_signal:
        container_config["StopSignal"] = stop_signal
    config = json.dumps({
        "architecture": architecture, "os": os_name, "created": "2024-01-01T00:00:00Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "tests/support/oci.py"} for _ in layers],
    }, sort_keys=True).encode()
    blobs = {sha256(config): config}
    layer_type = OCI_LAYER if media == "oci" else DOCKER_LAYER
    suffix = {"gzip": "+gzip" if media == "oci" else ".gzip", "zstd": "+zstd", "none": ""}[compression]
    descriptors = []
    for layer in layers:
        blob = compress(layer.tar, compression)
        blobs[sha256(blob)] = blob
        descriptors.append({"mediaType": layer_type + suffix, "digest": sha256(blob), "size": len(blob)})
    manifest_type = OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": manifest_type,
        "config": {"mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG, "digest": sha256(config),
                   "size": len(config)},
        "layers": descriptors,
    }, indent=2).encode()
    return OciImage(manifest, config, list(layers), blobs, manifest_type, architecture)


def build_index(images: list[OciImage], media: str = "oci") -> bytes:
    """A manifest list (docker) or image index (oci) naming each image with its platform."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX if media == "oci" else DOCKER_LIST,
        "manifests": [{"mediaType": img.media_type, "digest": img.manifest_digest, "size": len(img.manifest),
                       "platform": {"architecture": img.architecture, "os": "linux",
                                    **({"variant": "v8"} if img.architecture == "arm64" else {})}}
                      for img in images],
    }, indent=2).encode()


# -- pushing -------------------------------------------------------------------------------------

class _Pusher:
    """urllib with the registry's two auth schemes: basic, and bearer tokens from a realm."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None) -> None:
        self.base_url, self.auth = base_url.rstrip("/"), auth
        self.authorization = ""

    def _basic(self) -> str:
        user, password = self.auth or ("", "")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _login(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.authorization = self._basic()
            return
        fields = dict(urllib.parse.parse_qsl(params.replace('",', '"&').replace('"', ""), keep_blank_values=True))
        query = urllib.parse.urlencode({k: v for k, v in fields.items() if k in ("service", "scope")})
        request = urllib.request.Request(f"{fields['realm']}?{query}")
        if self.auth:
            request.add_header("Authorization", self._basic())
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        self.authorization = "Bearer " + (body.get("token") or body["access_token"])

    def request(self, method: str, url: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        if not url.startswith("http"):
            url = self.base_url + url
        for _attempt in range(2):
            request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
            if self.authorization:
                request.add_header("Authorization", self.authorization)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as e:
                if e.code == 401 and _attempt == 0 and e.headers.get("WWW-Authenticate"):
                    self._login(e.headers["WWW-Authenticate"])
                    continue
                raise RuntimeError(f"{method} {url}: {e.code} {e.read()[:500]!r}") from None
        raise RuntimeError(f"{method} {url}: still unauthorized")

    def push_blob(self, repo: str, digest: str, blob: bytes) -> None:
        try:
            self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
            return  # already there
        except RuntimeError:
            pass
        _, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"")
        location = headers.get("Location") or headers["location"]
        if location.startswith("/"):
            location = self.base_url + location
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={urllib.parse.quote(digest)}", blob,
                     {"Content-Type": "application/octet-stream"})

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        self.request("PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type})
        return sha256(body)


def push_image(registry_url: str, repo: str, tag: str, image: OciImage,
               auth: tuple[str, str] | None = None) -> str:
    """Push blobs then the manifest as ``repo:tag``; the manifest digest."""
    pusher = _Pusher(registry_url, auth)
    for digest, blob in image.blobs.items():
        pusher.push_blob(repo, digest, blob)
    return pusher.push_manifest(repo, tag, image.manifest, image.media_type)


def push_index(registry_url: str, repo: str, tag: str, images: list[OciImage], media: str = "oci",
               auth: tuple[str, str] | None = None) -> str:
    """Push each image by digest, then an index/manifest list of them as ``repo:tag``; its digest."""
    pusher = _Pusher(registry_url, auth)
    for image in images:
        for digest, blob in image.blobs.items():
            pusher.push_blob(repo, digest, blob)
        pusher.push_manifest(repo, image.manifest_digest, image.manifest, image.media_type)
    return pusher.push_manifest(repo, tag, build_index(images, media), OCI_INDEX if media == "oci" else DOCKER_LIST)


# -- archives ------------------------------------------------------------------------------------

def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, size=len(data)), io.BytesIO(data))


def write_oci_archive(path: str | Path, image: OciImage, ref_name: str = "") -> None:
    """An OCI image layout as a tar (``oci-layout``, ``index.json``, ``blobs/sha256/...``).

    ``ref_name`` goes into the ``org.opencontainers.image.ref.name`` annotation (a full
    reference such as ``docker.io/library/app:1``, as containerd and skopeo write it)."""
    descriptor: dict = {"mediaType": image.media_type, "digest": image.manifest_digest,
                        "size": len(image.manifest)}
    if ref_name:
        descriptor["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]}).encode()
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", index)
        for digest, blob in {**image.blobs, image.manifest_digest: image.manifest}.items():
            _add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", blob)


def write_docker_archive(path: str | Path, image: OciImage, repo_tags: list[str]) -> None:
    """What ``docker save`` writes: manifest.json, the config as <hex>.json, <dir>/layer.tar (plain)."""
    config_name = image.config_digest.split(":", 1)[1] + ".json"
    layer_names = [f"{layer.diff_id.split(':', 1)[1]}/layer.tar" for layer in image.layers]
    manifest = json.dumps([{"Config": config_name, "RepoTags": repo_tags, "Layers": layer_names}]).encode()
    with tarfile.open(path, "w") as tar:
        _add(tar, "manifest.json", manifest)
        _add(tar, config_name, image.config)
        for name, layer in zip(layer_names, image.layers, strict=True):
            _add(tar, name, layer.tar)
