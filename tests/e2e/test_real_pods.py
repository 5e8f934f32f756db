"""Real pods on `kyb up`'s own node: runc containers from images pulled through a registry mirror
on loopback, driven by the pinned kubectl (root; see real_node_support.py for the set-up and the
teardown that leaves the host clean)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .cluster import _descendants
from .real_node_support import (
    IMAGE,
    busybox_pod,
    condition,
    container_status,
    requirements_missing,
)

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")



def running(pod: dict, name: str = "main") -> bool:
    return "running" in (container_status(pod, name).get("state") or {})


def terminated(pod: dict, name: str = "main") -> dict:
    return (container_status(pod, name).get("state") or {}).get("terminated") or {}


def test_the_node_is_ready_with_the_machines_facts(rc):
    node = rc.kubectl("get", "nodes", "-o", "json").stdout
    import json

    items = json.loads(node)["items"]
    assert len(items) == 1
    status = items[0]["status"]
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("runc://")
    assert status["nodeInfo"]["kernelVersion"] == os.uname().release
    assert int(status["capacity"]["cpu"]) >= 1 and status["capacity"]["pods"] == "110"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0


def test_a_busybox_pod_runs_and_kubectl_logs_shows_its_output(rc):
    rc.apply(busybox_pod("hello", "sh", "-c", "echo hello from $(hostname); sleep 3600"))
    pod = rc.wait_pod("hello", running, what="running")
    cs = container_status(pod)
    assert cs["containerID"].startswith("runc://") and cs["imageID"].startswith("docker.io/library/busybox@sha256:")
    assert pod["status"]["podIP"].startswith("10.") and pod["status"]["hostIP"] == "127.0.0.1"
    assert condition(pod, "Ready") == "True"
    deadline = time.monotonic() + 20
    while True:
        logs = rc.kubectl("logs", "hello", check=False)
        if logs.returncode == 0 and "hello from hello" in logs.stdout:
            break
        assert time.monotonic() < deadline, f"kubectl logs: {logs.stderr}{logs.stdout}"
        time.sleep(0.3)
    rc.delete_pod("hello")


def test_an_exec_readiness_probe_makes_the_pod_ready(rc):
    rc.apply(busybox_pod("ready", "sh", "-c", "sleep 2; touch /tmp/ready; sleep 3600",
                         container={"readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                                                       "periodSeconds": 1}}))
    pod = rc.wait_pod("ready", running, what="running")
    assert condition(pod, "Ready") == "False"  # the file is not there yet
    pod = rc.wait_pod("ready", lambda p: condition(p, "Ready") == "True", timeout=20, what="Ready")
    assert container_status(pod)["ready"] is True
    rc.delete_pod("ready", wait=False)


def test_a_failing_liveness_probe_restarts_the_container(rc):
    rc.apply(busybox_pod("liveness", "sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600",
                         container={"livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                                                      "periodSeconds": 1, "failureThreshold": 1}}))
    pod = rc.wait_pod("liveness", lambda p: container_status(p).get("restartCount", 0) >= 1, timeout=40,
                      what="a restart")
    last = (container_status(pod).get("lastState") or {}).get("terminated") or {}
    assert last.get("exitCode") in (137, 143), last
    events = rc.kubectl("get", "events", "--field-selector", "involvedObject.name=liveness").stdout
    assert "Liveness probe failed" in events
    rc.delete_pod("liveness", wait=False)


def test_a_crashing_container_shows_crash_loop_back_off(rc):
    rc.apply(busybox_pod("crash", "sh", "-c", "echo crashing; exit 3"))
    pod = rc.wait_pod("crash", lambda p: ((container_status(p).get("state") or {}).get("waiting") or {})
                      .get("reason") == "CrashLoopBackOff", timeout=40, what="CrashLoopBackOff")
    last = container_status(pod)["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert pod["status"]["phase"] == "Running"
    rc.delete_pod("crash", wait=False)


def test_a_container_over_its_memory_limit_is_oom_killed(rc):
    rc.apply(busybox_pod("oom", "sh", "-c", "head -c 200000000 /dev/zero | tail", restartPolicy="Never",
                         container={"resources": {"limits": {"memory": "16Mi"}}}))
    pod = rc.wait_pod("oom", lambda p: bool(terminated(p)), timeout=40, what="terminated")
    assert (terminated(pod)["exitCode"], terminated(pod)["reason"]) == (137, "OOMKilled")
    assert pod["status"]["phase"] == "Failed"
    rc.delete_pod("oom", wait=False)


def test_two_containers_share_localhost_and_an_empty_dir_after_an_init_container(rc):
    rc.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pair"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "shared", "emptyDir": {}}],
        "initContainers": [{"name": "prepare", "image": IMAGE, "command": ["sh", "-c", "echo prepared > /www/index.html"],
                            "volumeMounts": [{"name": "shared", "mountPath": "/www"}]}],
        "containers": [
            {"name": "server", "image": IMAGE, "command": ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"],
             "volumeMounts": [{"name": "shared", "mountPath": "/www"}]},
            {"name": "client", "image": IMAGE, "volumeMounts": [{"name": "shared", "mountPath": "/data"}],
             "command": ["sh", "-c", "for i in $(seq 1 50); do timeout 2 wget -q -O - http://127.0.0.1:8080/ "
                                     "> /data/fetched && break; sleep 0.2; done; sleep 3600"],
             "readinessProbe": {"exec": {"command": ["grep", "-q", "prepared", "/data/fetched"]},
                                "periodSeconds": 1}},
        ]}})
    pod = rc.wait_pod("pair", lambda p: condition(p, "Ready") == "True", timeout=40, what="Ready")
    init = container_status(pod, "prepare", init=True)
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["state"]["terminated"]["finishedAt"] <= container_status(pod, "server")["state"]["running"]["startedAt"]
    rc.delete_pod("pair", wait=False)


def test_a_deployment_of_two_replicas_rolls_out(rc):
    rc.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": IMAGE, "command": ["httpd", "-f", "-p", "8080", "-h", "/"],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}}})
    rc.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    out = rc.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}").stdout.split()
    assert out == ["Running", "Running"]
    rc.kubectl("delete", "deployment", "web", "--wait=true", timeout=90)


def waiting_reason(pod: dict) -> str:
    return ((container_status(pod).get("state") or {}).get("waiting") or {}).get("reason", "")


def test_a_missing_image_shows_err_image_pull_then_image_pull_back_off(rc):
    rc.apply(busybox_pod("missing", "sh", container={"image": "docker.io/library/no-such-image:1.0"}))
    rc.wait_pod("missing", lambda p: waiting_reason(p) == "ImagePullBackOff", timeout=40, what="ImagePullBackOff")
    # ErrImagePull is the status of the failed pull itself, soon replaced by the back-off; the
    # events keep both.
    events = rc.kubectl("get", "events", "--field-selector", "involvedObject.name=missing").stdout
    assert 'Failed to pull image "docker.io/library/no-such-image:1.0"' in events
    assert "Back-off pulling image" in events
    rc.delete_pod("missing", wait=False)


def test_run_as_non_root_with_a_root_image_is_a_create_container_config_error(rc):
    rc.apply(busybox_pod("rootless", "sh", "-c", "sleep 3600", securityContext={"runAsNonRoot": True}))
    pod = rc.wait_pod("rootless", lambda p: waiting_reason(p) == "CreateContainerConfigError", timeout=30,
                      what="CreateContainerConfigError")
    assert "runAsNonRoot and image will run as root" in container_status(pod)["state"]["waiting"].get("message", "")
    rc.delete_pod("rootless", wait=False)


def test_a_missing_config_map_is_a_create_container_config_error(rc):
    rc.apply(busybox_pod("no-config", "sh", "-c", "sleep 3600", container={"env": [
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}))
    pod = rc.wait_pod("no-config", lambda p: waiting_reason(p) == "CreateContainerConfigError", timeout=30,
                      what="CreateContainerConfigError")
    assert container_status(pod)["state"]["waiting"]["message"] == 'configmap "absent" not found'
    rc.delete_pod("no-config", wait=False)


def _kubelet_pid(rc) -> int:
    assert rc.cluster.process is not None
    for pid in _descendants(rc.cluster.process.pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kybernetes.cli" in args and b"kubelet" in args:
            return pid
    raise AssertionError("no kubelet process under kyb up")


def test_kill_9_of_the_kubelet_keeps_the_containers_running(rc):
    rc.apply(busybox_pod("survivor", "sh", "-c", "sleep 3600"))
    before = container_status(rc.wait_pod("survivor", running, what="running"))
    old = _kubelet_pid(rc)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        try:
            new = _kubelet_pid(rc)
            if new != old:
                break
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "the kubelet was not restarted"
        time.sleep(0.2)
    # The new kubelet works (it runs a new pod) and has taken over the old one unchanged.
    rc.apply(busybox_pod("after-restart", "sh", "-c", "sleep 3600"))
    rc.wait_pod("after-restart", running, timeout=60, what="running after the kubelet restart")
    after = container_status(rc.wait_pod("survivor", running))
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == 0 and after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    rc.delete_pod("survivor", wait=False)
    rc.delete_pod("after-restart", wait=False)


def test_deleting_the_pods_leaves_nothing_behind(rc):
    rc.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=60s", timeout=90)
    deadline = time.monotonic() + 20
    while True:
        state = rc.host_state()
        # The run dir's tmpfs and the runtime's shared namespace directory are the node's, not a
        # pod's: they go with the node.
        state["mounts"] = [m for m in state["mounts"] if m not in (str(rc.names.run_dir), str(rc.names.run_dir / "ns"))]
        if not any(state.values()):
            break
        assert time.monotonic() < deadline, f"left behind after every pod was deleted: {state}"
        time.sleep(0.3)
