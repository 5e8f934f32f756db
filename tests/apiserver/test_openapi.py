"""/openapi/v3 over HTTP: the index, the per group/version documents and their caching.

The app under test is a bare aiohttp app with the Status error boundary and setup_openapi, served
on 127.0.0.1 with a free port. The checks mirror what kubectl reads: cli-runtime's query param
verifier (a patch operation with the kind's GVK and an inline fieldValidation parameter) and the
explain templates (a schema in components.schemas carrying x-kubernetes-group-version-kind).
"""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.registry import ResourceInfo, SubresourceInfo
from kybernetes.apiserver import openapi as openapi_module
from kybernetes.apiserver.openapi import OPENAPI_KEY, setup_openapi
from kybernetes.apiserver.openapi_paths import gv_path
from kybernetes.apiserver.openapi_schemas import SchemasUnavailableError
from kybernetes.apiserver.responses import status_errors_middleware

CRONTAB = ResourceInfo(group="stable.example.com", version="v1", resource="crontabs", kind="CronTab",
                       singular="crontab", namespaced=True,
                       subresources=(SubresourceInfo("status", "CronTab", "stable.example.com", "v1",
                                                     ("get", "patch", "update")),))


class Client:
    def __init__(self, server: TestServer, session: ClientSession, app: web.Application):
        self.url = str(server.make_url("")).rstrip("/")
        self.session = session
        self.app = app

    async def get(self, path: str, headers: dict[str, str] | None = None, allow_redirects: bool = True):
        async with self.session.get(self.url + path, headers=headers or {},
                                    allow_redirects=allow_redirects) as resp:
            raw = await resp.read()
            body = orjson.loads(raw) if raw and "json" in resp.headers.get("Content-Type", "") else raw
            return resp.status, resp.headers, body

    async def document(self, path: str) -> dict:
        status, _, index = await self.get("/openapi/v3")
        assert status == 200
        status, _, doc = await self.get(index["paths"][path]["serverRelativeURL"])
        assert status == 200
        return doc


@pytest.fixture
async def client():
    registry = builtin_registry()
    app = web.Application(middlewares=[status_errors_middleware])
    setup_openapi(app, registry)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as session:
            yield Client(server, session, app)
    finally:
        await server.close()


def patch_supports_field_validation(doc: dict, group: str, version: str, kind: str) -> bool:
    """What kubectl's query param verifier decides: the first patch op with the GVK must list it."""
    for item in doc["paths"].values():
        op = item.get("patch")
        if op is None or op.get("x-kubernetes-group-version-kind") != {"group": group, "version": version, "kind": kind}:
            continue
        return any(p.get("name") == "fieldValidation" for p in op.get("parameters", []))
    return False


def check_openapi_3_0(schema: dict, where: str) -> None:
    """Walk schema positions only (a property may be named "type" or "$ref")."""
    if "type" in schema:
        assert isinstance(schema["type"], str), (where, schema["type"])
    if "$ref" in schema:
        assert set(schema) == {"$ref"}, where  # OpenAPI 3.0 ignores the siblings of a $ref
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            check_openapi_3_0(schema[key], f"{where}/{key}")
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            check_openapi_3_0(sub, f"{where}/{key}")
    for name, sub in schema.get("properties", {}).items():
        check_openapi_3_0(sub, f"{where}.{name}")


async def test_index_lists_every_group_version_with_a_hash(client):
    status, headers, index = await client.get("/openapi/v3")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    registry = client.app[OPENAPI_KEY].registry
    expected = {gv_path(g.name, v) for g in registry.groups() for v in g.versions}
    assert set(index["paths"]) == expected
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/autoscaling/v2"} <= set(index["paths"])
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]{128}", url)
    _, _, again = await client.get("/openapi/v3")
    assert again == index  # stable


