"""Resource usage for ``kubectl top``: the kubelet's /stats/summary and /metrics/resource.

The runtime reports cumulative CPU time and the memory working set per container (CRI's
ContainerStats). A rate (usageNanoCores) needs two samples: the sampler keeps each container's
samples of the last ``WINDOW_SECONDS`` and divides the CPU time used since the oldest of them
that is at least ``MIN_INTERVAL_SECONDS`` old by the time between (metrics-server averages over
its scrape interval too: a rate over a few milliseconds would swing between zero and a whole core
with CFS quota periods); for a container seen for the first time it uses the average since the
container started. A real node reports the machine's own use (runtime.machine_usage:
/proc/stat and /proc/meminfo, as upstream reads the root cgroup); a simulated node the sum over
its containers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from kybernetes.kubelet.logs import format_time
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.server.resolve import Node

Obj = dict[str, Any]
MACHINE_KEY = "<machine>"  # the sampler's key for a real node's own usage


WINDOW_SECONDS = 15.0
MIN_INTERVAL_SECONDS = 1.0


class StatsSampler:
    def __init__(self, window: float = WINDOW_SECONDS, min_interval: float = MIN_INTERVAL_SECONDS) -> None:
        self.window_ns = int(window * 1e9)
        self.min_interval_ns = int(min_interval * 1e9)
        # container id -> its samples (timestamp ns, cpu ns), oldest first
        self._previous: dict[str, list[tuple[int, int]]] = {}

    def rate(self, stats: cri.ContainerStats, started_at: int) -> int:
        key = stats.attributes.id
        now, used = stats.cpu.timestamp, stats.cpu.usage_core_nano_seconds
        kept = [s for s in self._previous.get(key, []) if s[0] < now and s[1] <= used]  # not after a reset
        samples = [s for s in kept if now - s[0] <= self.window_ns] or kept[-1:]  # the last one, however old
        base = next((s for s in samples if now - s[0] >= self.min_interval_ns), None)
        if not samples or now - samples[-1][0] >= self.min_interval_ns / 4:
            samples.append((now, used))  # no need to keep every sample of a burst of scrapes
        self._previous[key] = samples
        if base is not None:
            return int((used - base[1]) * 1_000_000_000 / (now - base[0]))
        if started_at and now > started_at:
            return int(used * 1_000_000_000 / (now - started_at))
        return 0

    def forget_except(self, ids: set[str]) -> None:
        for key in list(self._previous):
            if key not in ids:
                del self._previous[key]


def _usage(ts: int, nano_cores: int, core_ns: int, working_set: int) -> tuple[Obj, Obj]:
    when = format_time(ts)
    return ({"time": when, "usageNanoCores": nano_cores, "usageCoreNanoSeconds": core_ns},
            {"time": when, "workingSetBytes": working_set, "usageBytes": working_set})


async def node_summary(node: Node, sampler: StatsSampler, started: float) -> Obj:
    """The Summary API document (stats/v1alpha1) of one node."""
    runtime = node.runtime
    listed = await runtime.list_container_stats() if hasattr(runtime, "list_container_stats") else []
    pods: dict[str, Obj] = {}
    now = time.time_ns()
    total_rate = total_cpu = total_memory = 0
    for stats in listed:
        labels = stats.attributes.labels
        uid = labels.get(cri.POD_UID_LABEL, "")
        try:
            status = await runtime.container_status(stats.attributes.id)
        except cri.NotFoundError:
            continue
        rate = sampler.rate(stats, status.started_at)
        cpu, memory = _usage(stats.cpu.timestamp, rate, stats.cpu.usage_core_nano_seconds,
                             stats.memory.working_set_bytes)
        pod = pods.setdefault(uid, {
            "podRef": {"name": labels.get(cri.POD_NAME_LABEL, ""), "namespace": labels.get(cri.POD_NAMESPACE_LABEL, ""),
                       "uid": uid},
            "startTime": format_time(status.started_at or now), "containers": [], "_rate": 0, "_cpu": 0, "_mem": 0})
        pod["containers"].append({"name": labels.get(cri.CONTAINER_NAME_LABEL, stats.attributes.metadata.name),
                                  "startTime": format_time(status.started_at or now), "cpu": cpu, "memory": memory})
        pod["_rate"] += rate
        pod["_cpu"] += stats.cpu.usage_core_nano_seconds
        pod["_mem"] += stats.memory.working_set_bytes
        total_rate += rate
        total_cpu += stats.cpu.usage_core_nano_seconds
        total_memory += stats.memory.working_set_bytes
    sampler.forget_except({s.attributes.id for s in listed} | {MACHINE_KEY})
    out_pods = []
    for pod in pods.values():
        pod["cpu"], pod["memory"] = _usage(now, pod.pop("_rate"), pod.pop("_cpu"), pod.pop("_mem"))
        out_pods.append(pod)
    if hasattr(runtime, "machine_usage"):  # a real machine: its own use, not just its containers'
        cpu, memory = await runtime.machine_usage()
        machine = cri.ContainerStats(cri.ContainerAttributes(MACHINE_KEY, cri.ContainerMetadata("machine", 0)),
                                     cpu, memory)
        booted = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        total_rate = sampler.rate(machine, booted)  # first scrape: the average since boot
        total_cpu, total_memory = cpu.usage_core_nano_seconds, memory.working_set_bytes
    node_cpu, node_memory = _usage(now, total_rate, total_cpu, total_memory)
    return {"node": {"nodeName": node.name, "startTime": format_time(int(started * 1e9)), "cpu": node_cpu,
                     "memory": node_memory},
            "pods": out_pods}


def resource_metrics(summaries: Iterable[Obj]) -> str:
    """/metrics/resource in the Prometheus text format, from summaries."""
    lines = []

    def family(name: str, kind: str, help_: str) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")

    summaries = list(summaries)
    family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds")
    for s in summaries:
        lines.append(f"node_cpu_usage_seconds_total {s['node']['cpu']['usageCoreNanoSeconds'] / 1e9:.9f}")
    family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes")
    for s in summaries:
        lines.append(f"node_memory_working_set_bytes {s['node']['memory']['workingSetBytes']}")
    family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container")
    family_rows = []
    for s in summaries:
        for pod in s["pods"]:
            ref = pod["podRef"]
            for c in pod["containers"]:
                labels = f'container="{c["name"]}",namespace="{ref["namespace"]}",pod="{ref["name"]}"'
                lines.append(f"container_cpu_usage_seconds_total{{{labels}}} "
                             f"{c['cpu']['usageCoreNanoSeconds'] / 1e9:.9f}")
                family_rows.append(f"container_memory_working_set_bytes{{{labels}}} {c['memory']['workingSetBytes']}")
    family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes")
    lines.extend(family_rows)
    family("scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise")
    lines.append("scrape_error 0")
    return "\n".join(lines) + "\n"
