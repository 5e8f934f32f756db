"""What every volume type's set-up gets: the pod, where its directories are, and the readers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.kubelet.volumes.downward import PodFacts
from kybernetes.kubelet.volumes.sources import ObjectCache
from kybernetes.kubelet.volumes.tokens import TokenManager

Obj = dict[str, Any]


@dataclass
class VolumeContext:
    pod: Obj
    pod_dir: Path  # <kubelet root>/pods/<uid>
    sources: ObjectCache
    tokens: TokenManager
    facts: PodFacts

    @property
    def namespace(self) -> str:
        return (self.pod.get("metadata") or {}).get("namespace") or "default"

    @property
    def fs_group(self) -> int | None:
        group = ((self.pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        return int(group) if isinstance(group, int) and not isinstance(group, bool) else None

    def volume_dir(self, plugin: str, name: str) -> Path:
        """<pod dir>/volumes/kubernetes.io~<plugin>/<volume name>, as upstream lays it out."""
        return self.pod_dir / "volumes" / f"kubernetes.io~{plugin}" / name


def file_mode(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return value
    return default
