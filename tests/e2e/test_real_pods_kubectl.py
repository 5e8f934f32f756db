"""The real node seen through kubectl: logs (-f, --tail, --since, --timestamps, --previous, -c,
--all-containers, -l), cp, port-forward, top, ConfigMaps and Secrets in env and volumes, and a
pod calling the apiserver with the official Python client and its projected service-account
token (root; set-up and teardown in real_node_support.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime.runc.record_files import read_records

from .real_node_support import (
    IMAGE,
    busybox_pod,
    condition,
    container_status,
    requirements_missing,
)

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) ")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"



def running(pod: dict, name: str = "main") -> bool:
    return "running" in (container_status(pod, name).get("state") or {})


def ready(pod: dict) -> bool:
    return condition(pod, "Ready") == "True"


def eventually(what: str, check: Callable[[], object], timeout: float = 20.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s (last: {result!r})"
        time.sleep(every)


@contextlib.contextmanager
def kubectl_process(rc, *args: str) -> Iterator[subprocess.Popen]:
    """A long-running kubectl (logs -f, port-forward), killed on the way out."""
    proc = subprocess.Popen([rc.cluster.kubectl_path, *args], env=rc.cluster.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def read_lines(proc: subprocess.Popen, count: int, timeout: float) -> list[str]:
    """Up to ``count`` lines of the process's stdout, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer, lines = b"", []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buffer += chunk
        *done, buffer = buffer.split(b"\n")
        lines.extend(line.decode() for line in done)
    return lines[:count]


def logs(rc, *args: str) -> str:
    return rc.kubectl("logs", *args).stdout


# -- logs ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ticker(rc):
    """A pod printing a numbered line every 0.2 s, two of them labelled app=ticker."""
    script = "i=0; while true; do i=$((i+1)); echo \"tick $i from $(hostname)\"; sleep 0.2; done"
    for name in ("ticker", "ticker2"):
        rc.apply(busybox_pod(name, "sh", "-c", script) | {"metadata": {"name": name, "labels": {"app": "ticker"}}})
    for name in ("ticker", "ticker2"):
        rc.wait_pod(name, running, what="running")
    eventually("ticks in the log", lambda: "tick 5 " in logs(rc, "ticker"))
    yield "ticker"
    rc.delete_pod("ticker", wait=False)
    rc.delete_pod("ticker2", wait=False)


def test_logs_follow_streams_new_lines_as_they_are_written(rc, ticker):
    with kubectl_process(rc, "logs", "-f", "--tail=1", ticker) as proc:
        lines = read_lines(proc, 6, timeout=15)
    assert len(lines) == 6, lines
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + 6)), lines  # one old line, then the new ones


def test_logs_follow_ends_when_the_container_exits(rc):
    rc.apply(busybox_pod("finite", "sh", "-c", "sleep 1; for i in 1 2 3; do echo n$i; sleep 0.5; done",
                         restartPolicy="Never"))
    rc.wait_pod("finite", running, what="running")
    out = rc.kubectl("logs", "-f", "finite", timeout=30)
    assert out.stdout == "n1\nn2\nn3\n"
    rc.delete_pod("finite", wait=False)


def test_logs_tail_since_and_timestamps(rc, ticker):
    tail = logs(rc, ticker, "--tail=3").splitlines()
    assert len(tail) == 3 and all(line.startswith("tick ") for line in tail), tail
    everything = logs(rc, ticker).splitlines()
    time.sleep(1.5)
    recent = logs(rc, ticker, "--since=1s").splitlines()
    assert 1 <= len(recent) <= 8 and len(recent) < len(everything), recent
    assert int(recent[0].split()[1]) > int(everything[-1].split()[1]) - 1, (recent, everything[-1])
    stamped = logs(rc, ticker, "--tail=4", "--timestamps").splitlines()
    assert len(stamped) == 4 and all(RFC3339.match(line) for line in stamped), stamped
    assert [line.split(" ", 1)[1].startswith("tick ") for line in stamped] == [True] * 4