async def test_apps_v1_document_has_deployment_schema_and_patch_with_field_validation(client):
    doc = await client.document("apis/apps/v1")
    assert doc["openapi"] == "3.0.0"
    assert doc["info"]["title"]
    schemas = doc["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "version": "v1", "kind": "Deployment"}]
    assert deployment["type"] == "object"
    assert "enum" not in deployment["properties"]["apiVersion"]
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    names = {p["name"] for p in patch["parameters"]}
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= names
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    assert set(item) >= {"get", "put", "patch", "delete"}
    collection = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert collection["post"]["operationId"] == "createAppsV1NamespacedDeployment"
    assert {p["name"] for p in collection["post"]["parameters"]} == {"fieldValidation", "dryRun", "fieldManager"}
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert doc["paths"]["/apis/apps/v1/deployments"]["get"]["operationId"] == "listAppsV1DeploymentForAllNamespaces"
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas


async def test_every_ref_resolves_and_types_are_openapi_3_0(client):
    _, _, index = await client.get("/openapi/v3")
    for path, entry in index["paths"].items():
        status, _, doc = await client.get(entry["serverRelativeURL"])
        assert status == 200, path
        schemas = doc["components"]["schemas"]
        raw = orjson.dumps(doc).decode()
        refs = set(re.findall(r'"\$ref":"([^"]+)"', raw))
        assert refs, path
        for ref in refs:
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in schemas, (path, ref)
        assert "#/$defs/" not in raw

        for name, schema in schemas.items():
            check_openapi_3_0(schema, f"{path}: {name}")


async def test_every_patchable_kind_lets_kubectl_skip_client_validation(client):
    registry = client.app[OPENAPI_KEY].registry
    docs: dict[str, dict] = {}
    for info in registry:
        if "patch" not in info.verbs:
            continue
        path = gv_path(info.group, info.version)
        if path not in docs:
            docs[path] = await client.document(path)
        assert patch_supports_field_validation(docs[path], info.group, info.version, info.kind), info.kind
        # explain finds the kind's schema by GVK
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        assert any(gvk in s.get("x-kubernetes-group-version-kind", [])
                   for s in docs[path]["components"]["schemas"].values()), info.kind


async def test_core_v1_document_follows_pod_spec_like_explain(client):
    doc = await client.document("api/v1")
    paths = doc["paths"]
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}"]["get"]["operationId"] == "readCoreV1NamespacedPod"
    assert paths["/api/v1/namespaces/{name}"]["get"]["operationId"] == "readCoreV1Namespace"
    assert paths["/api/v1/nodes/{name}/status"]["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Node"
    exec_op = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["get"]
    assert exec_op["x-kubernetes-action"] == "connect"
    assert "/api/v1/pods" in paths and "post" not in paths["/api/v1/pods"]
    schemas = doc["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    spec_ref = pod["properties"]["spec"]["allOf"][0]["$ref"]
    spec = schemas[spec_ref.rsplit("/", 1)[1]]
    containers = spec["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    container = schemas[containers["items"]["$ref"].rsplit("/", 1)[1]]
    assert container["properties"]["image"]["type"] == "string"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"


async def test_current_hash_is_immutable_stale_hash_redirects(client):
    _, _, index = await client.get("/openapi/v3")
    url = index["paths"]["apis/batch/v1"]["serverRelativeURL"]
    status, headers, body = await client.get(url)
    assert status == 200
    assert headers["Cache-Control"] == "public, immutable"
    assert "Expires" in headers
    etag = headers["ETag"]
    assert etag == f'"{url.rsplit("=", 1)[1]}"'
    status, headers, _ = await client.get(url, headers={"If-None-Match": etag})
    assert status == 304
    status, headers, _ = await client.get("/openapi/v3/apis/batch/v1?hash=0BAD", allow_redirects=False)
    assert status == 301
    assert headers["Location"] == url
    status, headers, unhashed = await client.get("/openapi/v3/apis/batch/v1")
    assert status == 200 and unhashed == body
    assert "immutable" not in headers.get("Cache-Control", "")


async def test_unknown_group_version_is_404_status(client):
    for path in ("/openapi/v3/apis/nope/v1", "/openapi/v3/api/v2", "/openapi/v3/"):
        status, headers, body = await client.get(path)
        assert status == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404


async def test_protobuf_only_accept_is_406(client):
    status, _, body = await client.get(
        "/openapi/v3/api/v1", headers={"Accept": "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"})
    assert status == 406 and body["reason"] == "NotAcceptable"
    status, _, _ = await client.get("/openapi/v3/api/v1", headers={"Accept": "application/json, */*"})
    assert status == 200


async def test_concurrent_cold_requests_build_once_and_agree(client):
    _, _, index = await client.get("/openapi/v3")
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    results = await asyncio.gather(*(client.get(url) for _ in range(5)))
    assert all(status == 200 for status, _, _ in results)
    assert len({orjson.dumps(body) for _, _, body in results}) == 1
    docs = client.app[OPENAPI_KEY]
    assert set(docs.build_seconds) == {"api/v1"}


async def test_custom_resources_appear_with_an_open_schema_and_can_get_a_real_one(client):
    docs = client.app[OPENAPI_KEY]
    _, _, before = await client.get("/openapi/v3")
    docs.registry.register(CRONTAB)
    _, _, index = await client.get("/openapi/v3")
    assert "apis/stable.example.com/v1" in index["paths"]
    assert index["paths"]["api/v1"] == before["paths"]["api/v1"]  # other hashes stay
    doc = await client.document("apis/stable.example.com/v1")
    assert patch_supports_field_validation(doc, "stable.example.com", "v1", "CronTab")
    schemas = doc["components"]["schemas"]
    crontab = schemas["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-preserve-unknown-fields"] is True
    assert crontab["x-kubernetes-group-version-kind"] == [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}]
    assert schemas["com.example.stable.v1.CronTabList"]["properties"]["items"]["items"]["$ref"].endswith(".CronTab")
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    patch = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert patch["operationId"] == "patchStableExampleComV1NamespacedCronTab"

    old_url = index["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"]
    docs.set_custom_schema("stable.example.com", "v1", "CronTab", {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}})
    _, _, index = await client.get("/openapi/v3")
    assert index["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"] != old_url
    doc = await client.document("apis/stable.example.com/v1")
    crontab = doc["components"]["schemas"]["com.example.stable.v1.CronTab"]
    assert crontab["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    assert "x-kubernetes-preserve-unknown-fields" not in crontab
    assert {"apiVersion", "kind", "metadata"} <= set(crontab["properties"])

    docs.registry.unregister("stable.example.com", "v1", "crontabs")
    status, _, _ = await client.get("/openapi/v3/apis/stable.example.com/v1")
    assert status == 404


async def test_missing_schema_package_is_a_clear_503(monkeypatch):
    def unavailable():
        raise SchemasUnavailableError("the Python package 'kubernetes_validate' is not installed")

    monkeypatch.setattr(openapi_module, "default_library", unavailable)
    app = web.Application(middlewares=[status_errors_middleware])
    setup_openapi(app, builtin_registry())
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession() as session:
            client = Client(server, session, app)
            status, _, index = await client.get("/openapi/v3")
            assert status == 200 and "api/v1" in index["paths"]
            status, _, body = await client.get("/openapi/v3/api/v1")
            assert status == 503
            assert body["kind"] == "Status" and "kubernetes_validate" in body["message"]
    finally:
        await server.close()
