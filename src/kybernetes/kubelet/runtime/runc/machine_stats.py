"""The machine's own CPU and memory use, for a real node's summary (``kubectl top node``).

A node's usage is the machine's, not the sum of its containers: the kubelet, the system and
everything else count too (upstream reads the root cgroup through cAdvisor). CPU time is the
busy time of /proc/stat's "cpu" line (everything but idle and iowait); the working set is
MemTotal - MemAvailable from /proc/meminfo.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kybernetes.kubelet.runtime import protocol as cri

PROC = Path("/proc")
_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def cpu_busy_ns(proc: Path = PROC) -> int:
    """Nanoseconds of CPU time the machine spent busy since boot (all cores)."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("cpu "):
            # user nice system idle iowait irq softirq steal (guest time is already in user)
            ticks = [int(v) for v in line.split()[1:9]]
            return (sum(ticks) - ticks[3] - ticks[4]) * _TICK_NS
    raise ValueError("no cpu line in /proc/stat")


def memory_working_set_bytes(proc: Path = PROC) -> int:
    values = {}
    for line in (proc / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable"):
            values[key] = int(rest.split()[0]) * 1024
    return max(0, values.get("MemTotal", 0) - values.get("MemAvailable", 0))


class MachineStatsOps:
    async def machine_usage(self) -> tuple[cri.CpuUsage, cri.MemoryUsage]:
        """The machine's cumulative busy CPU time and memory working set, timestamped now."""
        now = time.time_ns()
        return cri.CpuUsage(now, cpu_busy_ns()), cri.MemoryUsage(now, memory_working_set_bytes())