def test_logs_by_label_selector(rc, ticker):
    out = logs(rc, "-l", "app=ticker", "--tail=2")
    assert "from ticker\n" in out and "from ticker2\n" in out, out


def test_logs_of_one_container_and_of_all_containers(rc):
    rc.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "duo"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "left", "image": IMAGE, "command": ["sh", "-c", "echo left says hi; sleep 3600"]},
                       {"name": "right", "image": IMAGE, "command": ["sh", "-c", "echo right says hi; sleep 3600"]}]}})
    rc.wait_pod("duo", lambda p: running(p, "left") and running(p, "right"), what="both running")
    assert eventually("left's log", lambda: logs(rc, "duo", "-c", "left")) == "left says hi\n"
    assert eventually("right's log", lambda: logs(rc, "duo", "-c", "right")) == "right says hi\n"
    both = logs(rc, "duo", "--all-containers")
    assert sorted(both.splitlines()) == ["left says hi", "right says hi"], both
    rc.delete_pod("duo", wait=False)


def test_logs_previous_shows_the_run_before_a_restart(rc):
    script = ("n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n; echo run $n; "
              "[ $n -gt 1 ] || exit 1; sleep 3600")
    rc.apply(busybox_pod("again", "sh", "-c", script, volumes=[{"name": "state", "emptyDir": {}}],
                         container={"volumeMounts": [{"name": "state", "mountPath": "/state"}]}))
    rc.wait_pod("again", lambda p: container_status(p).get("restartCount", 0) >= 1 and running(p), timeout=40,
                what="restarted and running")
    assert eventually("the current run's log", lambda: logs(rc, "again")) == "run 2\n"
    assert logs(rc, "again", "--previous") == "run 1\n"
    rc.delete_pod("again", wait=False)


# -- cp and port-forward ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sleeper(rc):
    # kubectl cp is tar over exec; the test image links only some busybox applets, not tar.
    rc.apply(busybox_pod("sleeper", "sh", "-c", "ln -s busybox /bin/tar; sleep 3600"))
    rc.wait_pod("sleeper", running, what="running")
    yield "sleeper"
    rc.delete_pod("sleeper", wait=False)


def test_kubectl_cp_a_file_into_a_pod_and_back(rc, sleeper, tmp_path):
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(50_000) + b"\nthe end\n")
    rc.kubectl("cp", str(source), f"{sleeper}:/tmp/payload.bin", timeout=60)
    size = rc.kubectl("exec", sleeper, "--", "wc", "-c", "/tmp/payload.bin").stdout.split()[0]
    assert int(size) == source.stat().st_size
    back = tmp_path / "back.bin"
    rc.kubectl("cp", f"{sleeper}:/tmp/payload.bin", str(back), timeout=60)
    assert back.read_bytes() == source.read_bytes()


