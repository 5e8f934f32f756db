"""cgroups: where a container's cgroup lives, the limits runc gets, OOM kills, and usage.

runc creates and fills each container's cgroup from the spec's ``linux.cgroupsPath`` (relative
to every hierarchy's root) and ``linux.resources``; this module chooses those paths, reads
back what the kernel counted, and removes the pod-level directories runc leaves behind. Both
layouts are handled:

    v1 / hybrid   one hierarchy per controller: /sys/fs/cgroup/{memory,cpu,cpuacct,...}/<path>,
                  plus the v2 tree at /sys/fs/cgroup/unified that runc also joins
    v2 (unified)  /sys/fs/cgroup/<path> with memory.current, memory.events, cpu.stat

An OOM kill is read from the container's memory cgroup counters (v1 ``memory.oom_control``'s
``oom_kill``, v2 ``memory.events``' ``oom_kill``) before runc deletes the cgroup.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.runtime.protocol import LinuxContainerResources

CGROUP_ROOT = Path("/sys/fs/cgroup")


def is_unified(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def hierarchies() -> list[Path]:
    """Mount points of every cgroup hierarchy (v1 controllers, named ones and v2), read once per
    process: they do not change under a running node, and mountinfo grows with every pod (the
    kernel formats all of it on each read, ~3 ms at 700 mounts), so a read per pod removal would
    make removing many pods quadratic."""
    return list(_hierarchies())


@functools.cache
def _hierarchies() -> tuple[Path, ...]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                found.append(Path(left.split()[4]))
    return tuple(found)


def _v1_file(controller: str, path: str, name: str) -> Path:
    return CGROUP_ROOT / controller / path.lstrip("/") / name


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    values = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        key, _, value = line.partition(" ")
        try:
            values[key] = int(value)
        except ValueError:
            continue
    return values


def oom_kill_count(path: str) -> int:
    """How many processes of the cgroup the kernel's OOM killer killed (0 if unknown)."""
    if is_unified():
        return _read_keyed(CGROUP_ROOT / path.lstrip("/") / "memory.events").get("oom_kill", 0)
    return _read_keyed(_v1_file("memory", path, "memory.oom_control")).get("oom_kill", 0)


@dataclass(frozen=True)
class CgroupUsage:
    cpu_usage_ns: int
    memory_working_set_bytes: int


def usage(path: str) -> CgroupUsage | None:
    """Cumulative CPU time and the memory working set (usage minus inactive file pages, as the
    kubelet's cAdvisor counts it); None when the cgroup is gone."""
    if is_unified():
        base = CGROUP_ROOT / path.lstrip("/")
        cpu = _read_keyed(base / "cpu.stat")
        memory = _read_int(base / "memory.current")
        if memory is None:
            return None
        inactive = _read_keyed(base / "memory.stat").get("inactive_file", 0)
        return CgroupUsage(cpu.get("usage_usec", 0) * 1000, max(memory - inactive, 0))
    cpu_ns = _read_int(_v1_file("cpuacct", path, "cpuacct.usage"))
    memory = _read_int(_v1_file("memory", path, "memory.usage_in_bytes"))
    if memory is None:
        return None
    inactive = _read_keyed(_v1_file("memory", path, "memory.stat")).get("total_inactive_file", 0)
    return CgroupUsage(cpu_ns or 0, max(memory - inactive, 0))


def oci_resources(resources: LinuxContainerResources | None) -> dict:
    """The spec's ``linux.resources`` (runc turns shares into a v2 weight by itself)."""
    spec: dict = {"devices": [{"allow": False, "access": "rwm"}]}
    if resources is None:
        return spec
    cpu: dict = {}
    if resources.cpu_shares:
        cpu["shares"] = max(resources.cpu_shares, 2)
    if resources.cpu_quota:
        cpu["quota"] = resources.cpu_quota
        cpu["period"] = resources.cpu_period or 100_000
    elif resources.cpu_period:
        cpu["period"] = resources.cpu_period
    if resources.cpuset_cpus:
        cpu["cpus"] = resources.cpuset_cpus
    if resources.cpuset_mems:
        cpu["mems"] = resources.cpuset_mems
    if cpu:
        spec["cpu"] = cpu
    if resources.memory_limit_in_bytes:
        # swap = limit: no swap beyond the limit, so the limit is what gets OOM-killed.
        spec["memory"] = {"limit": resources.memory_limit_in_bytes}
        if not is_unified() and Path(CGROUP_ROOT / "memory" / "memory.memsw.limit_in_bytes").exists():
            spec["memory"]["swap"] = resources.memory_limit_in_bytes
    return spec


def remove_tree(path: str) -> None:
    """rmdir ``path`` and its descendants in every hierarchy, deepest first (only empty cgroups
    can go; a cgroup with processes stays and the error is ignored, to be retried later)."""
    relative = path.strip("/")
    if not relative:
        return
    for root in hierarchies():
        top = root / relative
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def exists_anywhere(path: str) -> bool:
    relative = path.strip("/")
    return any((root / relative).is_dir() for root in hierarchies())
