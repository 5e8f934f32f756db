"""Real kubectl applying, diffing, editing and patching against `kyb up`.

Client-side apply (strategic merge with the last-applied annotation), server-side apply with a
conflict and --force-conflicts, apply --prune, diff, edit with a scripted EDITOR, the three patch
types, label, annotate, set image, set env and scale; each checks the live object afterwards.
"""

from __future__ import annotations

import json
import stat
import subprocess

import pytest
import yaml

DEPLOYMENT_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}, tier: front}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0
        env:
        - {{name: A, value: "1"}}
        - {{name: B, value: "2"}}
        ports:
        - containerPort: 8080
        - containerPort: 9090
        volumeMounts:
        - {{name: cfg, mountPath: /etc/cfg}}
        - {{name: data, mountPath: /data}}
      - name: sidecar
        image: registry.local/side:1.0
      volumes:
      - name: cfg
        emptyDir: {{}}
      - name: data
        emptyDir: {{}}
"""

DEPLOYMENT_V2 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: registry.local/web:2.0
        env:
        - {{name: A, value: "10"}}
        - {{name: C, value: "3"}}
        ports:
        - containerPort: 8080
        volumeMounts:
        - {{name: cfg, mountPath: /etc/cfg}}
      - name: metrics
        image: registry.local/metrics:1.0
      volumes:
      - name: cfg
        emptyDir: {{}}
"""


def configmap(name: str, ns: str, labels: str = "{app: prune}", data: str = "{k: v}") -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            f"  labels: {labels}\ndata: {data}\n")


@pytest.fixture
def ns(kyb_cluster, request):
    name = "apply-" + request.node.name.lower().replace("_", "-")[5:40].strip("-")
    kyb_cluster.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    yield name
    kyb_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def get(kyb_cluster, ns: str, *what: str) -> dict:
    return json.loads(kyb_cluster.kubectl("get", *what, "-n", ns, "-o", "json", "--show-managed-fields").stdout)


def test_client_side_apply_twice_changes_adds_and_removes(kyb_cluster, ns):
    kyb_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT_V1.format(name="web", ns=ns))
    out = kyb_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT_V2.format(name="web", ns=ns)).stdout
    assert "deployment.apps/web configured" in out
    live = get(kyb_cluster, ns, "deployment", "web")
    assert live["metadata"]["labels"] == {"app": "web"}
    spec = live["spec"]["template"]["spec"]
    assert live["spec"]["replicas"] == 3
    assert [c["name"] for c in spec["containers"]] == ["web", "metrics"]
    web = spec["containers"][0]
    assert web["image"] == "registry.local/web:2.0"
    assert web["env"] == [{"name": "A", "value": "10"}, {"name": "C", "value": "3"}]
    assert [p["containerPort"] for p in web["ports"]] == [8080]
    assert web["volumeMounts"] == [{"name": "cfg", "mountPath": "/etc/cfg"}]
    assert [v["name"] for v in spec["volumes"]] == ["cfg"]
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 3
    managers = {e["manager"] for e in live["metadata"]["managedFields"]}
    assert "kubectl-client-side-apply" in managers
    again = kyb_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT_V2.format(name="web", ns=ns)).stdout
    assert "deployment.apps/web unchanged" in again


def test_apply_prune_deletes_what_left_the_manifests(kyb_cluster, ns, tmp_path):
    (tmp_path / "a.yaml").write_text(configmap("keep", ns))
    (tmp_path / "b.yaml").write_text(configmap("drop", ns))
    kyb_cluster.kubectl("apply", "-f", str(tmp_path), "-n", ns)
    (tmp_path / "b.yaml").unlink()
    out = kyb_cluster.kubectl("apply", "-f", str(tmp_path), "-n", ns, "--prune", "-l", "app=prune").stdout
    assert "configmap/drop pruned" in out
    names = kyb_cluster.kubectl("get", "configmaps", "-n", ns, "-l", "app=prune", "-o", "name").stdout.split()
    assert names == ["configmap/keep"]


def test_server_side_apply_conflict_then_force(kyb_cluster, ns):
    manifest = DEPLOYMENT_V2.format(name="ssa", ns=ns)
    out = kyb_cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    assert "deployment.apps/ssa serverside-applied" in out
    live = get(kyb_cluster, ns, "deployment", "ssa")
    applied = [e for e in live["metadata"]["managedFields"] if e["operation"] == "Apply"]
    assert [e["manager"] for e in applied] == ["kubectl"]
    kyb_cluster.kubectl("scale", "deployment", "ssa", "-n", ns, "--replicas=5")
    conflict = kyb_cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    assert conflict.returncode != 0
    # kubectl scale names no manager: the server takes "kubectl" from the User-Agent, on "scale".
    assert ('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: '
            ".spec.replicas") in conflict.stderr, conflict.stderr
    assert "--force-conflicts" in conflict.stderr
    forced = kyb_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest)
    assert "serverside-applied" in forced.stdout
    assert get(kyb_cluster, ns, "deployment", "ssa")["spec"]["replicas"] == 3
    # Dropping a field from the manifest removes it from the object (nobody else owns it).
    smaller = manifest.replace("      - name: metrics\n        image: registry.local/metrics:1.0\n", "")
    kyb_cluster.kubectl("apply", "--server-side", "-f", "-", input=smaller)
    containers = get(kyb_cluster, ns, "deployment", "ssa")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]


