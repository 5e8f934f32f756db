"""Image garbage collection, as the kubelet's image GC manager does it.

When the filesystem holding the image store is used above ``high_percent``, remove images not
used by any container, least recently used first, until usage would be at ``low_percent``.
"In use" means a container's rootfs was made from it (a container record in the store) or the
caller says so (the kubelet passes the images of the containers it knows). Usage comes from
statvfs of the store's filesystem; tests pass their own ``disk_usage``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kybernetes.kubelet.images.store import ImageStore

DiskUsage = Callable[[], tuple[int, int]]  # (capacity bytes, used bytes)


@dataclass
class GCResult:
    removed: list[str] = field(default_factory=list)  # image ids
    freed_bytes: int = 0
    usage_percent_before: float = 0.0


def statvfs_usage(path: str) -> DiskUsage:
    def usage() -> tuple[int, int]:
        st = os.statvfs(path)
        capacity = st.f_blocks * st.f_frsize
        return capacity, capacity - st.f_bfree * st.f_frsize
    return usage


def images_in_use(store: ImageStore) -> set[str]:
    return {c.get("image_id", "") for c in store.container_records().values()}


def garbage_collect(store: ImageStore, high_percent: float = 85, low_percent: float = 80,
                    in_use: Iterable[str] = (), disk_usage: DiskUsage | None = None) -> GCResult:
    if not 0 <= low_percent <= high_percent <= 100:
        raise ValueError(f"need 0 <= low ({low_percent}) <= high ({high_percent}) <= 100")
    usage = disk_usage or statvfs_usage(str(store.root))
    capacity, used = usage()
    result = GCResult(usage_percent_before=100.0 * used / capacity if capacity else 0.0)
    if capacity <= 0 or result.usage_percent_before < high_percent:
        return result
    to_free = used - capacity * low_percent / 100
    with store.locked():
        keep = set(in_use) | images_in_use(store)
        candidates = sorted((r for r in store.images() if r.id not in keep), key=lambda r: (r.last_used, r.id))
        for record in candidates:
            if result.freed_bytes >= to_free:
                break
            store.remove(record.id)
            result.removed.append(record.id)
            capacity, now_used = usage()
            result.freed_bytes = max(used - now_used, result.freed_bytes)
    return result
