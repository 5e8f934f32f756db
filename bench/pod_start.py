"""Pod start latency on a real node, beside a bare ``runc run`` of the same image (issue 5).

The real apiserver (in-memory store) runs in a process of its own, as under ``kyb up`` (each
component is a process there), and this process runs the machine's kubelet (runc + conmon, CNI)
and the client that creates the pods and watches them; ``--apiserver inline`` runs the apiserver
in this process too, as the figures before that option were taken. A busybox image is already
in the node's store. Measured, each in the same run:
- bare runc: ``runc run`` of the image's rootfs running ``true`` (create + start + exit + delete),
- pod created -> Running seen through a watch, hostNetwork pods (no CNI): p50 / p99,
- the same with the pod network (CNI bridge ADD), reported separately,
- sustained: N pods created at once, pods started per second until all are Running, and the CPU
  each start cost during that burst (a cpuacct cgroup holds this process and every process it
  starts: the apiserver, conmon, runc, the CNI plugins), split into this process (the kubelet and
  the bench's client), the apiserver process, and the rest; "settled": counted on until 2 s after
  the last Running (the status writes and events a start leaves behind), less the CPU of 2 idle
  seconds. Load from other work on the machine changes the rate far more than the CPU per start:
  compare the CPU figures first. So does recent file churn on the data dir's file system: on an
  ext4 without a journal (this project's CI machines) each new inode is checked against every
  inode deleted in the last minute or more of its group, so a run right after another (or after
  tests that started and removed many pods) is slower; let the machine rest a minute first.
  ``--perf`` shows it as find_inode_bit / recently_deleted.
- the machine during the burst (/proc/stat): its busy CPU per start (everything: runc init, which
  runs in the containers' cgroups, and any other work on the machine too), and the share of its
  CPU time that was idle and that the hypervisor stole. A burst with idle time left waited on
  something other than the CPU; busy CPU well above the cgroup's means other work was running.
- removal: the burst's pods deleted at once, seconds until the kubelet is done with all of them
  (no sandbox, no pod directory left), and pods removed per second.
- the burst and its removal run ``--bursts`` times in a row (3; 1 with --quick): the figures are
  those of the median burst, and every burst's rate is listed, so one run shows the spread. The
  speed of this 2-core VM changes from one minute to the next (bare runc's p50 moved between 26
  and 49 ms within an hour, and the rate with it): one run, even the median of three bursts, does
  not settle a difference of a few percent; alternate runs of the two trees and compare many.
Issue 5 goals: p50 within raw runc + 100 ms without network, p99 <= 1 s, >= 15 starts/s.
Needs root, runc, conmon and busybox-static. --quick runs in well under a minute. The last line
is one JSON object with every figure. The machine is shared: compare figures of one run, repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGE = "docker.io/library/busybox:bench"
SETTLE_SECONDS = 2.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def bare_runc(store, image_id: str, work: Path, runs: int) -> list[float]:
    """Seconds per ``runc run`` of ``true`` in a copy of the image's rootfs (no network, no conmon)."""
    from kybernetes.kubelet.images import rootfs

    bundle = work / "bundle"
    bundle.mkdir()
    mount = rootfs.prepare_rootfs(store, image_id, "bench-bare")
    try:
        subprocess.run(["runc", "spec", "--rootless"], cwd=bundle, check=True)
        config = json.loads((bundle / "config.json").read_text())
        config["root"] = {"path": mount.path, "readonly": False}
        config["process"]["args"], config["process"]["terminal"] = ["true"], False
        (bundle / "config.json").write_text(json.dumps(config))
        root = str(work / "runc-root")
        times = []
        for i in range(runs):
            started = time.perf_counter()
            subprocess.run(["runc", "--root", root, "run", "-b", str(bundle), f"bench-{i}"], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        return times
    finally:
        rootfs.release_rootfs(store, "bench-bare")


APISERVER_PROCESS = """
import asyncio, sys
import uvloop
from kybernetes.testing.apiserver import TestApiServer

async def serve():
    async with TestApiServer() as server:
        print(server.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until our parent goes

from kybernetes.util.gc_tuning import tune_for_long_running
tune_for_long_running()  # as kyb apiserver does
uvloop.run(serve())
"""


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


@contextlib.contextmanager
def cpuacct_group():
    """A cpuacct cgroup (v1) holding this process, so every process it starts is counted too; its
    cpuacct.usage file, or None where there is no such hierarchy. Removed on the way out."""
    group = CPUACCT / f"kyb-bench-{secrets.token_hex(4)}"
    try:
        group.mkdir()
    except OSError:
        yield None
        return
    home = next((line.split(":", 2)[2].strip() for line in Path("/proc/self/cgroup").read_text().splitlines()
                 if "cpuacct" in line.split(":", 2)[1].split(",")), "/")
    try:
        (group / "cgroup.procs").write_text(str(os.getpid()))
        yield group / "cpuacct.usage"
    finally:
        for pid in (group / "cgroup.procs").read_text().split():  # ours, and whatever is left
            with contextlib.suppress(OSError):
                (CPUACCT / home.lstrip("/") / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            group.rmdir()


def machine_ticks() -> tuple[int, int, int]:
    """The whole machine's CPU time from /proc/stat, in clock ticks summed over its CPUs: (all,
    idle + iowait, steal: time the hypervisor gave to other guests)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(fields), fields[3] + fields[4], fields[7]


class CpuMeter:
    """CPU seconds since start(): all (the cgroup), this process, the apiserver's process; and the
    machine's: busy (anything, runc init in the containers' cgroups and other work on the machine
    included), idle and stolen."""

    def __init__(self, usage_file: Path | None, apiserver_pid: int):
        self.usage_file = usage_file
        self.apiserver_pid = apiserver_pid
        self.start()

    def _sample(self) -> tuple[float, ...]:
        total = int(self.usage_file.read_text()) / 1e9 if self.usage_file else 0.0
        own = resource.getrusage(resource.RUSAGE_SELF)
        api = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        if self.apiserver_pid:
            fields = Path(f"/proc/{self.apiserver_pid}/stat").read_text().rsplit(")", 1)[1].split()
            api = (int(fields[11]) + int(fields[12])) / tick
        machine, idle, steal = (ticks / tick for ticks in machine_ticks())
        return total, own.ru_utime + own.ru_stime, api, machine, idle, steal

    def start(self) -> None:
        self.started = self._sample()

    def per_start_ms(self, starts: int) -> dict:
        total, own, api, machine, idle, steal = (b - a for a, b in zip(self.started, self._sample(), strict=True))
        ms = lambda seconds: round(seconds * 1000 / max(starts, 1), 1)  # noqa: E731
        figures = {"cpu_ms_per_start_kubelet_process": ms(own), "cpu_ms_per_start_apiserver": ms(api),
                   "machine_busy_ms_per_start": ms(machine - idle - steal),
                   "machine_idle_percent": round(100 * idle / machine, 1) if machine else 0.0,
                   "machine_steal_percent": round(100 * steal / machine, 1) if machine else 0.0}
        if self.usage_file:
            figures["cpu_ms_per_start"] = ms(total)
            figures["cpu_ms_per_start_other_processes"] = ms(total - own - api)
        return figures


@contextlib.asynccontextmanager
async def apiserver(where: str):
    """(URL, pid) of an apiserver running in its own process ("process"; pid 0: "inline", in this
    one); gone when the block exits."""
    from kybernetes.testing.apiserver import TestApiServer

    if where == "inline":
        async with TestApiServer() as server:
            yield server.url, 0
        return
    proc = subprocess.Popen([sys.executable, "-c", APISERVER_PROCESS], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        url = (await asyncio.to_thread(proc.stdout.readline)).decode().strip()
        if not url:
            raise RuntimeError("the apiserver process did not start")
        yield url, proc.pid
    finally:
        proc.stdin.close()  # it stops when its stdin closes
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def system_profile(path: str):
    """``perf record`` of the whole machine (call graphs) for the block: where the CPU of the
    processes a start runs (runc, conmon, CNI plugins, the kernel's work for them) goes."""
    proc = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "999", "-o", path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # perf has opened its buffers
    try:
        yield
    finally:
        proc.send_signal(2)
        proc.wait(30)


def pod(name: str, node: str, host_network: bool) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "pod-start"}},
            "spec": {"nodeName": node, "hostNetwork": host_network, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": IMAGE, "imagePullPolicy": "Never",
                                     "command": ["sleep", "3600"]}]}}


