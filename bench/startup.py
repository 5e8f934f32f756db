"""The first minute of a cluster: `kyb up` to a Ready node, to the first pod Running, then idle cost.

    .venv/bin/python bench/startup.py [--quick]

Figures (issue 7's goals in brackets):
- seconds from starting `kyb up` to a Ready node                            [<= 3 s]
- seconds from starting `kyb up` to the first pod Running, image present    [<= 5 s]
- RSS of every process of the cluster, idle with one node and 20 pods       [<= 400 MB total]
- CPU of those processes, idle over a minute (--quick: 15 s)                [<= 3% of one core]

The node is the real kubelet (runc containers from an image imported into the node's store
beforehand, so "image present") when `kyb up` can run one here (root, runc, conmon, the CNI
plugins); otherwise a simulated node (--sim-nodes 1, kubelet disabled) and the report says so.
The cluster runs on a temp data dir and a free port and is removed with `kyb uninstall --purge`.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KYB = str(Path(sys.executable).with_name("kyb"))
IMAGE = "docker.io/library/busybox:1.36"
PODS = 20
GOALS = {"ready_seconds": 3.0, "first_pod_seconds": 5.0, "rss_mb": 400.0, "idle_cpu_percent": 3.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_kubelet_possible() -> bool:
    return os.geteuid() == 0 and all(shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin")
                                     for b in ("runc", "conmon")) and Path("/usr/lib/cni/bridge").exists()


class Api:
    """GET/POST with the admin certificate from DATA_DIR/kubeconfig (no kubectl: its own start-up
    would be most of what is measured)."""

    def __init__(self, data: Path, tmp: Path):
        doc = yaml.safe_load((data / "kubeconfig").read_text())
        self.url = doc["clusters"][0]["cluster"]["server"]
        user = doc["users"][0]["user"]
        cert, key = tmp / "admin.crt", tmp / "admin.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        self.ctx = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
        self.ctx.load_cert_chain(str(cert), str(key))

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=5) as resp:
            return json.loads(resp.read())

    def get(self, path: str) -> dict | None:
        try:
            return self.call("GET", path)
        except (urllib.error.URLError, OSError, ValueError):
            return None


def pod(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "86400"]}]}}


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def ready_node(api: Api, real: bool) -> str:
    body = api.get("/api/v1/nodes") or {"items": []}
    for node in body["items"]:
        name = node["metadata"]["name"]
        if real == name.startswith("sim-"):
            continue
        if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", [])):
            return name
    return ""


def running(api: Api, names: list[str]) -> bool:
    body = api.get("/api/v1/namespaces/default/pods") or {"items": []}
    phases = {p["metadata"]["name"]: (p.get("status") or {}).get("phase") for p in body["items"]}
    return all(phases.get(n) == "Running" for n in names)


def processes(root_pid: int, data: Path) -> dict[int, str]:
    """kyb up, its components and (real node) the conmons and containers: pid -> component."""
    from kybernetes.util import hoststate

    pids = {int(p.split(" ", 1)[0]) for p in hoststate.snapshot([data], ["processes"]).processes}
    pids.add(root_pid)
    out = {}
    for pid in pids:
        try:
            words = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if "kybernetes.cli" in words:
            out[pid] = words[words.index("kybernetes.cli") + 1]
        elif pid == root_pid:
            out[pid] = "kyb up (supervisor)"
        else:
            out[pid] = Path(words[0]).name if words else "?"
    return out


def stat(pid: int) -> tuple[float, int]:
    """(RSS in MB, CPU ticks) of ``pid`` and its threads."""
    rss = next((int(line.split()[1]) / 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")), 0.0)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss, int(fields[11]) + int(fields[12])


def main(idle_seconds: float) -> dict:
    real = real_kubelet_possible()
    tmp = Path(tempfile.mkdtemp(prefix="kyb-bench-startup-"))
    data = tmp / "data"
    port = free_port()
    argv = [KYB, "up", "--data-dir", str(data), "--port", str(port), "--bind-address", "127.0.0.1", "-q",
            "--no-kubeconfig-merge"]
    if real:
        from tests.support.oci import build_image, busybox_layer, write_oci_archive

        archive = tmp / "busybox.tar"
        write_oci_archive(archive, build_image([busybox_layer()], cmd=["sh"]), IMAGE)
        subprocess.run([KYB, "images", "import", "--data-dir", str(data), str(archive)], check=True,
                       capture_output=True)
        argv += ["--kubelet-port", "0"]
    else:
        argv += ["--disable", "kubelet", "--sim-nodes", "1"]
    # Bytecode in place, as `make up` and any installed wheel have it (a checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise compile the project in every component, every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True, capture_output=True)
    log = open(tmp / "kyb-up.log", "wb")
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: (data / "kubeconfig").exists() and (data / "pki" / "ca.crt").exists(), 60, "kubeconfig")
        api = Api(data, tmp)
        node = wait_for(lambda: ready_node(api, real), 120, "node Ready")
        ready_seconds = time.monotonic() - start
        wait_for(lambda: (api.get(f"/api/v1/nodes/{node}") or {}).get("spec", {}).get("podCIDR") or not real,
                 60, "podCIDR")
        api.call("POST", "/api/v1/namespaces/default/pods", pod("first", node))
        wait_for(lambda: running(api, ["first"]), 120, "first pod Running")
        first_pod_seconds = time.monotonic() - start
        names = [f"idle-{i}" for i in range(PODS - 1)]
        for name in names:
            api.call("POST", "/api/v1/namespaces/default/pods", pod(name, node))
        wait_for(lambda: running(api, names), 300, f"{PODS} pods Running")
        time.sleep(5)  # let start-up churn settle
        procs = processes(proc.pid, data)
        before = {}
        for pid in procs:
            try:
                before[pid] = stat(pid)[1]
            except OSError:
                pass
        time.sleep(idle_seconds)
        hz = os.sysconf("SC_CLK_TCK")
        per: dict[str, dict[str, float]] = {}
        for pid, name in procs.items():
            try:
                rss, ticks = stat(pid)
            except OSError:
                continue
            entry = per.setdefault(name, {"count": 0, "rss_mb": 0.0, "idle_cpu_percent": 0.0})
            entry["count"] += 1
            entry["rss_mb"] = round(entry["rss_mb"] + rss, 1)
            entry["idle_cpu_percent"] = round(entry["idle_cpu_percent"]
                                              + (ticks - before.get(pid, ticks)) / hz / idle_seconds * 100, 2)
        rss_total = round(sum(e["rss_mb"] for e in per.values()), 1)
        cpu_total = round(sum(e["idle_cpu_percent"] for e in per.values()), 2)
        figures = {"ready_seconds": round(ready_seconds, 2), "first_pod_seconds": round(first_pod_seconds, 2),
                   "rss_mb": rss_total, "idle_cpu_percent": cpu_total}
        return {"node": "real kubelet (runc)" if real else "simulated (no real kubelet here)", "pods": PODS,
                "idle_seconds": idle_seconds, **figures, "processes": per,
                "goals": {k: {"goal": f"<= {v:g}", "met": figures[k] <= v} for k, v in GOALS.items()}}
    except TimeoutError as e:
        tail = (tmp / "kyb-up.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"timed out waiting for {e}\n{tail}") from None
    finally:
        subprocess.run([KYB, "uninstall", "--data-dir", str(data), "--purge", "-q", "--timeout", "20"],
                       capture_output=True, timeout=180)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="measure idle CPU over 15 s instead of 60 s")
    args = parser.parse_args()
    result = main(15.0 if args.quick else 60.0)
    print(f"node: {result['node']}")
    for key in GOALS:
        goal = result["goals"][key]
        print(f"{key:<20} {result[key]:>8}   goal {goal['goal']:<8} {'ok' if goal['met'] else 'MISSED'}")
    for name, entry in sorted(result["processes"].items()):
        print(f"  {name:<22} x{entry['count']:<3} {entry['rss_mb']:>8} MB  {entry['idle_cpu_percent']:>6}% cpu")
    print(json.dumps(result))
