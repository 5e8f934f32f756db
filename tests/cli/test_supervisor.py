"""util.supervisor: start in order and wait for readiness, restart what dies, stop everything."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from kybernetes.util.supervisor import ChildFailedError, ChildSpec, Supervisor

# A child that says it is ready by creating a file, then runs until SIGTERM (exit 0).
SERVE = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
pathlib.Path(sys.argv[1]).write_text("ready")
while True:
    time.sleep(0.05)
"""
STUBBORN = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).write_text("ready")
while True:
    time.sleep(0.05)
"""


def file_probe(path):
    async def ready() -> bool:
        return path.exists()
    return ready


def spec(name, script, marker, **kw) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", script, str(marker)], ready=file_probe(marker), **kw)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_children_start_in_order_and_stop_on_request(tmp_path):
    order = []
    sup = Supervisor(on_ready=lambda name, pid: order.append((name, pid)))
    stop = asyncio.Event()
    run = asyncio.create_task(sup.run([spec("a", SERVE, tmp_path / "a"), spec("b", SERVE, tmp_path / "b")], stop))
    await asyncio.wait_for(sup.started.wait(), 10)
    assert [n for n, _ in order] == ["a", "b"]
    pids = [pid for _, pid in order]
    assert all(alive(p) for p in pids)
    assert all(os.getpgid(p) == p for p in pids)  # own process group: a terminal ^C reaches only us
    stop.set()
    await asyncio.wait_for(run, 10)
    assert [c.process.returncode for c in sup.children] == [0, 0]


async def test_a_child_that_exits_before_ready_fails_the_start_and_stops_the_others(tmp_path):
    sup = Supervisor()
    stop = asyncio.Event()
    specs = [spec("a", SERVE, tmp_path / "a"),
             ChildSpec("bad", [sys.executable, "-c", "raise SystemExit(3)"], ready=file_probe(tmp_path / "never"))]
    with pytest.raises(ChildFailedError, match="bad exited with code 3"):
        await asyncio.wait_for(sup.run(specs, stop), 10)
    assert sup.children[0].process.returncode == 0  # the healthy one was stopped


async def test_a_child_that_dies_later_is_restarted(tmp_path):
    restarts = []
    sup = Supervisor(initial_backoff=0.05, on_restart=lambda name, code: restarts.append((name, code)))
    stop = asyncio.Event()
    marker = tmp_path / "a"
    run = asyncio.create_task(sup.run([spec("a", SERVE, marker)], stop))
    await asyncio.wait_for(sup.started.wait(), 10)
    first = sup.children[0].process.pid
    marker.unlink()
    os.kill(first, 9)
    await until(lambda: sup.children[0].restarts == 1 and marker.exists())
    assert restarts == [("a", -9)]
    assert sup.children[0].process.pid != first
    stop.set()
    await asyncio.wait_for(run, 10)


async def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(tmp_path):
    sup = Supervisor(stop_timeout=0.3)
    stop = asyncio.Event()
    run = asyncio.create_task(sup.run([spec("stubborn", STUBBORN, tmp_path / "s")], stop))
    await asyncio.wait_for(sup.started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 10)
    assert sup.children[0].process.returncode == -9


async def test_stop_during_start_returns_without_error(tmp_path):
    sup = Supervisor()
    stop = asyncio.Event()
    never = ChildSpec("slow", [sys.executable, "-c", SERVE, str(tmp_path / "x")],
                      ready=file_probe(tmp_path / "never"))
    run = asyncio.create_task(sup.run([never], stop))
    await until(lambda: sup.children and sup.children[0].process is not None)
    stop.set()
    await asyncio.wait_for(run, 10)
    assert sup.children[0].process.returncode in (0, -15)  # SIGTERM may land before its handler


# A gated child: says it was spawned, waits at the start gate (as `python -m kybernetes.cli` does),
# then says it runs and serves until SIGTERM.
GATED = """
import pathlib, signal, sys, time
from kybernetes.cli.start_gate import wait_at_start_gate
pathlib.Path(sys.argv[1]).write_text("spawned")
wait_at_start_gate([])
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
pathlib.Path(sys.argv[2]).write_text("running")
while True:
    time.sleep(0.05)
"""


def gated_spec(tmp_path) -> ChildSpec:
    return ChildSpec("gated", [sys.executable, "-c", GATED, str(tmp_path / "spawned"), str(tmp_path / "running")],
                     gated=True)


async def test_a_gated_child_is_spawned_at_once_but_runs_only_after_the_ones_before_it(tmp_path):
    sup = Supervisor()
    stop = asyncio.Event()
    first = ChildSpec("first", [sys.executable, "-c", SERVE, str(tmp_path / "first")],
                      ready=file_probe(tmp_path / "first-ready"))
    run = asyncio.create_task(sup.run([first, gated_spec(tmp_path)], stop))
    await until(lambda: (tmp_path / "spawned").exists())  # imported while the first one starts
    await asyncio.sleep(0.3)
    assert not (tmp_path / "running").exists()
    (tmp_path / "first-ready").write_text("")
    await asyncio.wait_for(sup.started.wait(), 10)
    await until(lambda: (tmp_path / "running").exists())
    stop.set()
    await asyncio.wait_for(run, 10)
    assert [c.process.returncode for c in sup.children] == [0, 0]
    assert all(c.gate == -1 for c in sup.children)


async def test_a_gated_child_exits_quietly_when_the_start_is_stopped_before_its_turn(tmp_path):
    sup = Supervisor()
    stop = asyncio.Event()
    never = ChildSpec("slow", [sys.executable, "-c", SERVE, str(tmp_path / "x")], ready=file_probe(tmp_path / "never"))
    run = asyncio.create_task(sup.run([never, gated_spec(tmp_path)], stop))
    await until(lambda: (tmp_path / "spawned").exists())
    gated = sup.children[1].process
    stop.set()
    await asyncio.wait_for(run, 10)
    assert await asyncio.wait_for(gated.wait(), 10) in (0, -15)
    assert not (tmp_path / "running").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a priority back needs root")
async def test_a_yielding_child_imports_at_a_lower_priority_and_gets_it_back_at_its_gate(tmp_path):
    sup = Supervisor()
    stop = asyncio.Event()
    first = ChildSpec("first", [sys.executable, "-c", SERVE, str(tmp_path / "first")],
                      ready=file_probe(tmp_path / "first-ready"))
    yielding = gated_spec(tmp_path)
    yielding.yields_at_start = True
    (tmp_path / "other").mkdir()
    run = asyncio.create_task(sup.run([first, yielding, gated_spec(tmp_path / "other")], stop))
    await until(lambda: (tmp_path / "spawned").exists())
    own = os.getpriority(os.PRIO_PROCESS, 0)
    behind_gate = os.getpriority(os.PRIO_PROCESS, sup.children[1].process.pid)
    not_yielding = os.getpriority(os.PRIO_PROCESS, sup.children[2].process.pid)
    (tmp_path / "first-ready").write_text("")
    await asyncio.wait_for(sup.started.wait(), 10)
    after_gate = os.getpriority(os.PRIO_PROCESS, sup.children[1].process.pid)
    stop.set()
    await asyncio.wait_for(run, 10)
    assert (behind_gate, not_yielding, after_gate) == (min(own + 10, 19), own, own)