async def start_pods(client, node: str, names: list[str], host_network: bool) -> dict[str, float]:
    """Create the pods at once; seconds from each create to its Running event on a watch."""
    from kybernetes.client.resource import PODS

    listed = await client.list(PODS, "default")
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async with client.watch(PODS, "default", resource_version=listed["metadata"]["resourceVersion"],
                                label_selector="bench=pod-start") as events:
            async for event in events:
                obj = event.object
                name = (obj.get("metadata") or {}).get("name")
                if name in created and name not in running and (obj.get("status") or {}).get("phase") == "Running":
                    running[name] = time.perf_counter() - created[name]
                    if len(running) == len(names):
                        done.set()
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.05)

    async def create(name: str) -> None:
        created[name] = time.perf_counter()
        await client.create(PODS, pod(name, node, host_network), "default")

    await asyncio.gather(*(create(n) for n in names))
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        watcher.cancel()
    return running


async def delete_all(client, node) -> None:
    """Delete the bench's pods and wait until the kubelet has finished with them: no pod left in
    the API, no sandbox in the runtime, no pod directory (volumes are cleaned up after the
    sandbox is gone), so that no teardown overlaps the next measurement."""
    from kybernetes.client.resource import PODS

    await client.delete_collection(PODS, "default", label_selector="bench=pod-start")
    pods_dir = node.volumes.root_dir / "pods"
    for _ in range(600):
        if not (await client.list(PODS, "default"))["items"] and not await node.runtime.list_pod_sandbox() \
                and not (pods_dir.is_dir() and any(pods_dir.iterdir())):
            return
        await asyncio.sleep(0.1)


