"""Control plane at scale: a big Deployment on simulated nodes, through real processes.

Runs `kyb up --sim-nodes N` (apiserver, scheduler, controller-manager and N simulated nodes,
each its own process), then measures:
- seconds for an R-replica Deployment to become Available with R ready pods,
- seconds for a rolling update of it (new image) to finish,
- RSS of every process and idle CPU (share of one core over a quiet interval).
Baseline measured in the same run: the time to create R pods directly through the API (the
write ceiling every controller shares). Issue 4 goals: control plane <= 800 MB RSS in total at
100 nodes, idle CPU <= 6% of a core. The last line is one JSON object with every figure.
--quick: 20 nodes, 200 replicas. Default: 100 nodes, 1000 replicas.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KYB = str(Path(sys.executable).with_name("kyb"))
KUBECTL = str(Path(sys.executable).with_name("kubectl"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubectl(env, *args, input=None) -> str:
    out = subprocess.run([KUBECTL, *args], env=env, input=input, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr}")
    return out.stdout


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def component(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode() for a in argv if a]
    if "kybernetes.cli" in words:
        return words[words.index("kybernetes.cli") + 1]
    return "kyb up (supervisor)" if "up" in words else Path(words[0]).name if words else "?"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for(cond, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.25)
    raise TimeoutError(what)


def deployment(name: str, replicas: int, image: str) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {"containers": [{"name": "c", "image": image}]}}}})


def main(nodes: int, replicas: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-ctrl-"))
    port = free_port()
    data = tmp / "data"
    proc = subprocess.Popen([KYB, "up", "--data-dir", str(data), "--port", str(port), "--bind-address",
                             "127.0.0.1", "--sim-nodes", str(nodes), "-q", "--no-kubeconfig-merge", "--no-node"], stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "log", "wb"), start_new_session=True)
    env = {**os.environ, "KUBECONFIG": str(data / "kubeconfig"), "KUBECACHEDIR": str(tmp / "cache")}
    try:
        ctx = ssl.create_default_context(cafile=None)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def ready() -> bool:
            try:
                return urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=1).status == 200
            except OSError:
                return False

        wait_for(ready, 60, "apiserver ready")

        def nodes_ready() -> bool:
            items = json.loads(kubectl(env, "get", "nodes", "-o", "json"))["items"]
            return len(items) == nodes and all(n["spec"].get("podCIDR") for n in items)

        nodes_seconds = wait_for(nodes_ready, 300, "nodes registered")

        # Baseline: R bare pods created through the API (no controllers involved), then removed.
        pods = "\n---\n".join(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"raw-{i}"},
                                          "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "x"}]}})
                              for i in range(replicas))
        t0 = time.monotonic()
        kubectl(env, "create", "-f", "-", input=pods)
        raw_create_seconds = time.monotonic() - t0
        kubectl(env, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false")

        t0 = time.monotonic()
        kubectl(env, "apply", "-f", "-", input=deployment("big", replicas, "registry.local/app:1"))

        def available() -> bool:
            st = json.loads(kubectl(env, "get", "deploy", "big", "-o", "json")).get("status") or {}
            return st.get("readyReplicas") == replicas and st.get("availableReplicas") == replicas

        wait_for(available, 1200, "deployment available")
        available_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        kubectl(env, "set", "image", "deploy/big", "c=registry.local/app:2")
        kubectl(env, "rollout", "status", "deploy/big", "--timeout=1200s")
        rollout_seconds = time.monotonic() - t0

        time.sleep(5)  # let the churn settle before measuring idle
        pids = [p for p in descendants(proc.pid)]
        before = {p: cpu_ticks(p) for p in pids}
        quiet = 10.0
        time.sleep(quiet)
        hz = os.sysconf("SC_CLK_TCK")
        processes = {}
        for p in pids:
            try:
                name = component(p)
                entry = processes.setdefault(name, {"rss_mb": 0.0, "idle_cpu_percent": 0.0})
                entry["rss_mb"] = round(entry["rss_mb"] + rss_mb(p), 1)
                entry["idle_cpu_percent"] = round(entry["idle_cpu_percent"]
                                                  + (cpu_ticks(p) - before[p]) / hz / quiet * 100, 2)
            except OSError:
                continue
        control_plane = [n for n in processes if n in ("apiserver", "scheduler", "controller-manager")]
        cp_rss = round(sum(processes[n]["rss_mb"] for n in control_plane), 1)
        cp_cpu = round(sum(processes[n]["idle_cpu_percent"] for n in control_plane), 2)
        return {
            "nodes": nodes, "replicas": replicas, "nodes_registered_seconds": round(nodes_seconds, 2),
            "deployment_available_seconds": round(available_seconds, 2),
            "rolling_update_seconds": round(rollout_seconds, 2),
            "baseline_raw_pod_creates_seconds": round(raw_create_seconds, 2),
            "available_ratio_to_raw_creates": round(available_seconds / raw_create_seconds, 2),
            "processes": processes, "control_plane_rss_mb": cp_rss, "control_plane_idle_cpu_percent": cp_cpu,
            "goal_rss_le_800mb": cp_rss <= 800, "goal_idle_cpu_le_6pct": cp_cpu <= 6,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--nodes", type=int)
    parser.add_argument("--replicas", type=int)
    args = parser.parse_args()
    n = args.nodes or (20 if args.quick else 100)
    r = args.replicas or (200 if args.quick else 1000)
    result = main(n, r)
    print(f"{r}-replica Deployment on {n} simulated nodes: Available in {result['deployment_available_seconds']} s "
          f"(raw creates of {r} pods: {result['baseline_raw_pod_creates_seconds']} s); rolling update "
          f"{result['rolling_update_seconds']} s")
    for name, figures in result["processes"].items():
        print(f"  {name:24} RSS {figures['rss_mb']:7.1f} MB   idle CPU {figures['idle_cpu_percent']:5.2f} %")
    print(f"control plane: {result['control_plane_rss_mb']} MB RSS, {result['control_plane_idle_cpu_percent']} % "
          "of a core idle")
    print(json.dumps({"benchmark": "controllers", **result}))
