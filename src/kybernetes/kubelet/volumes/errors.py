"""The two ways preparing a pod's files and configuration fails, as the kubelet reports them.

``VolumeSetupError``: a volume could not be set up (a missing ConfigMap, a hostPath of the wrong
type). Kubernetes leaves the pod in ContainerCreating and emits a FailedMount event whose message
is ``MountVolume.SetUp failed for volume "<name>" : <reason>``; the kubelet retries later.

``ContainerConfigError``: one container's configuration cannot be built (a missing ConfigMap key
in its env, a subPath escaping its volume). The container waits with reason
CreateContainerConfigError and exactly this message, as Kubernetes reports it.
"""

from __future__ import annotations


class VolumeSetupError(Exception):
    def __init__(self, volume: str, reason: str):
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {reason}')
        self.volume = volume
        self.reason = reason


class ContainerConfigError(Exception):
    """The message is what the container status' waiting.message shows."""

    reason = "CreateContainerConfigError"


class SourceError(Exception):
    """An object a volume or env var needs could not be read (not found, or the API failed)."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found
