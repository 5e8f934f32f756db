"""Simulated nodes end to end against the real apiserver: pods bound to them run, finish,
restart and are deleted as on Kubernetes nodes."""

from __future__ import annotations

import asyncio
import ipaddress
import time

from kybernetes.client.resource import EVENTS, NODES, PODS
from kybernetes.testing.waiting import eventually

from .conftest import running


def pod(name: str, *, annotations=None, restart_policy="Always", containers=None, init=None, node=None):
    spec = {"containers": containers or [{"name": "app", "image": "nginx:1.27"}],
            "restartPolicy": restart_policy, "terminationGracePeriodSeconds": 5}
    if init:
        spec["initContainers"] = init
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


async def bind(client, name: str, node: str) -> None:
    await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                        "default", name=name, subresource="binding")


async def wait_pod(client, name: str, predicate, what: str, timeout: float = 10.0) -> dict:
    latest: dict = {}

    async def check() -> bool:
        nonlocal latest
        latest = await client.get_or_none(PODS, name, "default") or {}
        return bool(latest) and predicate(latest)

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for pod {name} to be {what}; last: {latest.get('status')}")
        await asyncio.sleep(0.02)
    return latest


def condition(p: dict, kind: str) -> dict:
    return next((c for c in p.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def running_ready(p: dict) -> bool:
    return p.get("status", {}).get("phase") == "Running" and condition(p, "Ready").get("status") == "True"


async def test_bound_pod_runs_ready_with_an_ip_from_the_pod_cidr(client):
    async with running(client, count=2) as group:
        await client.patch(NODES, "sim-node-1", {"spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"]}})
        await eventually(lambda: (group.nodes.get("sim-node-1") or {}).get("spec", {}).get("podCIDR"), 5,
                         "the podCIDR in the node cache")
        await client.create(PODS, pod("web"), "default")
        await bind(client, "web", "sim-node-1")
        p = await wait_pod(client, "web", running_ready, "Running and Ready")
        status = p["status"]
        assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.244.7.0/24")
        assert status["podIPs"] == [{"ip": status["podIP"]}]
        assert status["hostIP"] == "198.18.0.2" and status["hostIPs"] == [{"ip": "198.18.0.2"}]
        assert status["startTime"] and status["qosClass"] == "BestEffort"
        types = [c["type"] for c in status["conditions"]]
        assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        assert all(c["status"] == "True" for c in status["conditions"])
        (cs,) = status["containerStatuses"]
        assert cs["name"] == "app" and cs["ready"] is True and cs["started"] is True
        assert cs["restartCount"] == 0 and "startedAt" in cs["state"]["running"]
        assert cs["image"] == "docker.io/library/nginx:1.27"
        assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
        assert cs["containerID"].startswith("fake://")


async def test_pod_without_pod_cidr_gets_a_fallback_address(client):
    async with running(client, count=1):
        await client.create(PODS, pod("web", node="sim-node-0"), "default")
        p = await wait_pod(client, "web", running_ready, "Running and Ready")
        assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network("172.16.0.0/12")