def test_port_forward_reaches_an_http_server_in_the_pod(rc):
    rc.apply(busybox_pod("web", "sh", "-c", "mkdir -p /www && echo forwarded page > /www/index.html && "
                                             "exec httpd -f -p 8080 -h /www",
                         container={"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}))
    rc.wait_pod("web", ready, what="Ready")
    with kubectl_process(rc, "port-forward", "--address", "127.0.0.1", "pod/web", ":8080") as proc:
        first = read_lines(proc, 1, timeout=20)
        match = re.search(r"127\.0\.0\.1:(\d+) -> 8080", first[0] if first else "")
        assert match, f"kubectl port-forward said {first!r}"
        url = f"http://127.0.0.1:{match.group(1)}/index.html"
        for _ in range(2):  # two connections through one port-forward session
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.status == 200 and resp.read() == b"forwarded page\n"
    rc.delete_pod("web", wait=False)


# -- top ----------------------------------------------------------------------------------------------

def _millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def _top_pods(rc) -> dict[str, tuple[int, str]]:
    out = rc.kubectl("top", "pod", "--no-headers", check=False)
    if out.returncode != 0:
        return {}
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    return {row[0]: (_millicores(row[1]), row[2]) for row in rows}


def test_top_pod_and_node_show_cpu_that_rises_for_a_busy_pod(rc):
    rc.apply(busybox_pod("busy", "sh", "-c", "while :; do :; done",
                         container={"resources": {"limits": {"cpu": "500m"}}}))
    rc.apply(busybox_pod("idle", "sh", "-c", "sleep 3600"))
    rc.wait_pod("busy", running, what="running")
    rc.wait_pod("idle", running, what="running")

    def busy_above_idle():
        rows = _top_pods(rc)
        if "busy" in rows and "idle" in rows and rows["busy"][0] >= 100 and rows["busy"][0] > rows["idle"][0]:
            return rows
        return None

    rows = eventually("busy's CPU above idle's in kubectl top pod", busy_above_idle, timeout=30, every=1)
    assert rows["busy"][0] <= 700, rows  # its 500m limit holds (quota), give or take a sample
    for _cpu, memory in rows.values():
        assert re.fullmatch(r"\d+Mi", memory) and int(memory[:-2]) >= 0, rows
    assert int(rows["idle"][1][:-2]) < 64, rows  # a sleeping busybox is a few hundred KiB
    node = rc.kubectl("top", "node", "--no-headers").stdout.split()
    # NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%
    assert len(node) == 5 and _millicores(node[1]) >= 100 and node[2].endswith("%"), node
    assert node[3].endswith("Mi") and node[4].endswith("%"), node
    # the machine's own use (the cluster's processes alone are hundreds of MiB), not its pods' few
    assert int(node[3][:-2]) >= 100, node
    rc.delete_pod("busy", wait=False)
    rc.delete_pod("idle", wait=False)


# -- ConfigMaps and Secrets ---------------------------------------------------------------------------

def test_config_maps_and_secrets_as_env_and_volumes_with_updates(rc):
    rc.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
              "data": {"color": "blue", "size": "large"}})
    rc.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "type": "Opaque",
              "data": {"user": base64.b64encode(b"admin").decode(), "pass": base64.b64encode(b"s3cr3t").decode()}})
    rc.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "configured"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "cfg", "configMap": {"name": "settings"}},
                    {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 0o400}}],
        "containers": [{
            "name": "main", "image": IMAGE, "command": ["sh", "-c", "sleep 3600"],
            "env": [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pass"}}}],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CM_"},
                        {"secretRef": {"name": "creds"}, "prefix": "SEC_"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"},
                             {"name": "sec", "mountPath": "/etc/sec", "readOnly": True}]}]}})
    rc.wait_pod("configured", running, what="running")
    env = dict(line.split("=", 1) for line in rc.kubectl("exec", "configured", "--", "env").stdout.splitlines()
               if "=" in line)
    assert (env["COLOR"], env["PASSWORD"]) == ("blue", "s3cr3t")
    assert (env["CM_color"], env["CM_size"], env["SEC_user"], env["SEC_pass"]) == ("blue", "large", "admin", "s3cr3t")
    files = rc.kubectl("exec", "configured", "--", "sh", "-c",
                       "cat /etc/cfg/color; echo; cat /etc/cfg/size; echo; cat /etc/sec/user; echo; "
                       "cat /etc/sec/pass; echo; stat -L -c %a /etc/sec/pass").stdout.split()
    assert files == ["blue", "large", "admin", "s3cr3t", "400"], files
    rc.kubectl("patch", "configmap", "settings", "--type=merge", "-p", '{"data":{"color":"green"}}')
    eventually("the ConfigMap update in the mounted file",
               lambda: rc.kubectl("exec", "configured", "--", "cat", "/etc/cfg/color").stdout == "green",
               timeout=40, every=1)  # the node resyncs pods every 10 s; sources are cached 5 s
    rc.delete_pod("configured", wait=False)


# -- a pod calling the apiserver ----------------------------------------------------------------------