async def sequential(client, node, count: int, host_network: bool) -> list[float]:
    times = []
    for _ in range(count):
        name = f"seq-{uuid.uuid4().hex[:8]}"
        times += (await start_pods(client, node.name, [name], host_network)).values()
    await delete_all(client, node)
    return times


async def main(args: argparse.Namespace) -> dict:
    from tests.support.oci import build_image, busybox_layer, write_oci_archive

    from kybernetes.client import ApiClient

    work = Path(tempfile.mkdtemp(prefix="kyb-bench-pod-start-"))
    result: dict = {}
    try:
        archive = work / "busybox.tar"
        write_oci_archive(archive, build_image([busybox_layer()], cmd=["sh"]), IMAGE)
        with cpuacct_group() as usage_file:
            async with apiserver(args.apiserver) as (url, apiserver_pid), ApiClient(url, qps=0) as client:
                result = await measure(args, client, work, archive, usage_file, apiserver_pid)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


async def measure(args: argparse.Namespace, client, work: Path, archive: Path, usage_file: Path | None,
                  apiserver_pid: int) -> dict:
    from kybernetes.client.resource import CONFIGMAPS, NODES, SERVICEACCOUNTS
    from kybernetes.kubelet.images.archive import import_archive
    from kybernetes.kubelet.real_node import RealNodeOptions, build_real_node

    node = await build_real_node(client, RealNodeOptions(work / "data", node_name="bench-node",
                                                         node_ip="127.0.0.1", stop_pods=True))
    imported = import_archive(node.images.store, archive, node.images.platform)
    image_id = imported[0].record.id
    await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "default"}}, "default")
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ""}},
                        "default")
    task = asyncio.create_task(node.run())
    try:
        await node.group.ready.wait()
        await node.kubelet.agent.registered.wait()
        await client.patch(NODES, node.name, {"spec": {"podCIDR": f"10.{args.cidr_octet}.0.0/24"}})
        bare = await asyncio.to_thread(bare_runc, node.images.store, image_id, work, args.runs)
        await sequential(client, node, 2, True)  # warm-up: first sandbox, caches
        host = await sequential(client, node, args.runs, True)
        cni = await sequential(client, node, args.runs, False)
        bursts = [await burst_once(args, client, node, usage_file, apiserver_pid, first=i == 0)
                  for i in range(args.bursts)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await node.network.uninstall()
    ms = lambda xs, p: round(percentile(xs, p) * 1000, 1)  # noqa: E731
    result = {
        "bare_runc_p50_ms": ms(bare, 50), "bare_runc_p99_ms": ms(bare, 99),
        "host_network_p50_ms": ms(host, 50), "host_network_p99_ms": ms(host, 99),
        "cni_p50_ms": ms(cni, 50), "cni_p99_ms": ms(cni, 99),
        "cni_extra_p50_ms": round((statistics.median(cni) - statistics.median(host)) * 1000, 1),
        "burst_pods": args.burst, "runs": args.runs, "apiserver": args.apiserver,
        "bursts": len(bursts), "starts_per_second_each": [b["starts_per_second"] for b in bursts],
        "cpu_ms_per_start_each": [b.get("cpu_ms_per_start") for b in bursts],
        "machine_idle_percent_each": [b["machine_idle_percent"] for b in bursts],
        **sorted(bursts, key=lambda b: b["starts_per_second"])[len(bursts) // 2],  # the median burst
    }
    return result


async def burst_once(args: argparse.Namespace, client, node, usage_file: Path | None, apiserver_pid: int, *,
                     first: bool) -> dict:
    """One burst of ``args.burst`` pods, its CPU and its removal (``first``: under --profile/--perf)."""
    names = [f"burst-{i}" for i in range(args.burst)]
    idle = CpuMeter(usage_file, apiserver_pid)
    cpu = CpuMeter(usage_file, apiserver_pid)
    profiler = cProfile.Profile(time.thread_time) if args.profile and first else None
    if profiler:
        profiler.enable()
    with system_profile(args.perf) if args.perf and first else contextlib.nullcontext():
        started = time.perf_counter()
        burst = await start_pods(client, node.name, names, False)
        elapsed = time.perf_counter() - started
    cpu_figures = cpu.per_start_ms(len(burst))
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    # what the starts leave to do once Running is seen (status writes, events, their echoes)
    await asyncio.sleep(SETTLE_SECONDS)
    settled = cpu.per_start_ms(len(burst))
    idle.start()
    await asyncio.sleep(SETTLE_SECONDS)  # the same time with nothing to do: subtracted
    quiet = idle.per_start_ms(len(burst))
    cpu_figures["cpu_ms_per_start_settled"] = round(
        settled.get("cpu_ms_per_start", 0.0) - quiet.get("cpu_ms_per_start", 0.0), 1)
    removal_started = time.perf_counter()
    await delete_all(client, node)
    removal = time.perf_counter() - removal_started
    return {"burst_seconds": round(elapsed, 2), "starts_per_second": round(len(burst) / elapsed, 1),
            "burst_removal_seconds": round(removal, 2), "removals_per_second": round(len(burst) / removal, 1),
            **cpu_figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs (well under a minute)")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--burst", type=int, default=0)
    parser.add_argument("--bursts", type=int, default=0,
                        help="bursts in a row (each deleted before the next); figures of the median one "
                             "(default 3, 1 with --quick)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop",
                        help="the event loop (the kubelet runs on uvloop; asyncio: as figures before --loop existed)")
    parser.add_argument("--apiserver", choices=("process", "inline"), default="process",
                        help="the apiserver in a process of its own (as under kyb up) or in the bench's own "
                             "(as figures before --apiserver existed)")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the CPU time of this process's event loop thread during the burst; pstats to FILE")
    parser.add_argument("--perf", metavar="FILE",
                        help="perf record -a (every process, with call graphs) during the burst; perf.data to FILE "
                             "(needs the perf tool: Debian linux-perf)")
    parser.add_argument("--cidr-octet", type=int, default=207, help="pods get 10.N.0.0/24")
    options = parser.parse_args()
    options.runs = options.runs or (10 if options.quick else 40)
    options.burst = options.burst or (20 if options.quick else 60)
    options.bursts = options.bursts or (1 if options.quick else 3)
    from kybernetes.util.gc_tuning import tune_for_long_running

    tune_for_long_running()  # as kyb kubelet does (cli/component.py)
    if options.loop == "uvloop":  # what ``kyb kubelet`` runs on (cli/kubelet.py)
        import uvloop

        figures = uvloop.run(main(options))
    else:
        figures = asyncio.run(main(options))
    figures["loop"] = options.loop
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(figures))
