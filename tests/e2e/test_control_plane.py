"""The declarative loop end to end: real kubectl against `kyb up --sim-nodes 3` (apiserver,
scheduler, controller-manager and three simulated nodes, each its own process)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from .cluster import KybCluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1
"""


@pytest.fixture(scope="module")
def sim_cluster():
    cluster = KybCluster.start_new("--sim-nodes", "3")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = cluster.kubectl("get", "nodes", "-o", "json").stdout
            nodes = json.loads(out)["items"]
            ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in n["status"].get("conditions", []))]
            if len(ready) == 3 and all(n["spec"].get("podCIDR") for n in nodes):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"3 simulated nodes were not Ready:\n{cluster.log_tail()}")
        yield cluster
    finally:
        cluster.close()


def pods(cluster, selector: str) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-l", selector, "-o", "json").stdout)["items"]


def test_deployment_rollout_history_undo_and_scale(sim_cluster):
    k = sim_cluster.kubectl
    k("apply", "-f", "-", input=DEPLOYMENT)
    k("rollout", "status", "deployment/web", "--timeout=60s")
    running = [p for p in pods(sim_cluster, "app=web") if p["status"]["phase"] == "Running"]
    assert len(running) == 4
    assert all(p["spec"]["nodeName"].startswith("sim-") and p["status"]["podIP"].startswith("10.42.")
               for p in running)

    # A rolling update watched from the side: never more than replicas+maxSurge pods, never fewer
    # than replicas-maxUnavailable ready ones.
    watcher = subprocess.Popen([sim_cluster.kubectl_path, "get", "deploy", "web", "-w", "-o", "json"],
                               env=sim_cluster.env, stdout=subprocess.PIPE, text=True)
    try:
        k("set", "image", "deployment/web", "web=registry.local/web:2")
        k("rollout", "status", "deployment/web", "--timeout=60s")
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    statuses = [json.loads(doc)["status"] for doc in _json_documents(out)]
    assert statuses, "the watch saw the deployment"
    assert max(s.get("replicas", 0) for s in statuses) <= 5
    assert min(s.get("availableReplicas", 0) for s in statuses[1:] or statuses) >= 3

    history = k("rollout", "history", "deployment/web").stdout
    assert "1 " in history and "2 " in history
    k("rollout", "undo", "deployment/web")
    k("rollout", "status", "deployment/web", "--timeout=60s")
    images = {p["spec"]["containers"][0]["image"] for p in pods(sim_cluster, "app=web")
              if p["status"]["phase"] == "Running" and not p["metadata"].get("deletionTimestamp")}
    assert images == {"registry.local/web:1"}

    k("scale", "deployment/web", "--replicas=2")
    k("wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    deadline = time.monotonic() + 30
    while len([p for p in pods(sim_cluster, "app=web") if not p["metadata"].get("deletionTimestamp")]) != 2:
        assert time.monotonic() < deadline, "scaled down to 2"
        time.sleep(0.3)

    k("delete", "deployment", "web", "--timeout=60s")
    deadline = time.monotonic() + 30
    while pods(sim_cluster, "app=web"):
        assert time.monotonic() < deadline, "the garbage collector removed the pods"
        time.sleep(0.3)
    assert json.loads(k("get", "rs", "-l", "app=web", "-o", "json").stdout)["items"] == []


def test_job_with_completions_and_parallelism_completes(sim_cluster):
    job = yaml.safe_load("""
apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 5
  parallelism: 2
  template:
    metadata:
      annotations: {sim.kybernetes.io/run-seconds: "1"}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: registry.local/tool:1}]
""")
    sim_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(job))
    sim_cluster.kubectl("wait", "--for=condition=Complete", "job/count", "--timeout=90s")
    status = json.loads(sim_cluster.kubectl("get", "job", "count", "-o", "json").stdout)["status"]
    assert status["succeeded"] == 5


def test_unschedulable_pod_explains_itself_then_schedules(sim_cluster):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "picky"},
           "spec": {"nodeSelector": {"disk": "ssd"},
                    "containers": [{"name": "c", "image": "registry.local/web:1"}]}}
    sim_cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    deadline = time.monotonic() + 30
    while "FailedScheduling" not in (described := sim_cluster.kubectl("describe", "pod", "picky").stdout):
        assert time.monotonic() < deadline, described
        time.sleep(0.5)
    assert "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector" in described
    sim_cluster.kubectl("label", "node", "sim-1", "disk=ssd")
    sim_cluster.kubectl("wait", "--for=condition=Ready", "pod/picky", "--timeout=60s")
    node = sim_cluster.kubectl("get", "pod", "picky", "-o", "jsonpath={.spec.nodeName}").stdout
    assert node == "sim-1"


def _json_documents(text: str) -> list[str]:
    """Split kubectl's stream of pretty-printed JSON objects."""
    docs, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                docs.append(text[start:i + 1])
    return docs