def test_diff_shows_changes_and_exits_one(kyb_cluster, ns):
    kyb_cluster.kubectl("apply", "-f", "-", input=configmap("cfg", ns, data="{k: v}"))
    same = kyb_cluster.kubectl("diff", "-f", "-", input=configmap("cfg", ns, data="{k: v}"), check=False)
    assert same.returncode == 0, same.stderr
    changed = kyb_cluster.kubectl("diff", "-f", "-", input=configmap("cfg", ns, data="{k: w}"), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "-  k: v" in changed.stdout and "+  k: w" in changed.stdout
    server = kyb_cluster.kubectl("diff", "--server-side", "-f", "-", input=configmap("cfg", ns, data="{k: x}"),
                                 check=False)
    assert server.returncode == 1, server.stderr
    assert "+  k: x" in server.stdout
    assert get(kyb_cluster, ns, "configmap", "cfg")["data"] == {"k": "v"}  # diff wrote nothing


def test_edit_with_a_scripted_editor(kyb_cluster, ns, tmp_path):
    kyb_cluster.kubectl("apply", "-f", "-", input=configmap("edited", ns, data="{k: before}"))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: before/k: after/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    env = {**kyb_cluster.env, "EDITOR": str(editor), "KUBE_EDITOR": str(editor)}
    result = subprocess.run([kyb_cluster.kubectl_path, "edit", "configmap", "edited", "-n", ns], env=env,
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "configmap/edited edited" in result.stdout
    live = get(kyb_cluster, ns, "configmap", "edited")
    assert live["data"] == {"k": "after"}
    assert "kubectl-edit" in {e["manager"] for e in live["metadata"]["managedFields"]}


def test_patch_of_all_three_types(kyb_cluster, ns):
    kyb_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT_V1.format(name="patched", ns=ns))
    kyb_cluster.kubectl("patch", "deployment", "patched", "-n", ns, "-p",
                        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.local/web:3"}]}}}}')
    kyb_cluster.kubectl("patch", "deployment", "patched", "-n", ns, "--type=merge", "-p",
                        '{"metadata":{"labels":{"merged":"yes"}}}')
    kyb_cluster.kubectl("patch", "deployment", "patched", "-n", ns, "--type=json", "-p",
                        '[{"op":"replace","path":"/spec/replicas","value":4}]')
    live = get(kyb_cluster, ns, "deployment", "patched")
    containers = live["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]           # strategic: merged by name
    assert containers[0]["image"] == "registry.local/web:3"
    assert live["metadata"]["labels"]["merged"] == "yes"
    assert live["spec"]["replicas"] == 4
    bad = kyb_cluster.kubectl("patch", "deployment", "patched", "-n", ns, "--type=json", "-p",
                              '[{"op":"remove","path":"/spec/nope"}]', check=False)
    assert bad.returncode != 0


def test_label_annotate_set_image_set_env_scale(kyb_cluster, ns):
    kyb_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT_V1.format(name="tools", ns=ns))
    kyb_cluster.kubectl("label", "deployment", "tools", "-n", ns, "color=blue")
    kyb_cluster.kubectl("annotate", "deployment", "tools", "-n", ns, "note=hello")
    kyb_cluster.kubectl("set", "image", "deployment/tools", "-n", ns, "web=registry.local/web:9")
    kyb_cluster.kubectl("set", "env", "deployment/tools", "-n", ns, "-c", "web", "D=4")
    kyb_cluster.kubectl("scale", "deployment", "tools", "-n", ns, "--replicas=6")
    live = get(kyb_cluster, ns, "deployment", "tools")
    assert live["metadata"]["labels"]["color"] == "blue"
    assert live["metadata"]["annotations"]["note"] == "hello"
    web = live["spec"]["template"]["spec"]["containers"][0]
    assert web["image"] == "registry.local/web:9"
    assert {"name": "D", "value": "4"} in web["env"]
    assert live["spec"]["replicas"] == 6
    managers = {(e["manager"], e.get("subresource", "")) for e in live["metadata"]["managedFields"]}
    assert ("kubectl-label", "") in managers and ("kubectl-annotate", "") in managers
    assert ("kubectl-set", "") in managers
    yaml.safe_dump(live)  # the object round-trips as YAML (kubectl get -o yaml)
    kyb_cluster.kubectl("label", "deployment", "tools", "-n", ns, "color-")
    assert "color" not in get(kyb_cluster, ns, "deployment", "tools")["metadata"]["labels"]
