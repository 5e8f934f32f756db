"""The kubelet server over TLS with client certificates, on a fake runtime: who may call it,
exec over the v5 channel protocol (with ping/pong), errors on the status channel, stats."""

from __future__ import annotations

import json
import ssl

import aiohttp
import pytest

from kybernetes.apiserver.pki import issue_client_cert, issue_serving_cert, new_certificate_authority
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.fake import FakeRuntime
from kybernetes.kubelet.server import KubeletServer, Node, server_ssl_context
from kybernetes.util import websocket_channels as wsc


def _client_ctx(ca, tmp_path, cn: str, groups=()) -> ssl.SSLContext:
    issued = issue_client_cert(ca, cn, list(groups))
    (tmp_path / f"{cn}.crt").write_bytes(issued.cert_pem)
    (tmp_path / f"{cn}.key").write_bytes(issued.key_pem)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(tmp_path / f"{cn}.crt"), str(tmp_path / f"{cn}.key"))
    return ctx


@pytest.fixture
async def served(tmp_path):
    ca = new_certificate_authority()
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    serving = issue_serving_cert(ca, ["127.0.0.1"])
    (tmp_path / "k.crt").write_bytes(serving.cert_pem)
    (tmp_path / "k.key").write_bytes(serving.key_pem)
    runtime = FakeRuntime(log_root=str(tmp_path / "logs"), node_name="n1")
    await runtime.images.pull_image(cri.ImageSpec("busybox"))
    labels = {cri.POD_NAMESPACE_LABEL: "ns", cri.POD_NAME_LABEL: "p", cri.POD_UID_LABEL: "u1"}
    sandbox_config = cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u1", "ns"), hostname="p", labels=labels,
                                          annotations={"sim.kybernetes.io/cpu-usage": "500m"})
    sandbox = await runtime.run_pod_sandbox(sandbox_config)
    container = await runtime.create_container(sandbox, cri.ContainerConfig(
        cri.ContainerMetadata("c"), cri.ImageSpec("busybox"), command=("echo", "started"),
        labels={**labels, cri.CONTAINER_NAME_LABEL: "c"}), sandbox_config)
    await runtime.start_container(container)
    server = KubeletServer(lambda: [Node("n1", runtime)], address="127.0.0.1", port=0,
                           ssl_context=server_ssl_context(tmp_path / "k.crt", tmp_path / "k.key", tmp_path / "ca.crt"))
    port = await server.start()
    try:
        yield f"https://127.0.0.1:{port}", ca, runtime
    finally:
        await server.stop()


async def test_only_the_apiserver_may_call(served, tmp_path):
    url, ca, _ = served
    cases = [(_client_ctx(ca, tmp_path, "kube-apiserver-kubelet-client"), 200),
             (_client_ctx(ca, tmp_path, "admin", ["system:masters"]), 200),
             (_client_ctx(ca, tmp_path, "someone", ["developers"]), 403)]
    for ctx, expected in cases:
        async with aiohttp.ClientSession() as s, s.get(f"{url}/containerLogs/ns/p/c", ssl=ctx) as resp:
            assert resp.status == expected
            if expected == 200:
                assert await resp.text() == "started\n"
    anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    anonymous.check_hostname = False
    with pytest.raises(aiohttp.ClientError):  # no client certificate: the handshake fails
        async with aiohttp.ClientSession() as s, s.get(f"{url}/stats/summary", ssl=anonymous) as resp:
            await resp.read()


async def test_exec_channels_ping_and_status(served, tmp_path):
    url, ca, _ = served
    ctx = _client_ctx(ca, tmp_path, "kube-apiserver-kubelet-client")
    params = [("command", "sh"), ("command", "-c"), ("command", "cat; echo oops >&2; exit 5"),
              ("input", "1"), ("output", "1"), ("error", "1")]
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{url}/exec/ns/p/c", params=params, ssl=ctx,
                                                          protocols=(wsc.V5,), autoping=False) as ws:
        assert ws.protocol == wsc.V5
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=5)
        assert pong.type == aiohttp.WSMsgType.PONG
        await ws.send_bytes(wsc.encode(wsc.STDIN, b"echoed"))
        await ws.send_bytes(bytes([wsc.CLOSE, wsc.STDIN]))
        got: dict[int, bytes] = {}
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                frame = wsc.decode(msg.data)
                got[frame.channel] = got.get(frame.channel, b"") + frame.data
    assert got[wsc.STDOUT] == b"echoed" and got[wsc.STDERR] == b"oops\n"
    assert json.loads(got[wsc.STATUS])["details"]["causes"][0]["message"] == "5"


async def test_errors_arrive_on_the_status_channel(served, tmp_path):
    url, ca, _ = served
    ctx = _client_ctx(ca, tmp_path, "kube-apiserver-kubelet-client")
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{url}/exec/ns/p/missing", params=[
            ("command", "true"), ("output", "1")], ssl=ctx, protocols=(wsc.V5,)) as ws:
        msg = await ws.receive(timeout=5)
        frame = wsc.decode(msg.data)
        assert frame.channel == wsc.STATUS
        assert 'container "missing" in pod "p" is not available' in json.loads(frame.data)["message"]


async def test_stats_summary_and_resource_metrics(served, tmp_path):
    url, ca, _ = served
    ctx = _client_ctx(ca, tmp_path, "kube-apiserver-kubelet-client")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/stats/summary", ssl=ctx) as resp:
            summary = await resp.json()
        async with s.get(f"{url}/metrics/resource", ssl=ctx) as resp:
            metrics = await resp.text()
    assert summary["node"]["nodeName"] == "n1"
    pod = summary["pods"][0]
    assert pod["podRef"] == {"name": "p", "namespace": "ns", "uid": "u1"}
    assert abs(pod["containers"][0]["cpu"]["usageNanoCores"] - 500_000_000) < 5_000_000
    assert pod["containers"][0]["memory"]["workingSetBytes"] == 4 * 1024 * 1024
    assert 'container_memory_working_set_bytes{container="c",namespace="ns",pod="p"} 4194304' in metrics
