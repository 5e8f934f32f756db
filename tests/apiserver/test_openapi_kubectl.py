"""The pinned kubectl against the apiserver with /openapi/v3: explain, and writes that validate.

Without OpenAPI, ``kubectl create -f`` / ``apply`` fail with "failed to download openapi" unless
given --validate=false; with it they hand validation to the server (?fieldValidation=Strict).
The server runs in this test's event loop on 127.0.0.1 (free port, plain HTTP, every request an
admin); kubectl runs as a subprocess with its own kubeconfig and cache in a temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.openapi import OPENAPI_KEY, setup_openapi
from kybernetes.apiserver.server import ApiServerConfig, build_app
from kybernetes.store import open_store
from tests.support.local_kubectl import require_kubectl, run_kubectl, write_kubeconfig

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  containers: [{name: c, image: nginx}]
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


class Kubectl:
    def __init__(self, folder: Path, url: str):
        self.folder = folder
        self.kubeconfig = write_kubeconfig(folder, url, namespace="")

    async def __call__(self, *args: str) -> tuple[int, str]:
        return await run_kubectl(self.folder, *args)


@pytest.fixture
async def cluster():
    require_kubectl()
    with tempfile.TemporaryDirectory(prefix="kyb-openapi-") as tmp:
        store = await open_store("sqlite://:memory:")
        try:
            registry = builtin_registry()
            config = ApiServerConfig(data_dir=Path(tmp), bind_address="127.0.0.1", port=0, anonymous_admin=True)
            app = build_app(config, store, registry)
            if OPENAPI_KEY not in app:  # until build_app wires it itself
                setup_openapi(app, registry)
            seen: list[str] = []

            async def record(request: web.Request, response: web.StreamResponse) -> None:
                seen.append(f"{request.method} {request.path_qs} {response.status}")

            app.on_response_prepare.append(record)
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            try:
                kubectl = Kubectl(Path(tmp), str(server.make_url("")).rstrip("/"))
                kubectl.seen = seen
                yield kubectl
            finally:
                await server.close()
        finally:
            await store.close()


async def test_kubectl_explain_reads_the_documents(cluster):
    code, out = await cluster("explain", "pod.spec.containers")
    assert code == 0, out
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out
    code, out = await cluster("explain", "deployments.spec.strategy")
    assert code == 0, out
    assert "GROUP:      apps" in out and "<DeploymentStrategy>" in out and "rollingUpdate" in out
    code, out = await cluster("explain", "pod.spec.nope")
    assert code != 0 and 'field "nope" does not exist' in out


async def test_create_and_apply_validate_through_the_server(cluster, tmp_path):
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    code, out = await cluster("create", "-f", str(tmp_path / "pod.yaml"))
    assert code == 0, out
    assert "pod/p1 created" in out
    code, out = await cluster("apply", "-f", str(tmp_path / "deploy.yaml"))
    assert code == 0, out
    assert "deployment.apps/web created" in out
    writes = [line for line in cluster.seen if line.startswith("POST ")]
    assert writes and all("fieldValidation=Strict" in line for line in writes), writes
    assert any(line.startswith("GET /openapi/v3/api/v1?hash=") and line.endswith(" 200") for line in cluster.seen)
