"""The real node's prober: probe attempts against loopback servers and a stub runtime, and the
ProbeManager's thresholds, events and liveness kills on a fake clock."""

from __future__ import annotations

import asyncio
import socket

import grpc
from aiohttp import web

from kybernetes.kubelet.probes import ProbeResult
from kybernetes.kubelet.real_machine import DEFAULT_RUN_DIR, HostNames, os_image
from kybernetes.kubelet.real_probe_checks import (
    decode_health_request,
    decode_health_response,
    encode_health_request,
    encode_health_response,
    run_probe,
)
from kybernetes.kubelet.real_probes import ProbeManager
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.util.clock import FakeClock


class StubRuntime:
    """exec_sync answers from ``results`` (container id -> exit codes, last one repeated)."""

    def __init__(self, codes: list[int]):
        self.codes = list(codes)
        self.execs: list[tuple[str, tuple[str, ...]]] = []
        self.stopped: list[tuple[str, int]] = []

    async def exec_sync(self, container_id, cmd, timeout=0):
        self.execs.append((container_id, tuple(cmd)))
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        return cri.ExecSyncResponse(b"", b"not yet" if code else b"", code)

    async def stop_container(self, container_id, timeout):
        self.stopped.append((container_id, timeout))

    async def list_pod_sandbox(self, filter=None):
        return []


def pod_with(container: dict, grace: int = 5) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": grace}}


def running(clock: FakeClock, cid: str = "c1") -> cri.ContainerStatus:
    started = int(clock.wall().timestamp() * 1e9)
    return cri.ContainerStatus(cid, cri.ContainerMetadata("main"), cri.ContainerState.CONTAINER_RUNNING, started,
                               started_at=started)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


# -- probe attempts -----------------------------------------------------------------------------

async def test_http_probe_success_failure_and_named_ports():
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("X-Probe") != "yes":
            return web.Response(status=400)
        return web.Response(status=200 if request.path == "/ok" else 503, text="sick")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        container = {"name": "web", "ports": [{"name": "http", "containerPort": port}]}
        headers = [{"name": "X-Probe", "value": "yes"}]
        ok = await run_probe(None, "", "127.0.0.1", container, {"httpGet": {"path": "/ok", "port": "http",
                                                                             "httpHeaders": headers}})
        assert ok.ok
        bad = await run_probe(None, "", "127.0.0.1", container, {"httpGet": {"path": "/x", "port": port,
                                                                              "httpHeaders": headers}})
        assert not bad.ok and "statuscode: 503" in bad.message
        unknown = await run_probe(None, "", "127.0.0.1", container, {"httpGet": {"port": "nope"}})
        assert not unknown.ok and "invalid port" in unknown.message
    finally:
        await runner.cleanup()


async def test_tcp_probe_open_and_closed_ports():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    try:
        assert (await run_probe(None, "", "127.0.0.1", {}, {"tcpSocket": {"port": port}})).ok
        refused = await run_probe(None, "", "127.0.0.1", {}, {"tcpSocket": {"port": closed}})
        assert not refused.ok and f"127.0.0.1:{closed}" in refused.message
    finally:
        server.close()
        await server.wait_closed()


async def test_exec_probe_uses_the_exit_code_and_reports_output():
    rt = StubRuntime([0, 1])
    assert (await run_probe(rt, "c1", "", {}, {"exec": {"command": ["true"]}})).ok
    failed = await run_probe(rt, "c1", "", {}, {"exec": {"command": ["false"]}})
    assert not failed.ok and failed.message == "not yet"
    assert rt.execs == [("c1", ("true",)), ("c1", ("false",))]
    assert not (await run_probe(rt, "c1", "", {}, {})).ok  # no handler


# -- gRPC: a grpc.health.v1 server on loopback, written with generic handlers ----------------------

class HealthServer:
    """grpc.health.v1.Health/Check answering from ``statuses`` (service -> ServingStatus number);
    a service in ``slow`` answers after 2 s."""

    def __init__(self, statuses: dict[str, int], slow: tuple[str, ...] = ()):
        self.statuses, self.slow = statuses, slow
        self.asked: list[str] = []

    async def check(self, service: str, context) -> int:
        self.asked.append(service)
        if service in self.slow:
            await asyncio.sleep(2)
        if service not in self.statuses:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return self.statuses[service]

    async def __aenter__(self) -> int:
        self.server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(self.check, request_deserializer=decode_health_request,
                                                      response_serializer=encode_health_response)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": handler}),))
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    async def __aexit__(self, *exc) -> None:
        await self.server.stop(0)


def test_health_messages_encode_and_decode_as_protobuf():
    assert encode_health_request("") == b"" and encode_health_request("db") == b"\x0a\x02db"
    assert decode_health_request(b"\x0a\x02db") == "db"
    assert encode_health_response(1) == b"\x08\x01" and decode_health_response(b"\x08\x02") == 2
    assert decode_health_response(b"") == 0  # UNKNOWN is the default, not sent


