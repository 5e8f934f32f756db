"""Typed errors of the image store. Every one is an ImagePullError or a RuntimeServiceError, so the
kubelet reports them as CRI errors (ErrImagePull for anything that stops a pull)."""

from __future__ import annotations

from kybernetes.kubelet.runtime.protocol import ImagePullError, NotFoundError, RuntimeServiceError


class ImageStoreError(RuntimeServiceError):
    """The store on disk is not as expected (a missing layer, a bad record)."""


class ImageNotFoundError(NotFoundError):
    """No image in the store by that name, digest or id."""


class LayerUnpackError(ImagePullError):
    """A layer is refused: path traversal, a link out of the layer, a corrupt tar or a wrong diffID."""


class DigestMismatchError(ImagePullError):
    """Content does not hash to the digest it was asked for by (or the registry claimed)."""


class ArchiveImportError(RuntimeServiceError):
    """An image archive (OCI layout or ``docker save``) that cannot be imported."""


class RegistriesConfigError(ValueError):
    """registries.yaml is not valid (its path and what is wrong)."""
