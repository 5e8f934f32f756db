"""PrioritySort: higher spec.priority first, then the pod waiting longest (the default order)."""

from __future__ import annotations

from kybernetes.scheduler.framework import Plugin
from kybernetes.scheduler.podinfo import PodInfo


class PrioritySort(Plugin):
    NAME = "PrioritySort"

    def sort_key(self, pod: PodInfo, timestamp: float) -> tuple[int, float]:
        return (-pod.priority, timestamp)
