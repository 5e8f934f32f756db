"""Container lifecycle on `kyb up`'s real node, driven by the pinned kubectl: postStart and
preStop hooks, termination messages (the file and FallbackToLogsOnError, in state and lastState),
and sidecar containers beside the main one (root; real_node_support.py sets up and cleans up)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from kybernetes.kubelet.real_probe_checks import decode_health_request, encode_health_response

from .real_node_support import (
    IMAGE,
    busybox_pod,
    condition,
    container_status,
    requirements_missing,
)

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")

WAIT_FOR_TERM = "trap 'exit 0' TERM; sleep 3600 & wait"  # PID 1 ignores SIGTERM unless it traps it



def state(pod: dict, name: str = "main", init: bool = False) -> dict:
    return container_status(pod, name, init).get("state") or {}


def events_of(rc, name: str) -> str:
    return rc.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}").stdout


@contextlib.contextmanager
def health_server(statuses: dict[str, int]) -> Iterator[int]:
    """A grpc.health.v1 server on loopback answering from ``statuses``; its port."""
    def check(service: str, context) -> int:
        return statuses.get(service, 3)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(check, request_deserializer=decode_health_request,
                                                  response_serializer=encode_health_response)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("grpc.health.v1.Health",
                                                                          {"Check": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(0)


def test_post_start_writes_a_file_the_container_reads_before_it_counts_as_running(rc):
    rc.apply(busybox_pod("hooked", "sh", "-c", "until [ -f /tmp/hooked ]; do sleep 0.1; done; cat /tmp/hooked; "
                         + WAIT_FOR_TERM,
                         container={"lifecycle": {"postStart": {"exec": {"command": [
                             "sh", "-c", "echo from-post-start > /tmp/hooked"]}}}}))
    pod = rc.wait_pod("hooked", lambda p: "running" in state(p) and container_status(p)["ready"], timeout=40,
                      what="running and ready")
    assert container_status(pod)["restartCount"] == 0
    logs = rc.kubectl("logs", "hooked").stdout
    assert "from-post-start" in logs
    rc.delete_pod("hooked", wait=False)


def test_a_failing_post_start_hook_kills_the_container_and_it_restarts(rc):
    rc.apply(busybox_pod("bad-hook", "sh", "-c", WAIT_FOR_TERM,
                         container={"lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}}}))
    rc.wait_pod("bad-hook", lambda p: container_status(p).get("restartCount", 0) >= 1, timeout=40,
                what="a restart after the failed hook")
    events = events_of(rc, "bad-hook")
    assert "FailedPostStartHook" in events and "exited with 7" in events
    rc.delete_pod("bad-hook", wait=False)


def test_pre_stop_runs_before_the_container_stops_on_delete(rc, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    manifest = busybox_pod("farewell", "sh", "-c", WAIT_FOR_TERM, terminationGracePeriodSeconds=10, container={
        "volumeMounts": [{"name": "out", "mountPath": "/out"}],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo bye from pre-stop > /out/pre-stop"]}}}})
    manifest["spec"]["volumes"] = [{"name": "out", "hostPath": {"path": str(out), "type": "Directory"}}]
    rc.apply(manifest)
    rc.wait_pod("farewell", lambda p: "running" in state(p), timeout=40, what="running")
    assert not (out / "pre-stop").exists()
    rc.delete_pod("farewell")
    assert (out / "pre-stop").read_text() == "bye from pre-stop\n"


def test_termination_messages_from_the_file_from_the_logs_and_in_last_state(rc):
    rc.apply(busybox_pod("said", "sh", "-c", "printf 'all done' > /tmp/my-message; exit 3", restartPolicy="Never",
                         container={"terminationMessagePath": "/tmp/my-message"}))
    rc.apply(busybox_pod("fallback", "sh", "-c", "echo first; echo oops >&2; exit 1", restartPolicy="Never",
                         container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
    rc.apply(busybox_pod("again", "sh", "-c", "printf bye > /dev/termination-log; exit 1",
                         restartPolicy="OnFailure"))
    said = rc.wait_pod("said", lambda p: "terminated" in state(p), timeout=40, what="terminated")
    assert state(said)["terminated"]["exitCode"] == 3 and state(said)["terminated"]["message"] == "all done"
    fallback = rc.wait_pod("fallback", lambda p: "terminated" in state(p), timeout=40, what="terminated")
    assert fallback["status"]["phase"] == "Failed"
    assert state(fallback)["terminated"]["message"] == "first\noops\n"
    again = rc.wait_pod("again", lambda p: container_status(p).get("restartCount", 0) >= 1 and
                        "terminated" in (container_status(p).get("lastState") or {}), timeout=40, what="restarted")
    assert container_status(again)["lastState"]["terminated"]["message"] == "bye"
    for name in ("said", "fallback", "again"):
        rc.delete_pod(name, wait=False)


def test_a_sidecar_runs_beside_the_main_container_and_restarts_when_it_exits(rc):
    rc.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "with-sidecar"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "shared", "emptyDir": {}}],
        "initContainers": [
            {"name": "side", "image": IMAGE, "restartPolicy": "Always",
             "command": ["sh", "-c", "echo side >> /shared/side.log; sleep 2; exit 1"],
             "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
            {"name": "after", "image": IMAGE, "command": ["sh", "-c", "cat /shared/side.log"],
             "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}],
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", WAIT_FOR_TERM],
                        "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}]}})
    pod = rc.wait_pod("with-sidecar", lambda p: "running" in state(p) and
                      container_status(p, "side", init=True).get("restartCount", 0) >= 1, timeout=40,
                      what="main running and the sidecar restarted")
    assert state(pod, "after", init=True)["terminated"]["exitCode"] == 0  # it ran once the sidecar had started
    assert pod["status"]["phase"] == "Running" and container_status(pod)["restartCount"] == 0
    assert "side" in rc.kubectl("logs", "with-sidecar", "-c", "after").stdout
    rc.delete_pod("with-sidecar", wait=False)


def test_a_pod_whose_main_container_completes_stops_its_sidecar_and_succeeds(rc):
    rc.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job-like"}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "side", "image": IMAGE, "restartPolicy": "Always",
                            "command": ["sh", "-c", WAIT_FOR_TERM]}],
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", "sleep 1"]}]}})
    pod = rc.wait_pod("job-like", lambda p: p["status"].get("phase") == "Succeeded", timeout=40, what="Succeeded")
    assert state(pod)["terminated"]["reason"] == "Completed"
    assert state(pod, "side", init=True)["terminated"]["exitCode"] == 0  # SIGTERM, handled
    rc.delete_pod("job-like", wait=False)


def test_a_grpc_readiness_probe_follows_the_health_service(rc):
    # A hostNetwork pod: the kubelet probes the node's address, where the test serves the health API.
    statuses = {"app": 1}
    with health_server(statuses) as port:
        rc.apply(busybox_pod("grpc-ready", "sh", "-c", WAIT_FOR_TERM, hostNetwork=True, container={
            "readinessProbe": {"grpc": {"port": port, "service": "app"}, "periodSeconds": 1}}))
        rc.wait_pod("grpc-ready", lambda p: condition(p, "Ready") == "True", timeout=40, what="Ready")
        statuses["app"] = 2
        rc.wait_pod("grpc-ready", lambda p: condition(p, "Ready") == "False", timeout=20, what="unready")
        assert "Readiness probe failed: service unhealthy" in events_of(rc, "grpc-ready")
        rc.delete_pod("grpc-ready", wait=False)


CGI = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nenv > /out/http-hook\\n' "
       "> /www/cgi-bin/bye && chmod +x /www/cgi-bin/bye && exec httpd -f -p 8080 -h /www")


def test_an_http_pre_stop_hook_reaches_the_pod_on_its_ip_and_named_port(rc, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    manifest = busybox_pod("http-hook", "sh", "-c", CGI, terminationGracePeriodSeconds=3, container={
        "ports": [{"name": "web", "containerPort": 8080}],
        "volumeMounts": [{"name": "out", "mountPath": "/out"}],
        "lifecycle": {"preStop": {"httpGet": {"path": "/cgi-bin/bye", "port": "web"}}}})
    manifest["spec"]["volumes"] = [{"name": "out", "hostPath": {"path": str(out), "type": "Directory"}}]
    rc.apply(manifest)
    rc.wait_pod("http-hook", lambda p: "running" in state(p), timeout=40, what="running")
    rc.delete_pod("http-hook")
    env = (out / "http-hook").read_text()
    assert "REQUEST_METHOD=GET" in env and "kube-lifecycle/" in env
