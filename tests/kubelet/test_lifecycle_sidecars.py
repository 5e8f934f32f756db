"""Sidecar containers (init containers with restartPolicy Always) in the pod worker, on the fake
runtime and a fake clock: started before what follows them, kept running and restarted beside
the main containers, stopped after them."""

from __future__ import annotations

import asyncio

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.util.clock import FakeClock

from .test_lifecycle_support import ExecRuntime, pod, settle, state_of, status_of, worker


def sidecar(name: str, **extra) -> dict:
    return {"name": name, "restartPolicy": "Always", **extra}


def crash(rt: ExecRuntime, name: str, code: int = 1) -> None:
    [c] = [c for c in rt._containers.values()
           if c.config.metadata.name == name and c.state == cri.ContainerState.CONTAINER_RUNNING]
    rt._exit(c, code, "Error")


async def run_until_stable(w, p, status: dict, rounds: int = 6) -> dict:
    for _ in range(rounds):
        status = (await w.sync(p, status)).status
        await settle()
    return status


async def test_a_sidecar_starts_first_keeps_running_and_restarts_beside_the_main_container():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, _, _ = worker(rt, clock)
    p = pod({"name": "main"}, init=(sidecar("proxy"), {"name": "setup"}))
    status = (await w.sync(p, {})).status
    assert rt.running_containers() == ["proxy"]  # setup waits for the sidecar to be started
    status = await run_until_stable(w, p, status)
    assert sorted(rt.running_containers()) == ["main", "proxy"]
    assert state_of(status, "setup", init=True) == "terminated" and status["phase"] == "Running"
    assert status_of(status, "proxy", init=True)["ready"] is True
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])

    crash(rt, "proxy")
    status = (await w.sync(p, status)).status  # the first restart is immediate
    proxy = status_of(status, "proxy", init=True)
    assert proxy["restartCount"] == 1 and "running" in proxy["state"]

    crash(rt, "proxy")
    status = (await w.sync(p, status)).status
    assert status_of(status, "proxy", init=True)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    crash(rt, "main", code=0)  # the main container is still looked after while the sidecar backs off
    status = (await w.sync(p, status)).status
    assert status_of(status, "main")["restartCount"] == 1 and "main" in rt.running_containers()
    assert state_of(status, "setup", init=True) == "terminated"  # init containers do not run again
    await clock.advance(10)
    status = (await w.sync(p, status)).status
    assert status_of(status, "proxy", init=True)["restartCount"] == 2


async def test_a_sidecar_is_started_only_once_its_post_start_hook_is_done():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    rt.gates["warm"] = asyncio.Event()
    w, _, _ = worker(rt, clock)
    p = pod({"name": "main"}, init=(sidecar("proxy", lifecycle={"postStart": {"exec": {"command": ["warm"]}}}),))
    status = await run_until_stable(w, p, {})
    assert rt.running_containers() == ["proxy"] and state_of(status, "proxy", init=True) == "waiting"
    rt.gates["warm"].set()
    await settle()
    status = await run_until_stable(w, p, status)
    assert sorted(rt.running_containers()) == ["main", "proxy"]


async def test_sidecars_stop_after_the_main_containers_in_reverse_order():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, _, _ = worker(rt, clock)
    p = pod({"name": "main"}, init=(sidecar("first", lifecycle={"preStop": {"exec": {"command": ["first-bye"]}}}),
                                    sidecar("second")))
    status = await run_until_stable(w, p, {})
    assert sorted(rt.running_containers()) == ["first", "main", "second"]
    await w.terminate(p, status, 5)
    stops = [line.split()[0] for kind, line in rt.journal if kind == "stop"]
    assert stops == ["main", "second", "first"]
    # every preStop runs at once, not when the sidecar's turn comes
    assert rt.journal.index(("exec", "first-bye")) < rt.journal.index(("stop", "second 5"))


async def test_the_sidecars_stop_when_the_main_containers_are_done():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, _, _ = worker(rt, clock)
    p = pod({"name": "job"}, init=(sidecar("proxy"),), restartPolicy="Never", terminationGracePeriodSeconds=4)
    p["metadata"]["annotations"] = {"sim.kybernetes.io/run-seconds.job": "1"}
    status = await run_until_stable(w, p, {})
    assert sorted(rt.running_containers()) == ["job", "proxy"]
    await clock.advance(1)
    status = (await w.sync(p, status)).status
    assert rt.running_containers() == [] and ("stop", "proxy 4") in rt.journal
    assert status["phase"] == "Succeeded"