async def test_grpc_probe_serving_not_serving_errors_and_timeouts():
    health = HealthServer({"": 1, "db": 2}, slow=("slow",))
    async with health as port:
        def probe(service: str | None = None, **extra) -> dict:
            grpc_spec = {"port": port, **({"service": service} if service is not None else {})}
            return {"grpc": grpc_spec, **extra}

        assert (await run_probe(None, "", "127.0.0.1", {}, probe())).ok
        sick = await run_probe(None, "", "127.0.0.1", {}, probe("db"))
        assert not sick.ok and sick.message == 'service unhealthy (responded with "NOT_SERVING")'
        unknown = await run_probe(None, "", "127.0.0.1", {}, probe("nope"))
        assert not unknown.ok and unknown.message.startswith("error: health rpc probe failed") \
            and "NotFound" in unknown.message
        slow = await run_probe(None, "", "127.0.0.1", {}, probe("slow", timeoutSeconds=1))
        assert not slow.ok and slow.message == "timeout: health rpc did not complete within 1s"
        assert health.asked[:3] == ["", "db", "nope"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = await run_probe(None, "", "127.0.0.1", {}, {"grpc": {"port": closed}, "timeoutSeconds": 1})
    assert not refused.ok and refused.message.startswith(f'timeout: failed to connect service "127.0.0.1:{closed}"')
    assert "invalid grpc port" in (await run_probe(None, "", "127.0.0.1", {}, {"grpc": {"port": "x"}})).message


# -- the manager --------------------------------------------------------------------------------

async def test_readiness_turns_true_after_the_success_threshold_and_notifies():
    clock, changed = FakeClock(), []
    rt = StubRuntime([1, 0])
    probes = ProbeManager(rt, host_ip="127.0.0.1", on_change=changed.append, clock=clock)
    container = {"name": "main", "readinessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 2}}
    pod = pod_with(container)
    try:
        probes.observe(pod, container, running(clock))
        await settle()
        assert probes.ready(pod, container, 0) == ProbeResult(False)
        await clock.advance(2)
        await settle()
        assert probes.ready(pod, container, 2) == ProbeResult(True)
        assert changed == ["ns/p"]
    finally:
        await probes.aclose()


async def test_liveness_failures_stop_the_container_with_the_pods_grace_period():
    clock = FakeClock()
    rt = StubRuntime([1])
    probes = ProbeManager(rt, host_ip="127.0.0.1", on_change=lambda key: None, clock=clock)
    container = {"name": "main", "livenessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 1,
                                                   "failureThreshold": 3, "initialDelaySeconds": 5}}
    pod = pod_with(container, grace=7)
    try:
        probes.observe(pod, container, running(clock))
        await settle()
        assert rt.execs == []  # the initial delay
        for _ in range(8):
            await clock.advance(1)
            await settle()
        assert len(rt.execs) == 3 and rt.stopped == [("c1", 7)]
    finally:
        await probes.aclose()


async def test_liveness_waits_for_the_startup_probe_and_a_new_attempt_gets_new_workers():
    clock = FakeClock()
    rt = StubRuntime([0])
    probes = ProbeManager(rt, host_ip="127.0.0.1", on_change=lambda key: None, clock=clock)
    container = {"name": "main", "startupProbe": {"exec": {"command": ["started"]}, "periodSeconds": 1},
                 "livenessProbe": {"exec": {"command": ["alive"]}, "periodSeconds": 1}}
    pod = pod_with(container)
    try:
        probes.observe(pod, container, running(clock))
        assert probes.started(pod, container, 0) == ProbeResult(False)
        await settle()
        assert probes.started(pod, container, 0) == ProbeResult(True)
        assert [cmd for _, cmd in rt.execs] == [("started",)]
        probes.observe(pod, container, running(clock))  # the sync after the change starts liveness
        await settle()
        assert ("alive",) in [cmd for _, cmd in rt.execs]
        probes.observe(pod, container, running(clock, "c2"))  # restarted: probes start over
        assert probes.started(pod, container, 0) == ProbeResult(False)
        probes.retain("u1", set())
        assert not probes._workers
    finally:
        await probes.aclose()


async def test_a_liveness_kill_goes_through_the_pod_workers_kill_when_given():
    clock = FakeClock()
    rt = StubRuntime([1])
    probes = ProbeManager(rt, host_ip="127.0.0.1", on_change=lambda key: None, clock=clock)
    killed = []

    async def kill(pod, container, container_id, grace, message):
        killed.append((container["name"], container_id, grace, message))

    probes.kill = kill
    container = {"name": "main", "livenessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 1,
                                                   "failureThreshold": 1, "terminationGracePeriodSeconds": 4}}
    try:
        probes.observe(pod_with(container), container, running(clock))
        await settle()
        assert killed == [("main", "c1", 4, "Container main failed liveness probe, will be restarted")]
        assert rt.stopped == []  # the pod worker's kill runs preStop and stops it
    finally:
        await probes.aclose()


# -- machine facts ------------------------------------------------------------------------------

def test_host_names_are_plain_for_the_default_data_dir_and_suffixed_otherwise(tmp_path):
    default = HostNames.for_data_dir("/var/lib/kybernetes")
    assert (default.run_dir, default.cgroup_root, default.bridge) == (DEFAULT_RUN_DIR, "kybernetes", "kyb0")
    a, b = HostNames.for_data_dir(tmp_path / "a"), HostNames.for_data_dir(tmp_path / "b")
    assert a == HostNames.for_data_dir(tmp_path / "a") and a.bridge != b.bridge
    assert len(a.bridge) <= 15 and a.cgroup_root.startswith("kybernetes-")


def test_os_image_reads_pretty_name(monkeypatch):
    from kybernetes.kubelet import real_machine

    monkeypatch.setattr(real_machine, "_read", lambda path: 'NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12"\n')
    assert os_image() == "Debian GNU/Linux 12"
    monkeypatch.setattr(real_machine, "_read", lambda path: "")
    assert os_image() == "Linux"
