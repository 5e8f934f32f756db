"""Pod volumes on a real node (Kubernetes' volume manager and volume plugins, for the kinds a
single machine can serve).

    manager.py        VolumeManager: mount_pod_volumes(pod) -> PodVolumes {name: host path},
                      resync (updates), unmount_pod_volumes(uid), cleanup_orphans(uids)
      ├─ empty_dir.py, host_path.py, persistent_volume_claim.py      paths on the node
      └─ config_map.py, secret.py, downward_api.py, projected.py     files, via
           projection.py (keys -> files) and atomic_writer.py (..data symlink swap)
    service_account.py   the kube-api-access-* projected volume pods get unless they opt out
    subpath.py           subPath binds that cannot escape their volume through symlinks
    downward.py          fieldRef / resourceFieldRef values (also used for env vars)
    sources.py, tokens.py    ConfigMaps/Secrets/... through a TTL cache; TokenRequest tokens
    fs.py                tmpfs and bind mounts, fsGroup ownership, removal that never crosses mounts
    errors.py            VolumeSetupError (FailedMount), ContainerConfigError (CreateContainerConfigError)

Imports only kybernetes.client, kybernetes.api and kybernetes.util (and itself).
"""

from kybernetes.kubelet.volumes.downward import PodFacts
from kybernetes.kubelet.volumes.errors import ContainerConfigError, SourceError, VolumeSetupError
from kybernetes.kubelet.volumes.manager import PodVolumes, VolumeManager
from kybernetes.kubelet.volumes.sources import ObjectCache
from kybernetes.kubelet.volumes.tokens import TokenManager

__all__ = [
    "ContainerConfigError",
    "ObjectCache",
    "PodFacts",
    "PodVolumes",
    "SourceError",
    "TokenManager",
    "VolumeManager",
    "VolumeSetupError",
]
