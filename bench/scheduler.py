"""Benchmark the scheduler: pods/s from creation to bound, against the apiserver's binding ceiling.

    .venv/bin/python bench/scheduler.py [--quick] [--nodes N] [--pods P]

One run, one apiserver (``kyb apiserver`` as a subprocess, plain HTTP on loopback, a temp data
dir), N Node objects created directly (no kubelets), then:
  ceiling     raw POST pods/{name}/binding as fast as possible (64 in flight, no client limit)
              on pods no scheduler owns: the most bindings/s this apiserver takes
  unlimited   the scheduler (its own process) with client rate limits lifted; P pods created as
              fast as possible; pods/s = P / (last bound - first created)    goal >= 100 (400)
  defaults    the same with Kubernetes' client defaults (50 QPS, burst 100)  goal >= 48
  decision    per-pod scheduling decision time (filter + score + pick), mean and p99, measured
              inside the scheduler during the runs                           goal < 1 ms
              as wall time and as the scheduler thread's CPU time (on a busy machine the wall
              time also counts the time the OS gave to other processes; load_average says how
              busy it was)
Default: 1000 nodes and 10k pods; --quick: 100 nodes and 1000 pods (under a minute). The LAST
line printed is one JSON object with every figure, the baseline and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.client.resource import NAMESPACES, NODES, PODS  # noqa: E402

CONCURRENCY = 64


def node(name: str) -> dict:
    allocatable = {"cpu": "64", "memory": "256Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": f"zone-{hash(name) % 3}"}},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, namespace: str, scheduler: str = "default-scheduler") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                            "labels": {"app": "bench"}},
            "spec": {"schedulerName": scheduler, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


async def bounded(coros, limit: int = CONCURRENCY) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            await c

    await asyncio.gather(*(one(c) for c in coros))


# -- the apiserver and the scheduler, each in its own process ----------------------------------

def start_apiserver(data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "kybernetes.cli", "apiserver", "--data-dir", data_dir,
                             "--bind-address", "127.0.0.1", "--port", "0", "--anonymous-admin",
                             "--log-level", "info"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            # Keep draining stderr so the server never blocks on a full pipe.
            asyncio.get_event_loop_policy()
            import threading
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    raise SystemExit("kyb apiserver did not start")


def scheduler_process(url: str, qps: float, burst: int, stop, results) -> None:
    import uvloop

    from kybernetes.scheduler.scheduler import Scheduler

    async def main() -> None:
        async with ApiClient(url, qps=qps, burst=burst) as client, ApiClient(url, qps=qps, burst=burst) as events:
            scheduler = Scheduler(client, event_client=events)
            task = asyncio.create_task(scheduler.run())
            while not stop.is_set():
                await asyncio.sleep(0.1)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            stats = scheduler.stats
            wall, cpu = sorted(stats.decision_samples), sorted(stats.decision_cpu_samples)

            def pct(samples: list[float], q: float) -> float:
                return 1000 * samples[min(len(samples) - 1, int(len(samples) * q))] if samples else 0.0

            results.put({**stats.as_dict(), "decision_ms_p50": pct(wall, 0.5), "decision_ms_p99": pct(wall, 0.99),
                         "decision_cpu_ms_p50": pct(cpu, 0.5), "decision_cpu_ms_p99": pct(cpu, 0.99)})

    uvloop.run(main())


# -- measurements --------------------------------------------------------------------------------

async def binding_ceiling(client: ApiClient, nodes: list[str], count: int) -> float:
    ns = "bench-ceiling"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await bounded(client.create(PODS, pod(f"c-{i}", ns, scheduler="nobody"), ns) for i in range(count))

    async def bind(i: int) -> None:
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"c-{i}", "namespace": ns},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": nodes[i % len(nodes)]}}
        await client.create(PODS, binding, ns, name=f"c-{i}", subresource="binding")

    started = time.perf_counter()
    await bounded(bind(i) for i in range(count))
    return count / (time.perf_counter() - started)


async def scheduling_run(url: str, client: ApiClient, ns: str, count: int, qps: float, burst: int) -> dict:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=scheduler_process, args=(url, qps, burst, stop, results), daemon=True)
    proc.start()
    try:
        # Warm up: the scheduler has synced once it binds this pod.
        await client.create(PODS, pod("warmup", ns), ns)
        while not (await client.get(PODS, "warmup", ns))["spec"].get("nodeName"):
            await asyncio.sleep(0.05)
        rv = (await client.list(PODS, ns, limit=1))["metadata"]["resourceVersion"]
        bound: set[str] = set()
        last_bound = 0.0

        async def watch() -> None:
            nonlocal last_bound
            async with client.watch(PODS, ns, resource_version=rv) as events:
                async for _, obj in events:
                    if obj.get("spec", {}).get("nodeName") and obj["metadata"]["name"] != "warmup":
                        if obj["metadata"]["name"] not in bound:
                            bound.add(obj["metadata"]["name"])
                            last_bound = time.perf_counter()
                            if len(bound) >= count:
                                return

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        await bounded(client.create(PODS, pod(f"p-{i}", ns), ns) for i in range(count))
        created = time.perf_counter() - started
        await asyncio.wait_for(watcher, timeout=max(120.0, count / 20))
        elapsed = last_bound - started
    finally:
        stop.set()
        stats = results.get(timeout=30) if proc.is_alive() else {}
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return {"pods_per_s": round(count / elapsed, 1), "seconds": round(elapsed, 2),
            "creates_per_s": round(count / created, 1),
            "decision_ms_mean": round(stats.get("decision_ms_mean", 0.0), 3),
            "decision_ms_p50": round(stats.get("decision_ms_p50", 0.0), 3),
            "decision_ms_p99": round(stats.get("decision_ms_p99", 0.0), 3),
            "decision_cpu_ms_mean": round(stats.get("decision_cpu_ms_mean", 0.0), 3),
            "decision_cpu_ms_p50": round(stats.get("decision_cpu_ms_p50", 0.0), 3),
            "decision_cpu_ms_p99": round(stats.get("decision_cpu_ms_p99", 0.0), 3),
            "events_dropped": stats.get("events_dropped", 0)}


async def run(args: argparse.Namespace) -> dict:
    data_dir = tempfile.mkdtemp(prefix="kyb-bench-sched-")
    server, url = start_apiserver(data_dir)
    try:
        async with ApiClient(url, qps=0) as client:
            names = [f"node-{i:04}" for i in range(args.nodes)]
            await bounded(client.create(NODES, node(n)) for n in names)
            print(f"apiserver {url}: {args.nodes} nodes", flush=True)
            ceiling = await binding_ceiling(client, names, min(args.pods, 2000))
            print(f"binding ceiling: {ceiling:.0f} bindings/s", flush=True)
            unlimited = await scheduling_run(url, client, "bench-unlimited", args.pods, 0, 0)
            print(f"unlimited: {unlimited}", flush=True)
            defaults = await scheduling_run(url, client, "bench-defaults", args.pods, 50, 100)
            print(f"defaults (50 QPS, burst 100): {defaults}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    decision = statistics.mean([unlimited["decision_ms_mean"], defaults["decision_ms_mean"]])
    decision_cpu = statistics.mean([unlimited["decision_cpu_ms_mean"], defaults["decision_cpu_ms_mean"]])
    return {
        "bench": "scheduler", "nodes": args.nodes, "pods": args.pods,
        "binding_ceiling_per_s": round(ceiling, 1),
        "unlimited": unlimited, "defaults": defaults,
        "decision_ms_mean": round(decision, 3),
        "decision_cpu_ms_mean": round(decision_cpu, 3),
        "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
        "ratio_unlimited_to_ceiling": round(unlimited["pods_per_s"] / ceiling, 3),
        "ratio_defaults_to_ceiling": round(defaults["pods_per_s"] / ceiling, 3),
        "goals": {"decision_ms_below": 1.0, "unlimited_pods_per_s": 100, "unlimited_stretch": 400,
                  "defaults_pods_per_s": 48},
        "met": {"decision": decision < 1.0, "decision_cpu": decision_cpu < 1.0, "unlimited": unlimited["pods_per_s"] >= 100,
                "defaults": defaults["pods_per_s"] >= 48},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 nodes, 1000 pods")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pods", type=int, default=None)
    args = parser.parse_args()
    args.nodes = args.nodes or (100 if args.quick else 1000)
    args.pods = args.pods or (1000 if args.quick else 10000)
    result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
