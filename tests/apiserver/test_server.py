"""run_apiserver end to end: HTTPS with client certificates, system namespaces, clean stop."""

from __future__ import annotations

import asyncio
import socket
import ssl
import tempfile
from pathlib import Path

import aiohttp
import pytest

from kybernetes.apiserver.pki import ensure_cluster_pki
from kybernetes.apiserver.server import ApiServerConfig, run_apiserver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="kyb-server-") as tmp:
        yield Path(tmp)


async def test_run_apiserver_serves_https_and_stops(data_dir):
    pki = ensure_cluster_pki(data_dir / "pki", ["127.0.0.1"])
    config = ApiServerConfig(data_dir=data_dir, bind_address="127.0.0.1", port=_free_port(),
                             tls_cert_file=pki.serving_cert_file, tls_key_file=pki.serving_key_file,
                             client_ca_file=pki.ca_cert_file)
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_apiserver(config, stop=stop, on_ready=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 10)
        assert url == f"https://127.0.0.1:{config.port}"
        admin = ssl.create_default_context(cafile=str(pki.ca_cert_file))
        admin.load_cert_chain(str(pki.admin_cert_file), str(pki.admin_key_file))
        anonymous = ssl.create_default_context(cafile=str(pki.ca_cert_file))
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/readyz", ssl=anonymous) as resp:
                assert resp.status == 200
            async with session.get(url + "/api/v1/namespaces", ssl=anonymous) as resp:
                assert resp.status == 401
            async with session.get(url + "/api/v1/namespaces", ssl=admin) as resp:
                assert resp.status == 200
                names = {i["metadata"]["name"] for i in (await resp.json())["items"]}
                assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
            async with session.post(url + "/api/v1/namespaces/default/configmaps", ssl=admin,
                                    json={"metadata": {"name": "kept"}, "data": {"a": "b"}}) as resp:
                assert resp.status == 201
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert (data_dir / "state.db").exists()

    # Objects survive a restart on the same data dir.
    stop = asyncio.Event()
    ready = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_apiserver(config, stop=stop, on_ready=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 10)
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/api/v1/namespaces/default/configmaps/kept", ssl=admin) as resp:
                assert resp.status == 200
                assert (await resp.json())["data"] == {"a": "b"}
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
