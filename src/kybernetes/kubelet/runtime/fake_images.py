"""The fake ImageService: pulls that take no time and give stable digests.

An image "pulled" here gets a digest derived from its name and tag, so every simulated node
reports the same imageID for the same image, as real nodes pulling one registry would. A pod
annotated ``sim.kybernetes.io/pull-fail: "true"`` fails every pull for it (ErrImagePull, then
ImagePullBackOff), and a name that is not an image reference fails as a real pull would.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.runtime.protocol import AuthConfig, Image, ImagePullError, ImageSpec, PodSandboxConfig

PULL_FAIL = "sim.kybernetes.io/pull-fail"
IMAGE_SIZE = 10_000_000


class FakeImageService:
    def __init__(self) -> None:
        self._images: dict[str, Image] = {}  # normalised name -> image

    def get(self, normalised_name: str) -> Image | None:
        return self._images.get(normalised_name)

    async def list_images(self, filter: ImageSpec | None = None) -> list[Image]:
        if filter is None or not filter.image:
            return list(self._images.values())
        image = await self.image_status(filter)
        return [image] if image else []

    async def image_status(self, image: ImageSpec) -> Image | None:
        try:
            return self._images.get(str(parse_image_reference(image.image)))
        except InvalidImageNameError:
            return None

    async def pull_image(self, image: ImageSpec, auth: AuthConfig | None = None,
                         sandbox_config: PodSandboxConfig | None = None) -> str:
        try:
            ref = parse_image_reference(image.image)
        except InvalidImageNameError as e:
            raise ImagePullError(str(e)) from None
        if sandbox_config is not None and sandbox_config.annotations.get(PULL_FAIL, "") not in ("", "false"):
            raise ImagePullError(f'failed to pull and unpack image "{ref}": simulated failure ({PULL_FAIL})')
        digest = "sha256:" + hashlib.sha256(ref.name.encode() + b":" + (ref.tag or ref.digest).encode()).hexdigest()
        if ref.digest:
            digest = ref.digest
        pulled = Image(id=digest, repo_tags=(str(replace(ref, digest="")),) if ref.tag else (),
                       repo_digests=(ref.with_digest(digest),), size=IMAGE_SIZE)
        self._images[str(ref)] = pulled
        return pulled.repo_digests[0]

    async def remove_image(self, image: ImageSpec) -> None:
        try:
            self._images.pop(str(parse_image_reference(image.image)), None)
        except InvalidImageNameError:
            pass
