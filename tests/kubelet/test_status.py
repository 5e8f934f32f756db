"""Pod status computation as a pure function: phases, conditions, container states."""

from __future__ import annotations

from kybernetes.kubelet.images.reference import InvalidImageNameError, normalize_image
from kybernetes.kubelet.restart_backoff import RestartBackoff
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.status import ContainerView, pod_phase, pod_status, qos_class

NOW = "2026-01-01T00:00:10Z"


def attempt(state, attempt=0, exit_code=0, cid="c0") -> cri.ContainerStatus:
    return cri.ContainerStatus(cid, cri.ContainerMetadata("app", attempt), state, 1, started_at=1_767_225_600 * 10**9,
                               finished_at=1_767_225_605 * 10**9 if state == cri.ContainerState.CONTAINER_EXITED else 0,
                               exit_code=exit_code, image=cri.ImageSpec("docker.io/library/nginx:latest"),
                               image_ref="docker.io/library/nginx@sha256:ab",
                               reason="" if state != cri.ContainerState.CONTAINER_EXITED else
                               ("Completed" if exit_code == 0 else "Error"))


def make_pod(policy="Always", status=None):
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "app", "image": "nginx"}]},
            "status": status or {}}


def compute(pod, view, terminal=False, ips=("10.0.0.5",)):
    return pod_status(pod, init_views={}, views={"app": view}, runtime_name="fake", sandbox_ready=True,
                      pod_ips=list(ips), host_ip="198.18.0.1", now=NOW, pod_is_terminal=terminal)


def test_a_container_not_yet_started_is_creating_and_the_pod_pending():
    status = compute(make_pod(), ContainerView())
    assert status["phase"] == "Pending"
    cs = status["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}} and cs["image"] == "nginx"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready == {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                     "message": "containers with unready status: [app]", "lastTransitionTime": NOW}


def test_running_ready_and_kept_transition_times():
    old = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-12-31T00:00:00Z"},
                          {"type": "DisruptionTarget", "status": "True", "reason": "x"}]}
    status = compute(make_pod(status=old), ContainerView([attempt(cri.ContainerState.CONTAINER_RUNNING)],
                                                         ready=True, started=True))
    assert status["phase"] == "Running"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["lastTransitionTime"] == "2025-12-31T00:00:00Z"
    assert conds["ContainersReady"]["lastTransitionTime"] == NOW
    assert conds["DisruptionTarget"] == {"type": "DisruptionTarget", "status": "True", "reason": "x"}
    cs = status["containerStatuses"][0]
    assert cs["containerID"] == "fake://c0" and cs["state"]["running"]["startedAt"] == "2026-01-01T00:00:00Z"


def test_phases_follow_restart_policy():
    exited_ok = ContainerView([attempt(cri.ContainerState.CONTAINER_EXITED, exit_code=0)])
    exited_bad = ContainerView([attempt(cri.ContainerState.CONTAINER_EXITED, exit_code=1)])
    assert compute(make_pod("Never"), exited_ok)["phase"] == "Succeeded"
    assert compute(make_pod("Never"), exited_bad)["phase"] == "Failed"
    assert compute(make_pod("OnFailure"), exited_bad)["phase"] == "Running"
    assert compute(make_pod("Always"), exited_ok)["phase"] == "Running"
    assert compute(make_pod("Always"), exited_ok, terminal=True)["phase"] == "Succeeded"
    done = compute(make_pod("Never"), exited_ok)
    assert {c["type"]: c.get("reason") for c in done["conditions"]}["Ready"] == "PodCompleted"
    # terminal phases stick
    assert compute(make_pod("Always", {"phase": "Failed"}),
                   ContainerView([attempt(cri.ContainerState.CONTAINER_RUNNING)]))["phase"] == "Failed"


def test_backoff_state_shows_waiting_and_last_state():
    view = ContainerView([attempt(cri.ContainerState.CONTAINER_EXITED, attempt=2, exit_code=1, cid="c2"),
                          attempt(cri.ContainerState.CONTAINER_EXITED, attempt=1, exit_code=1, cid="c1")],
                         waiting_reason="CrashLoopBackOff", waiting_message="back-off 20s ...")
    cs = compute(make_pod(), view)["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s ..."}}
    assert cs["lastState"]["terminated"]["containerID"] == "fake://c2" and cs["restartCount"] == 2


def test_init_containers_gate_initialized():
    spec = {"restartPolicy": "Always", "initContainers": [{"name": "i1", "image": "x"}],
            "containers": [{"name": "app", "image": "nginx"}]}
    statuses = {"i1": {"state": {"running": {}}}, "app": {"state": {"waiting": {}}}}
    assert pod_phase(spec, statuses, pod_is_terminal=False, has_initialized=False) == "Pending"
    pod = {"metadata": {"uid": "u"}, "spec": spec, "status": {}}
    status = pod_status(pod, init_views={"i1": ContainerView([attempt(cri.ContainerState.CONTAINER_RUNNING)])},
                        views={}, runtime_name="fake", sandbox_ready=True, pod_ips=[], host_ip="h", now=NOW,
                        pod_is_terminal=False)
    init = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert init["reason"] == "ContainersNotInitialized"
    assert init["message"] == "containers with incomplete status: [i1]"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"


def test_qos_classes():
    assert qos_class({"containers": [{"name": "a"}]}) == "BestEffort"
    guaranteed = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class({"containers": [{"name": "a", "resources": guaranteed}]}) == "Guaranteed"
    assert qos_class({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}) == "Burstable"


def test_restart_backoff_doubles_from_ten_seconds_and_resets():
    b = RestartBackoff()
    assert b.remaining("k", exited_at=100, now=100) == 0  # the first restart is immediate
    assert b.restarted("k", 100) == 10
    assert b.remaining("k", exited_at=105, now=106) == 9
    assert b.restarted("k", 105) == 20 and b.restarted("k", 130) == 40
    for t in range(5):
        b.restarted("k", 200 + t)
    assert b.current("k") == 300
    assert b.remaining("k", exited_at=1000, now=1000) == 0  # long quiet: forgotten
    assert b.restarted("k", 1000) == 10


def test_image_names_normalise_like_docker():
    assert normalize_image("nginx") == "docker.io/library/nginx:latest"
    assert normalize_image("me/app:v1") == "docker.io/me/app:v1"
    assert normalize_image("localhost:5000/app") == "localhost:5000/app:latest"
    assert normalize_image("ghcr.io/a/b@sha256:" + "a" * 64) == "ghcr.io/a/b@sha256:" + "a" * 64
    for bad in ("", "UPPER", "a b", "nginx:bad tag"):
        try:
            normalize_image(bad)
        except InvalidImageNameError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
