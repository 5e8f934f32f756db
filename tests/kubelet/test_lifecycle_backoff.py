"""CrashLoopBackOff timing: 10 s doubling to 5 min, reset after 10 min of running; the backoff
alone and through the pod worker on the fake runtime and a fake clock."""

from __future__ import annotations

from kybernetes.kubelet.restart_backoff import RestartBackoff
from kybernetes.util.clock import FakeClock

from .test_lifecycle_support import ExecRuntime, pod, status_of, worker


def test_waits_double_from_10_seconds_to_5_minutes():
    b = RestartBackoff()
    t, waits = 0.0, []
    assert b.remaining("k", t, t) == 0  # the first restart is immediate
    for _ in range(8):
        waits.append(b.restarted("k", t, t))
        t += waits[-1] + 1  # restarted after the wait, then it ran for a second
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]
    assert b.remaining("k", 1000.0, 1000.0) == 300 and b.remaining("k", 1000.0, 1299.0) == 1


def test_ten_minutes_of_running_after_a_restart_resets_the_backoff():
    b = RestartBackoff()
    for t in (0.0, 11.0, 32.0):
        b.restarted("k", t, t)
    assert b.current("k") == 40
    restarted_at = 80.0
    b.restarted("k", 72.0, restarted_at)  # it exited at 72, waited until 80: the next wait is 80 s
    assert b.remaining("k", restarted_at + 599, restarted_at + 599) == 80  # ran under 10 min: still backing off
    assert b.remaining("k", restarted_at + 601, restarted_at + 601) == 0  # ran over 10 min: at once
    assert b.restarted("k", restarted_at + 601, restarted_at + 601) == 10


async def test_a_crashing_container_restarts_after_10_20_40_seconds():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, events, _ = worker(rt, clock, hooks=False)
    p = pod({"name": "a"})
    p["metadata"]["annotations"] = {"sim.kybernetes.io/run-seconds": "1", "sim.kybernetes.io/exit-code": "1"}
    status = (await w.sync(p, {})).status
    restarts_at, messages = [], set()
    for _ in range(120):
        await clock.advance(1)
        result = await w.sync(p, status)
        status = result.status
        a = status_of(status, "a")
        if "running" in a["state"] and a["restartCount"] > len(restarts_at):
            restarts_at.append(clock.now())
        if len(restarts_at) == 4:
            break
        if "waiting" in a["state"]:
            assert a["state"]["waiting"]["reason"] == "CrashLoopBackOff"
            messages.add(a["state"]["waiting"]["message"])
            assert result.requeue_after is not None and result.requeue_after <= 40
    gaps = [round(b - a) for a, b in zip(restarts_at, restarts_at[1:], strict=False)]
    assert gaps == [11, 21, 41]  # one second of running, then the wait
    assert messages == {f"back-off {s}s restarting failed container=a pod=p_ns(u1)" for s in (10, 20, 40)}
    assert "BackOff" in events.reasons()
    assert status_of(status, "a")["restartCount"] == 4