IN_CLUSTER_CLIENT = """
import json, sys
from kubernetes import client
config = client.Configuration()
config.host = sys.argv[1]
config.api_key = {"authorization": "Bearer " + open(sys.argv[2]).read()}
config.ssl_ca_cert = sys.argv[3]
api = client.CoreV1Api(client.ApiClient(config))
try:
    names = sorted(p.metadata.name for p in api.list_namespaced_pod("default").items)
    print(json.dumps({"status": 200, "pods": names}))
except client.ApiException as e:
    print(json.dumps({"status": e.status, "message": json.loads(e.body or "{}").get("message", "")}))
"""


def _sandbox_netns(rc, pod: dict) -> str:
    """The network namespace file of the pod's running sandbox (from the runtime's records)."""
    uid = pod["metadata"]["uid"]
    for data in read_records(rc.cluster.data_dir / "state" / "sandboxes").values():
        if data["config"]["metadata"]["uid"] == uid and data.get("netns") and data.get("state") in (0, "SANDBOX_READY"):
            return data["netns"]
    raise AssertionError(f"no sandbox record for pod uid {uid}")


def test_a_pod_lists_pods_with_its_service_account_token_and_the_python_client(rc, tmp_path):
    # As on any cluster, the default service account may list pods only once RBAC says so: here a
    # RoleBinding to the default ClusterRole "view".
    rc.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "default-views"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
              "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]})
    rc.apply(busybox_pod("caller", "sh", "-c", "sleep 3600"))
    pod = rc.wait_pod("caller", running, what="running")
    token = rc.kubectl("exec", "caller", "--", "cat", f"{SA_DIR}/token").stdout
    ca = rc.kubectl("exec", "caller", "--", "cat", f"{SA_DIR}/ca.crt").stdout
    namespace = rc.kubectl("exec", "caller", "--", "cat", f"{SA_DIR}/namespace").stdout
    assert namespace == "default" and token.count(".") == 2 and "BEGIN CERTIFICATE" in ca
    # A bound token from the TokenRequest API: it expires and names the pod it was issued for.
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "system:serviceaccount:default:default" and claims["exp"] > time.time()
    assert claims["kubernetes.io"]["pod"]["name"] == "caller", claims
    env = dict(line.split("=", 1) for line in rc.kubectl("exec", "caller", "--", "env").stdout.splitlines()
               if "=" in line)
    host, port = env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]
    (tmp_path / "token").write_text(token)
    (tmp_path / "ca.crt").write_text(ca)
    (tmp_path / "client.py").write_text(IN_CLUSTER_CLIENT)
    netns = _sandbox_netns(rc, pod)
    (tmp_path / "none").write_text("apiVersion: v1\nkind: Config\n")

    def can_i(*args: str) -> str:  # kubectl with nothing but the pod's token
        out = rc.kubectl("--kubeconfig", str(tmp_path / "none"), "--server", rc.cluster.url,
                         "--certificate-authority", str(tmp_path / "ca.crt"), "--token", token,
                         "auth", "can-i", *args, check=False)
        return out.stdout.strip() or out.stderr.strip()

    assert can_i("list", "pods") == "yes"
    assert can_i("create", "pods") == "no"

    def call(token_file: Path) -> dict:
        out = subprocess.run(["nsenter", f"--net={netns}", sys.executable, str(tmp_path / "client.py"),
                              f"https://{host}:{port}", str(token_file), str(tmp_path / "ca.crt")],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout)

    # From the pod's network namespace through the kubernetes Service (the node's proxy DNATs
    # the cluster IP to the apiserver), TLS checked against the mounted CA, the token accepted:
    answer = call(tmp_path / "token")
    assert answer["status"] == 200 and "caller" in answer["pods"], answer
    (tmp_path / "forged").write_text(token[:-8] + "AAAAAAAA")
    assert call(tmp_path / "forged")["status"] == 401  # a token the apiserver did not sign is refused
    rc.delete_pod("caller", wait=False)

