"""The pinned kubectl's ``drain``: cordon, then evictions that respect a PodDisruptionBudget.

The server runs in this test's event loop on 127.0.0.1 (free port, plain HTTP, every request an
admin); kubectl runs as a subprocess with its own kubeconfig and cache in a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.local_kubectl import anonymous_admin_apiserver, run_kubectl

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def cluster():
    async with anonymous_admin_apiserver("kyb-drain-") as folder:
        yield folder


async def kubectl(folder: Path, *args: str) -> tuple[int, str]:
    return await run_kubectl(folder, *args)


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
