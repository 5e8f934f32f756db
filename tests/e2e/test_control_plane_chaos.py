"""Killing the scheduler and the controller-manager at random moments loses and duplicates
nothing: `kyb up` restarts them, no pod is ever bound twice, and replica counts converge."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .cluster import KybCluster

REPLICAS_FINAL = 8


def children_running(parent: int, component: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"kybernetes.cli" in cmdline and component.encode() in cmdline:
            found.append(int(entry))
    return found


@pytest.fixture
def chaos_cluster():
    cluster = KybCluster.start_new("--sim-nodes", "3")
    try:
        yield cluster
    finally:
        cluster.close()


def test_killing_scheduler_and_controller_manager_loses_and_duplicates_nothing(chaos_cluster):
    k = chaos_cluster.kubectl
    deadline = time.monotonic() + 60
    while len(json.loads(k("get", "nodes", "-o", "json").stdout)["items"]) < 3:
        assert time.monotonic() < deadline, "nodes registered"
        time.sleep(0.5)

    # Record every binding seen: a pod's nodeName may go from "" to a node once, never change.
    bindings: dict[str, set[str]] = {}
    watcher = subprocess.Popen(
        [chaos_cluster.kubectl_path, "get", "pods", "-w", "-o",
         "jsonpath={.metadata.uid} {.spec.nodeName}{\"\\n\"}"],
        env=chaos_cluster.env, stdout=subprocess.PIPE, text=True)

    def record() -> None:
        for line in watcher.stdout:
            uid, _, node = line.strip().partition(" ")
            if uid and node:
                bindings.setdefault(uid, set()).add(node)

    reader = threading.Thread(target=record, daemon=True)
    reader.start()
    try:
        k("create", "deployment", "chaos", "--image=registry.local/app:1", "--replicas=4")
        rng = random.Random(7)
        supervisor = chaos_cluster.process.pid
        for _round in range(4):
            component = rng.choice(["scheduler", "controller-manager"])
            for pid in children_running(supervisor, component):
                os.kill(pid, signal.SIGKILL)
            k("scale", "deployment/chaos", f"--replicas={rng.randint(2, 10)}")
            time.sleep(rng.uniform(0.5, 2.0))
        k("scale", "deployment/chaos", f"--replicas={REPLICAS_FINAL}")

        # A killed leader's Lease must expire (15 s) before its restarted copy leads again.
        deadline = time.monotonic() + 240
        while True:
            dep = json.loads(k("get", "deploy", "chaos", "-o", "json").stdout)
            pods = [p for p in json.loads(k("get", "pods", "-l", "app=chaos", "-o", "json").stdout)["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            st = dep.get("status") or {}
            if (st.get("readyReplicas") == REPLICAS_FINAL and len(pods) == REPLICAS_FINAL
                    and all(p["status"].get("phase") == "Running" for p in pods)):
                break
            assert time.monotonic() < deadline, f"converged: status={st}, pods={len(pods)}\n{chaos_cluster.log_tail()}"
            time.sleep(0.5)
        # Both components came back (the supervisor restarted what was killed).
        assert children_running(supervisor, "scheduler") and children_running(supervisor, "controller-manager")
        rs = json.loads(k("get", "rs", "-l", "app=chaos", "-o", "json").stdout)["items"]
        assert len(rs) == 1 and rs[0]["status"].get("replicas") == REPLICAS_FINAL
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    rebound = {uid: nodes for uid, nodes in bindings.items() if len(nodes) > 1}
    assert bindings and not rebound, f"pods bound twice: {rebound}"
