"""An in-process cluster for streaming tests: a TLS apiserver, one simulated node whose kubelet
server (TLS, client certificates) fronts a fake runtime writing logs, and a kubeconfig for the
real kubectl. Everything is on 127.0.0.1 with free ports and lives in one temp dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.apiserver.pki import ensure_cluster_pki, issue_serving_cert
from kybernetes.apiserver.server import ApiServerConfig, run_apiserver
from kybernetes.client import ApiClient
from kybernetes.client.kubeconfig import admin_kubeconfig, write_kubeconfig
from kybernetes.client.resource import PODS
from kybernetes.kubelet.node_group import NodeGroup
from kybernetes.kubelet.server import server_ssl_context
from kybernetes.kubelet.simulated import SimulationConfig, build_simulation

KUBECTL = str(Path(sys.executable).parent / "kubectl")


@dataclass
class StreamingCluster:
    root: Path
    url: str
    kubeconfig: Path
    client: ApiClient
    group: NodeGroup
    node: str

    def env(self) -> dict[str, str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.root / "kube-cache"),
               "NO_PROXY": "127.0.0.1,localhost"}
        for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            env.pop(key, None)
        return env

    async def kubectl(self, *args: str, input: bytes | None = None, timeout: float = 30.0) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            KUBECTL, *args, env=self.env(), stdin=asyncio.subprocess.PIPE if input is not None else
            asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(input), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    async def create_pod(self, name: str, containers: list[dict[str, Any]], *, annotations: dict | None = None,
                         restart_policy: str = "Always", wait_running: bool = True) -> dict:
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
               "spec": {"nodeName": self.node, "restartPolicy": restart_policy,
                        "containers": [{"image": "busybox:1.36", **c} for c in containers]}}
        await self.client.create(PODS, pod, "default")
        if wait_running:
            await self.wait_pod(name, lambda p: (p.get("status") or {}).get("phase") == "Running")
        return pod

    async def wait_pod(self, name: str, predicate, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            pod = await self.client.get(PODS, name, "default")
            if predicate(pod):
                return pod
            if time.monotonic() > deadline:
                raise AssertionError(f"pod {name} did not get there: {pod.get('status')}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def streaming_cluster() -> AsyncIterator[StreamingCluster]:
    root = Path(tempfile.mkdtemp(prefix="kyb-streaming-"))
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []
    client: ApiClient | None = None
    try:
        pki = ensure_cluster_pki(root / "pki", ["127.0.0.1"])
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        config = ApiServerConfig(data_dir=root, bind_address="127.0.0.1", port=0, store_url="sqlite://:memory:",
                                 tls_cert_file=pki.serving_cert_file, tls_key_file=pki.serving_key_file,
                                 client_ca_file=pki.ca_cert_file)
        tasks.append(asyncio.create_task(run_apiserver(config, stop=stop, on_ready=lambda u: ready.done() or
                                                       ready.set_result(u))))
        url = await asyncio.wait_for(ready, 10)
        kubeconfig = root / "kubeconfig"
        write_kubeconfig(kubeconfig, admin_kubeconfig(url, pki.ca.cert_pem, pki.admin_cert_file.read_bytes(),
                                                      pki.admin_key_file.read_bytes()))
        client = ApiClient.from_kubeconfig(kubeconfig)
        serving = issue_serving_cert(pki.ca, ["127.0.0.1"])
        (root / "kubelet.crt").write_bytes(serving.cert_pem)
        (root / "kubelet.key").write_bytes(serving.key_pem)
        ctx: ssl.SSLContext = server_ssl_context(root / "kubelet.crt", root / "kubelet.key", pki.ca_cert_file)
        group = await build_simulation(client, SimulationConfig(count=1, name_prefix="stream-node-",
                                                                stop_seconds=0.05, events=False))
        group.enable_server(address="127.0.0.1", port=0, ssl_context=ctx, advertise_address="127.0.0.1",
                            log_root=str(root / "logs"))
        tasks.append(asyncio.create_task(group.run()))
        assert await group.wait_registered(10), "the simulated node did not register"
        yield StreamingCluster(root, url, kubeconfig, client, group, "stream-node-0")
    finally:
        for task in reversed(tasks):
            if task is tasks[0]:
                stop.set()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
            else:
                task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task
        if client is not None:
            await client.close()
        shutil.rmtree(root, ignore_errors=True)
