"""The apiserver's checks before it proxies to a kubelet, and its WebSocket leg (ping/pong)."""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import PODS
from tests.apiserver.streaming_cluster import streaming_cluster

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def cluster():
    async with streaming_cluster() as c:
        yield c


async def _status(cluster, path: str) -> tuple[int, str]:
    try:
        await cluster.client.request("GET", path)
    except ApiError as e:
        return e.code, e.message
    return 200, ""


async def test_checks_before_proxying(cluster):
    base = "/api/v1/namespaces/default/pods"
    assert (await _status(cluster, f"{base}/ghost/log"))[0] == 404
    await cluster.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unbound"},
                                       "spec": {"containers": [{"name": "a", "image": "busybox"},
                                                               {"name": "b", "image": "busybox"}]}}, "default")
    code, message = await _status(cluster, f"{base}/unbound/log")
    assert code == 400 and "a container name must be specified for pod unbound, choose one of: [a b]" in message
    code, message = await _status(cluster, f"{base}/unbound/log?container=a")
    assert code == 400 and "does not have a host assigned" in message
    code, message = await _status(cluster, f"{base}/unbound/log?container=a&tailLines=x")
    assert code == 400
    await cluster.create_pod("done", [{"name": "c"}], annotations={"sim.kybernetes.io/run-seconds": "0"},
                             restart_policy="Never", wait_running=False)
    await cluster.wait_pod("done", lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    code, out, err = await cluster.kubectl("exec", "done", "--", "true")
    assert code != 0 and "completed pod" in err


async def test_websocket_ping_gets_a_pong_through_the_apiserver(cluster):
    await cluster.create_pod("pinged", [{"name": "c"}])
    ctx = ssl.create_default_context(cafile=str(cluster.root / "pki" / "ca.crt"))
    ctx.load_cert_chain(str(cluster.root / "pki" / "admin.crt"), str(cluster.root / "pki" / "admin.key"))
    url = f"{cluster.url}/api/v1/namespaces/default/pods/pinged/exec"
    params = [("command", "sleep"), ("command", "1"), ("container", "c"), ("stdout", "true")]
    async with aiohttp.ClientSession() as s, s.ws_connect(url, params=params, ssl=ctx, protocols=("v5.channel.k8s.io",),
                                                          autoping=False) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        await ws.ping(b"kubectl pings every 5 s")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.PONG and msg.data == b"kubectl pings every 5 s"


async def test_metrics_group_is_discovered(cluster):
    code, out, err = await cluster.kubectl("api-resources", "--api-group=metrics.k8s.io")
    assert code == 0, err
    assert "PodMetrics" in out and "NodeMetrics" in out