async def test_run_seconds_pod_completes_with_its_exit_code(client):
    async with running(client, count=1):
        await client.create(PODS, pod("ok", node="sim-node-0", restart_policy="Never",
                                      annotations={"sim.kybernetes.io/run-seconds": "0.1"}), "default")
        await client.create(PODS, pod("bad", node="sim-node-0", restart_policy="Never",
                                      annotations={"sim.kybernetes.io/run-seconds": "0.1",
                                                   "sim.kybernetes.io/exit-code": "3"}), "default")
        ok = await wait_pod(client, "ok", lambda p: p["status"].get("phase") == "Succeeded", "Succeeded")
        term = ok["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 0 and term["reason"] == "Completed"
        assert condition(ok, "Ready") == {**condition(ok, "Ready"), "status": "False", "reason": "PodCompleted"}
        assert ok["status"]["podIP"]
        bad = await wait_pod(client, "bad", lambda p: p["status"].get("phase") == "Failed", "Failed")
        term = bad["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 3 and term["reason"] == "Error"


async def test_graceful_deletion_stops_then_deletes_the_pod(client):
    async with running(client, count=1, stop_seconds=0.3) as group:
        await client.create(PODS, pod("web", node="sim-node-0"), "default")
        await wait_pod(client, "web", running_ready, "Running and Ready")
        runtime = group.kubelets["sim-node-0"].runtime
        assert runtime.running_containers() == ["app"]
        answer = await client.delete(PODS, "web", "default")
        assert answer["metadata"]["deletionTimestamp"]  # graceful: the pod stays while it stops
        assert await client.get_or_none(PODS, "web", "default") is not None
        await eventually(lambda: runtime.sandbox_count == 0, 10, "the sandbox removed")
        assert await client.get_or_none(PODS, "web", "default") is None
        assert runtime.running_containers() == []


async def test_grace_shorter_than_the_stop_time_kills(client):
    async with running(client, count=1, stop_seconds=30) as group:
        await client.create(PODS, pod("web", node="sim-node-0"), "default")
        await wait_pod(client, "web", running_ready, "Running and Ready")
        seen: list[dict] = []
        status_manager = group.status
        original = status_manager.write_now

        async def spy(p, status):
            seen.append(status)
            return await original(p, status)

        status_manager.write_now = spy
        await client.delete(PODS, "web", "default", grace_period_seconds=1)
        await eventually(lambda: group.kubelets["sim-node-0"].runtime.sandbox_count == 0, 10, "the pod removed")
        (final,) = seen
        term = final["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 137 and final["phase"] == "Failed"


async def test_restart_policy_always_restarts_with_backoff(client):
    async with running(client, count=1):
        await client.create(PODS, pod("crash", node="sim-node-0", annotations={
            "sim.kybernetes.io/run-seconds": "0.05", "sim.kybernetes.io/exit-code": "1"}), "default")

        def backing_off(p):
            cs = (p["status"].get("containerStatuses") or [{}])[0]
            return cs.get("restartCount") == 1 and "waiting" in cs.get("state", {})

        p = await wait_pod(client, "crash", backing_off, "in CrashLoopBackOff after one restart")
        cs = p["status"]["containerStatuses"][0]
        assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=app pod=crash_")
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert p["status"]["phase"] == "Running"
        assert condition(p, "Ready")["reason"] == "ContainersNotReady"
        assert condition(p, "Ready")["message"] == "containers with unready status: [app]"


async def test_restart_policy_on_failure_retries_failures_only(client):
    async with running(client, count=1):
        await client.create(PODS, pod("retry", node="sim-node-0", restart_policy="OnFailure", annotations={
            "sim.kybernetes.io/run-seconds": "0.05", "sim.kybernetes.io/exit-code": "2"}), "default")
        await client.create(PODS, pod("done", node="sim-node-0", restart_policy="OnFailure", annotations={
            "sim.kybernetes.io/run-seconds": "0.05"}), "default")
        p = await wait_pod(client, "retry", lambda p: (p["status"].get("containerStatuses") or [{}])[0]
                           .get("restartCount") == 1, "restarted once")
        assert p["status"]["phase"] == "Running"
        done = await wait_pod(client, "done", lambda p: p["status"].get("phase") == "Succeeded", "Succeeded")
        assert done["status"]["containerStatuses"][0]["restartCount"] == 0


async def test_init_containers_run_first_and_complete(client):
    async with running(client, count=1):
        init = [{"name": "setup", "image": "busybox:1.36"}, {"name": "migrate", "image": "busybox:1.36"}]
        await client.create(PODS, pod("app", node="sim-node-0", init=init,
                                      annotations={"sim.kybernetes.io/init-seconds": "0.05"}), "default")
        p = await wait_pod(client, "app", running_ready, "Running and Ready")
        inits = p["status"]["initContainerStatuses"]
        assert [c["name"] for c in inits] == ["setup", "migrate"]
        for c in inits:
            assert c["state"]["terminated"]["reason"] == "Completed" and c["ready"] is True
        assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
        assert condition(p, "Initialized")["status"] == "True"


async def test_failed_init_container_fails_a_never_pod(client):
    async with running(client, count=1):
        init = [{"name": "setup", "image": "busybox:1.36"}]
        await client.create(PODS, pod("app", node="sim-node-0", init=init, restart_policy="Never",
                                      annotations={"sim.kybernetes.io/init-exit-code": "1"}), "default")
        p = await wait_pod(client, "app", lambda p: p["status"].get("phase") == "Failed", "Failed")
        assert p["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
        assert p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"


async def test_readiness_waits_for_the_probe_and_the_sim_annotation(client):
    async with running(client, count=1):
        probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 0.3}
        containers = [{"name": "app", "image": "nginx:1.27", "readinessProbe": probe}]
        await client.create(PODS, pod("slow", node="sim-node-0", containers=containers), "default")
        p = await wait_pod(client, "slow", lambda p: p["status"].get("phase") == "Running", "Running")
        assert condition(p, "Ready")["status"] == "False"
        await wait_pod(client, "slow", running_ready, "Ready after the initial delay")
        await client.create(PODS, pod("held", node="sim-node-0", annotations={"sim.kybernetes.io/ready": "false"}),
                            "default")
        p = await wait_pod(client, "held", lambda p: p["status"].get("phase") == "Running", "Running")
        assert condition(p, "Ready")["status"] == "False"
        await client.patch(PODS, "held", {"metadata": {"annotations": {"sim.kybernetes.io/ready": None}}}, "default")
        await wait_pod(client, "held", running_ready, "Ready once the annotation is gone")


async def test_bad_simulation_annotation_is_a_clear_container_error(client):
    async with running(client, count=1):
        await client.create(PODS, pod("odd", node="sim-node-0",
                                      annotations={"sim.kybernetes.io/run-seconds": "soon"}), "default")
        p = await wait_pod(client, "odd", lambda p: "waiting" in ((p["status"].get("containerStatuses") or [{}])[0]
                                                                  .get("state") or {}) and
                           p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerError",
                           "CreateContainerError")
        assert "is not a number of seconds" in p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]


async def test_pull_failure_shows_err_image_pull_and_events_are_written(client):
    async with running(client, count=1) as group:
        private = [{"name": "app", "image": "registry.example.com/private/app:1.0"}]
        await client.create(PODS, pod("nopull", node="sim-node-0", containers=private,
                                      annotations={"sim.kybernetes.io/pull-fail": "true"}), "default")
        await client.create(PODS, pod("web", node="sim-node-0"), "default")
        p = await wait_pod(client, "nopull", lambda p: ((p["status"].get("containerStatuses") or [{}])[0]
                                                        .get("state", {}).get("waiting", {}).get("reason")
                                                        in ("ErrImagePull", "ImagePullBackOff")), "ErrImagePull")
        assert p["status"]["phase"] == "Pending"
        await wait_pod(client, "web", running_ready, "Running and Ready")
        await group.events.drain()

        async def reasons() -> set[str]:
            listed = await client.list(EVENTS, "default", field_selector="involvedObject.name=web")
            return {e["reason"] for e in listed["items"]}

        for _ in range(100):
            if {"Pulling", "Pulled", "Created", "Started"} <= await reasons():
                break
            await asyncio.sleep(0.02)
        assert {"Pulling", "Pulled", "Created", "Started"} <= await reasons()
        listed = await client.list(EVENTS, "default", field_selector="involvedObject.name=web")
        started = next(e for e in listed["items"] if e["reason"] == "Started")
        assert started["message"] == "Started container app" and started["source"] == {
            "component": "kubelet", "host": "sim-node-0"}


async def test_a_pod_recreated_under_the_same_name_starts_afresh(client):
    async with running(client, count=1, stop_seconds=0) as group:
        await client.create(PODS, pod("same", node="sim-node-0"), "default")
        first = await wait_pod(client, "same", running_ready, "Running and Ready")
        await client.delete(PODS, "same", "default", grace_period_seconds=0)
        await client.create(PODS, pod("same", node="sim-node-0"), "default")
        second = await wait_pod(client, "same", lambda p: running_ready(p) and
                                p["metadata"]["uid"] != first["metadata"]["uid"], "the new pod Running")
        assert second["status"]["containerStatuses"][0]["containerID"] != \
            first["status"]["containerStatuses"][0]["containerID"]
        runtime = group.kubelets["sim-node-0"].runtime
        await eventually(lambda: runtime.sandbox_count == 1, 5, "only the new pod's sandbox left")
