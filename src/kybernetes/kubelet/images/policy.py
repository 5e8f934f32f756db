"""imagePullPolicy: the default the apiserver fills in, and whether the kubelet pulls.

    Always        pull every time a container starts (the registry says if it changed)
    IfNotPresent  pull only when the image is not on the node
    Never         never pull; a missing image is ErrImageNeverPull
    default       Always for ``:latest`` or no tag (and no digest), else IfNotPresent
"""

from __future__ import annotations

from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference

ALWAYS, IF_NOT_PRESENT, NEVER = "Always", "IfNotPresent", "Never"
POLICIES = (ALWAYS, IF_NOT_PRESENT, NEVER)


class ImageNeverPullError(Exception):
    """The image is not present and the policy is Never (the kubelet reports ErrImageNeverPull)."""


def default_pull_policy(image: str) -> str:
    try:
        ref = parse_image_reference(image)
    except InvalidImageNameError:
        return IF_NOT_PRESENT
    if ref.digest:
        return IF_NOT_PRESENT
    explicit_tag = ":" in image.rpartition("/")[2].partition("@")[0]
    return ALWAYS if not explicit_tag or ref.tag == "latest" else IF_NOT_PRESENT


def should_pull(policy: str, present: bool) -> bool:
    """Whether to pull; raises ImageNeverPullError for Never with the image absent."""
    policy = policy or IF_NOT_PRESENT
    if policy not in POLICIES:
        raise ValueError(f"unknown imagePullPolicy {policy!r} (one of {', '.join(POLICIES)})")
    if policy == ALWAYS:
        return True
    if policy == NEVER:
        if not present:
            raise ImageNeverPullError("image is not present with pull policy of Never")
        return False
    return not present
