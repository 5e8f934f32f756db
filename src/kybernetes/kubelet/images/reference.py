"""Image references as Docker, containerd and kubectl understand them.

``nginx`` means ``docker.io/library/nginx:latest``; ``me/app`` means ``docker.io/me/app:latest``;
a first component with a dot, a colon or ``localhost`` is a registry host. A digest
(``@sha256:...``) pins the content; a reference with a digest and no tag keeps no tag.
The container statuses of a pod show the normalised name (``image``) and the digest reference
(``imageID``), as they do on containerd nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRIES = ("index.docker.io", "registry-1.docker.io")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


class InvalidImageNameError(ValueError):
    """Not an image reference (the kubelet reports InvalidImageName)."""


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str  # path within the registry, e.g. library/nginx
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_digest(self, digest: str) -> str:
        """``registry/repository@digest``: the form an imageID takes."""
        return f"{self.name}@{digest}"


def parse_image_reference(text: str) -> ImageReference:
    if not isinstance(text, str) or not text or text != text.strip():
        raise InvalidImageNameError(f"invalid image name {text!r}")
    rest, digest = text, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidImageNameError(f"invalid image name {text!r}: bad digest {digest!r}")
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidImageNameError(f"invalid image name {text!r}: bad tag {tag!r}")
    parts = rest.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, path = parts[0], parts[1:]
    else:
        registry, path = DEFAULT_REGISTRY, parts
    if registry in _LEGACY_REGISTRIES:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    if not path or not all(_COMPONENT.match(p) for p in path):
        raise InvalidImageNameError(f"invalid image name {text!r}: repository names are lower case "
                                    "letters, digits and separators")
    if not tag and not digest:
        tag = "latest"
    return ImageReference(registry, "/".join(path), tag, digest)


def normalize_image(text: str) -> str:
    """The fully qualified name: ``nginx`` -> ``docker.io/library/nginx:latest``."""
    return str(parse_image_reference(text))
