"""Discovery and health over HTTP: the shapes kubectl depends on (see kubectl-wire.md)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes import KUBERNETES_VERSION
from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.discovery import setup_discovery, wants_aggregated
from kybernetes.apiserver.health import READINESS_KEY, health_checks, setup_health

pytestmark = pytest.mark.timeout(30)

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = ("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  f"{AGG_V2},{AGG_V2BETA1},application/json")


class Client:
    def __init__(self, url: str, session: aiohttp.ClientSession):
        self.url, self.session = url, session

    async def get(self, path: str, accept: str = "application/json", headers: dict | None = None):
        async with self.session.get(self.url + path, headers={"Accept": accept, **(headers or {})}) as r:
            body = await r.read()
            return r.status, r.headers, body


@pytest.fixture
async def client():
    registry = builtin_registry()
    app = web.Application()
    setup_discovery(app, registry)
    setup_health(app)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        c = Client(str(server.make_url("")).rstrip("/"), session)
        c.app, c.registry = app, registry
        yield c
    finally:
        await session.close()
        await server.close()


async def test_version_reports_a_real_release(client):
    status, headers, body = await client.get("/version?timeout=5s")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    doc = orjson.loads(body)
    assert doc["gitVersion"] == KUBERNETES_VERSION
    assert doc["major"] == "1" and doc["minor"] == KUBERNETES_VERSION.split(".")[1]
    for key in ("gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"):
        assert doc[key]


async def test_legacy_api_and_apis(client):
    status, _, body = await client.get("/api")
    doc = orjson.loads(body)
    assert status == 200 and doc["kind"] == "APIVersions" and doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"
    assert doc["serverAddressByClientCIDRs"][0]["serverAddress"].startswith("127.0.0.1:")

    status, headers, body = await client.get("/apis")
    doc = orjson.loads(body)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert doc["kind"] == "APIGroupList"
    names = [g["name"] for g in doc["groups"]]
    assert names[:3] == ["apps", "events.k8s.io", "authentication.k8s.io"]
    assert names.index("admissionregistration.k8s.io") < names.index("apiextensions.k8s.io")
    autoscaling = next(g for g in doc["groups"] if g["name"] == "autoscaling")
    assert autoscaling["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]

    status, _, body = await client.get("/apis/apps")
    doc = orjson.loads(body)
    assert doc["kind"] == "APIGroup" and doc["name"] == "apps"
    assert (await client.get("/apis/nope.example.com"))[0] == 404
    assert (await client.get("/apis/apps/v9"))[0] == 404


async def test_resource_lists_have_what_kubectl_needs(client):
    _, _, body = await client.get("/api/v1")
    core = orjson.loads(body)
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    pods = by_name["pods"]
    assert pods["kind"] == "Pod" and pods["namespaced"] is True and pods["singularName"] == "pod"
    assert "po" in pods["shortNames"] and pods["categories"] == ["all"]
    assert set(pods["verbs"]) >= {"create", "get", "list", "watch", "delete", "patch", "update"}
    assert pods["storageVersionHash"]
    assert by_name["pods/status"]["kind"] == "Pod" and by_name["pods/status"]["verbs"]
    for name, short in (("services", "svc"), ("namespaces", "ns"), ("nodes", "no"), ("configmaps", "cm")):
        assert short in by_name[name]["shortNames"]
    assert by_name["namespaces"]["namespaced"] is False

    _, _, body = await client.get("/apis/apps/v1")
    apps = {r["name"]: r for r in orjson.loads(body)["resources"]}
    assert "deploy" in apps["deployments"]["shortNames"]
    scale = apps["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")

    # Every registered resource is listed in its group/version document, with verbs.
    for info in client.registry:
        path = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
        _, _, body = await client.get(path)
        listed = {r["name"]: r for r in orjson.loads(body)["resources"]}
        assert info.resource in listed, path
        assert listed[info.resource]["kind"] == info.kind
        assert listed[info.resource]["verbs"] == list(info.verbs)


async def test_aggregated_discovery_content_type_and_shape(client):
    status, headers, body = await client.get("/apis", accept=KUBECTL_ACCEPT)
    assert status == 200
    assert headers["Content-Type"] == AGG_V2
    doc = orjson.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    groups = {g["metadata"]["name"]: g for g in doc["items"]}
    assert "" not in groups and "apps" in groups
    apps_v1 = groups["apps"]["versions"][0]
    assert apps_v1["version"] == "v1" and apps_v1["freshness"] == "Current"
    deploy = next(r for r in apps_v1["resources"] if r["resource"] == "deployments")
    assert deploy["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert deploy["scope"] == "Namespaced" and deploy["singularResource"] == "deployment"
    assert deploy["shortNames"] == ["deploy"] and deploy["categories"] == ["all"]
    subs = {s["subresource"]: s for s in deploy["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    for group in doc["items"]:
        for version in group["versions"]:
            for r in version["resources"]:
                assert r["responseKind"]["kind"] and r["verbs"], r

    status, headers, body = await client.get("/api", accept=KUBECTL_ACCEPT)
    doc = orjson.loads(body)
    assert headers["Content-Type"] == AGG_V2
    assert [g["metadata"]["name"] for g in doc["items"]] == [""]
    pods = next(r for r in doc["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert "po" in pods["shortNames"]


async def test_aggregated_v2beta1_and_etag(client):
    status, headers, body = await client.get("/apis", accept=f"{AGG_V2BETA1},application/json")
    assert headers["Content-Type"] == AGG_V2BETA1
    assert orjson.loads(body)["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    etag = headers["ETag"]
    status, headers, body = await client.get("/apis", accept=AGG_V2BETA1, headers={"If-None-Match": etag})
    assert status == 304 and body == b""


async def test_registry_changes_show_up(client):
    _, _, before = await client.get("/apis", accept=AGG_V2)
    client.registry.register(ResourceInfo(group="example.com", version="v1", resource="widgets",
                                          kind="Widget", singular="widget", namespaced=True,
                                          short_names=("wd",)))
    _, headers, after = await client.get("/apis", accept=AGG_V2)
    names = [g["metadata"]["name"] for g in orjson.loads(after)["items"]]
    assert names[-1] == "example.com" and before != after
    status, _, body = await client.get("/apis/example.com/v1")
    assert status == 200 and orjson.loads(body)["resources"][0]["shortNames"] == ["wd"]


def test_accept_parsing():
    assert wants_aggregated(KUBECTL_ACCEPT) == "v2"
    assert wants_aggregated(f"{AGG_V2BETA1},{AGG_V2}") == "v2beta1"
    assert wants_aggregated("application/json") is None
    assert wants_aggregated("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;"
                            "as=APIGroupDiscoveryList") is None
    assert wants_aggregated("") is None


async def test_health_endpoints(client):
    for path in ("/healthz", "/livez"):
        status, headers, body = await client.get(path)
        assert status == 200 and body == b"ok" and headers["Content-Type"].startswith("text/plain")
    status, _, body = await client.get("/readyz?verbose")
    assert status == 500 and b"[-]poststarthook/system-namespaces-ready failed" in body
    assert body.endswith(b"readyz check failed\n")
    health_checks(client.app).set_ready()
    status, _, body = await client.get("/readyz")
    assert status == 200 and body == b"ok"
    status, _, body = await client.get("/readyz?verbose")
    assert status == 200 and b"[+]ping ok" in body and body.endswith(b"readyz check passed\n")
    assert (await client.get("/readyz/ping"))[2] == b"ok"
    assert (await client.get("/livez/nope"))[0] == 404
    health_checks(client.app).mark_shutting_down()
    assert (await client.get("/readyz"))[0] == 500
    assert (await client.get("/readyz?exclude=shutdown"))[0] == 200


async def test_readiness_callable_from_app_state():
    app = web.Application()
    state = {"ready": False}

    async def ready() -> bool:
        return state["ready"]

    app[READINESS_KEY] = ready
    setup_health(app)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(server.make_url("/readyz"))
            async with session.get(url) as r:
                assert r.status == 500
            state["ready"] = True
            async with session.get(url) as r:
                assert r.status == 200
    finally:
        await server.close()
