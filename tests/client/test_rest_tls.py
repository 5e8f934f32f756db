"""ApiClient over HTTPS from an admin kubeconfig: CA verified, client certificate presented."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.apiserver.pki import ensure_cluster_pki
from kybernetes.apiserver.server import ApiServerConfig, run_apiserver
from kybernetes.client.kubeconfig import admin_kubeconfig, write_kubeconfig
from kybernetes.client.resource import NAMESPACES
from kybernetes.client.rest import ApiClient


@pytest.fixture
async def https_apiserver():
    with tempfile.TemporaryDirectory(prefix="kyb-client-tls-") as tmp:
        data_dir = Path(tmp)
        pki = ensure_cluster_pki(data_dir / "pki", ["127.0.0.1"])
        config = ApiServerConfig(data_dir=data_dir, bind_address="127.0.0.1", port=0,
                                 store_url="sqlite://:memory:", tls_cert_file=pki.serving_cert_file,
                                 tls_key_file=pki.serving_key_file, client_ca_file=pki.ca_cert_file)
        stop = asyncio.Event()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_apiserver(config, stop=stop, on_ready=ready.set_result))
        try:
            url = await asyncio.wait_for(ready, 10)
            yield url, pki, data_dir
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def test_admin_kubeconfig_over_tls(https_apiserver):
    url, pki, data_dir = https_apiserver
    ca = pki.ca_cert_file.read_bytes()
    path = data_dir / "admin.conf"
    write_kubeconfig(path, admin_kubeconfig(url, ca, pki.admin_cert_file.read_bytes(),
                                            pki.admin_key_file.read_bytes()))
    async with ApiClient.from_kubeconfig(path) as client:
        names = {n["metadata"]["name"] for n in (await client.list(NAMESPACES))["items"]}
        assert "kube-system" in names
    # The same CA but no client certificate: the server does not know who we are.
    async with ApiClient(url, ssl_context=_ca_only(ca), qps=0) as anonymous:
        with pytest.raises(ApiError) as e:
            await anonymous.list(NAMESPACES)
        assert e.value.code == 401


def _ca_only(ca: bytes):
    import ssl

    return ssl.create_default_context(cadata=ca.decode())
