"""postStart and preStop hooks: the HookRunner's handlers against loopback and a stub runtime, and
the pod worker's use of them on the fake runtime and a fake clock (waiting until postStart is
done, killing on its failure, preStop within the grace period, sidecars stopped last)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kybernetes.kubelet.hooks import HookRunner
from kybernetes.kubelet.lifecycle import remaining_grace
from kybernetes.util.clock import FakeClock

from .test_lifecycle_support import ExecRuntime, pod, settle, state_of, status_of, worker


def exec_hook(*cmd: str) -> dict:
    return {"exec": {"command": list(cmd)}}


# -- the handlers -------------------------------------------------------------------------------

async def test_http_hook_reaches_the_host_with_headers_path_and_a_named_port():
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=500)  # upstream looks at no status code: still a success

    app = web.Application()
    app.router.add_get("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        container = {"name": "a", "ports": [{"name": "web", "containerPort": port}]}
        handler = {"httpGet": {"path": "hook", "port": "web", "httpHeaders": [{"name": "X-Test", "value": "yes"}]}}
        outcome = await HookRunner(None).run(pod(container), container, handler, "c1", "127.0.0.1")
        assert outcome.ok, outcome.message
        assert seen[0].headers["X-Test"] == "yes" and seen[0].headers["User-Agent"].startswith("kube-lifecycle/")
        explicit = {"httpGet": {"host": "127.0.0.1", "path": "/hook", "port": port}}
        assert (await HookRunner(None).run(pod(container), container, explicit, "c1", "192.0.2.1")).ok
    finally:
        await runner.cleanup()
    failed = await HookRunner(None).run(pod(container), container, handler, "c1", "127.0.0.1")
    assert not failed.ok
    assert failed.message.startswith('HTTP lifecycle hook (hook) for Container "a" in Pod "p_ns(u1)" failed - error: '
                                     f'Get "http://127.0.0.1:{port}/hook"')


async def test_exec_hook_outcomes_and_an_unknown_named_port():
    rt = ExecRuntime()
    rt.codes["fail now"] = 2
    container = {"name": "a"}
    ok = await HookRunner(rt).run(pod(container), container, exec_hook("true"), "c1", "")
    failed = await HookRunner(rt).run(pod(container), container, exec_hook("fail", "now"), "c1", "")
    assert ok.ok and not failed.ok
    assert failed.message == ('Exec lifecycle hook ([fail now]) for Container "a" in Pod "p_ns(u1)" failed - error: '
                              "command 'fail now' exited with 2: boom, message: \"boom\"")
    bad_port = await HookRunner(rt).run(pod(container), container, {"httpGet": {"port": "nope"}}, "c1", "10.0.0.1")
    assert not bad_port.ok and "invalid port 'nope'" in bad_port.message
    assert not (await HookRunner(rt).run(pod(container), container, {}, "c1", "")).ok


async def test_the_sleep_action_waits_on_the_clock():
    clock = FakeClock()
    task = asyncio.create_task(HookRunner(None, clock=clock).run(pod({"name": "a"}), {"name": "a"},
                                                                  {"sleep": {"seconds": 5}}, "c1", ""))
    await clock.advance(4)
    assert not task.done()
    await clock.advance(1)
    assert (await task).ok


def test_the_grace_left_after_a_pre_stop_keeps_a_minimum():
    assert remaining_grace(30, 4.5) == 25
    assert remaining_grace(30, 29.5) == 2  # always a short window for SIGTERM
    assert remaining_grace(1, 0.2) == 1
    assert remaining_grace(0, 0) == 0


# -- postStart in the pod worker ------------------------------------------------------------------

async def test_post_start_holds_the_container_waiting_and_the_next_one_back_until_done():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    rt.gates["hook"] = asyncio.Event()
    w, events, resyncs = worker(rt, clock)
    p = pod({"name": "a", "lifecycle": {"postStart": exec_hook("hook")}}, {"name": "b"})
    result = await w.sync(p, {})
    await settle()
    assert state_of(result.status, "a") == "waiting" and status_of(result.status, "a")["started"] is False
    assert rt.running_containers() == ["a"]  # b waits for a's hook
    assert result.status["phase"] == "Pending"
    rt.gates["hook"].set()
    await settle()
    assert resyncs == ["ns/p"]
    result = await w.sync(p, result.status)
    assert state_of(result.status, "a") == "running" and status_of(result.status, "a")["ready"] is True
    assert sorted(rt.running_containers()) == ["a", "b"]
    assert ("exec", "hook") in rt.journal


async def test_a_failing_post_start_kills_the_container_which_restarts_by_policy():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    rt.codes["hook"] = 1
    w, events, resyncs = worker(rt, clock)
    p = pod({"name": "a", "lifecycle": {"postStart": exec_hook("hook"), "preStop": exec_hook("bye")}},
            terminationGracePeriodSeconds=7)
    status = (await w.sync(p, {})).status
    await settle()
    reasons = events.reasons()
    assert "FailedPostStartHook" in reasons and reasons.index("FailedPostStartHook") < reasons.index("Killing")
    assert ("Normal", "Killing", "FailedPostStartHook") in events.items
    assert rt.journal == [("exec", "hook"), ("exec", "bye"), ("stop", "a 7")]  # killed as upstream: preStop too
    assert resyncs == ["ns/p"]
    rt.codes["hook"] = 0
    status = (await w.sync(p, status)).status  # exited: restarted at once (the first restart)
    await settle()
    status = (await w.sync(p, status)).status
    a = status_of(status, "a")
    assert a["restartCount"] == 1 and "running" in a["state"] and "terminated" in a["lastState"]


# -- preStop and termination ------------------------------------------------------------------------

async def test_pre_stop_runs_before_sigterm_and_what_it_takes_comes_off_the_grace():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    rt.gates["drain"] = asyncio.Event()
    w, events, _ = worker(rt, clock)
    p = pod({"name": "a", "lifecycle": {"preStop": exec_hook("drain")}})
    status = (await w.sync(p, {})).status
    task = asyncio.create_task(w.terminate(p, status, 10))
    await settle()
    assert rt.journal == [("exec", "drain")]  # no SIGTERM while the hook runs
    await clock.advance(4)
    rt.gates["drain"].set()
    final = await task
    assert rt.journal == [("exec", "drain"), ("stop", "a 6")]
    assert state_of(final.status, "a") == "terminated"


async def test_a_pre_stop_outliving_the_grace_is_cut_off_and_reported():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    rt.gates["hang"] = asyncio.Event()
    w, events, _ = worker(rt, clock)
    p = pod({"name": "a", "lifecycle": {"preStop": exec_hook("hang")}})
    status = (await w.sync(p, {})).status
    task = asyncio.create_task(w.terminate(p, status, 3))
    await settle()
    await clock.advance(3)
    await task
    assert rt.journal[-1] == ("stop", "a 2")
    failed = [m for _, reason, m in events.items if reason == "FailedPreStopHook"]
    assert failed and "did not complete in 3s" in failed[0]


async def test_grace_zero_kills_at_once_without_the_pre_stop_hook():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, _, _ = worker(rt, clock)
    p = pod({"name": "a", "lifecycle": {"preStop": exec_hook("drain")}})
    status = (await w.sync(p, {})).status
    await w.terminate(p, status, 0)
    assert rt.journal == [("stop", "a 0")]


async def test_a_liveness_kill_runs_the_pre_stop_hook_first():
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w, events, _ = worker(rt, clock)
    c = {"name": "a", "lifecycle": {"preStop": exec_hook("drain")}}
    await w.sync(pod(c), {})
    [container_id] = [cid for cid, x in rt._containers.items()]
    await w.kill_container(pod(c), c, container_id, 5, "Container a failed liveness probe, will be restarted")
    assert rt.journal == [("exec", "drain"), ("stop", "a 5")]
    assert ("Normal", "Killing", "Container a failed liveness probe, will be restarted") in events.items
