"""ApiClient's transport against a scripted server: retries, Retry-After, headers, bad bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kybernetes.api.errors import ApiError
from kybernetes.client.errors import ApiConnectionError
from kybernetes.client.resource import CONFIGMAPS, PODS
from kybernetes.client.rest import ApiClient
from kybernetes.util.clock import FakeClock


class InstantClock(FakeClock):
    """A fake clock whose sleeps return at once, after moving time on: records the waits."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}
    return web.json_response(body, status=code)


@pytest.fixture
async def scripted():
    """Serve responses from a list of callables (one per request); record every request."""
    script: list[Callable[[web.Request], web.StreamResponse]] = []
    seen: list[dict] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                     "headers": dict(request.headers), "body": await request.read()})
        return script.pop(0)(request) if script else web.json_response({"kind": "Pod", "metadata": {}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server, script, seen
    finally:
        await server.close()


def url_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_429_is_retried_after_retry_after_for_any_verb(scripted):
    server, script, seen = scripted
    clock = InstantClock()
    too_many = status(429, "TooManyRequests", "slow down")
    too_many.headers["Retry-After"] = "3"
    script.append(lambda r: too_many)
    async with ApiClient(url_of(server), clock=clock, qps=0) as client:
        await client.create(PODS, {"metadata": {"name": "p"}})
    assert [s["method"] for s in seen] == ["POST", "POST"]
    assert clock.slept == [3.0]


async def test_5xx_retried_for_get_with_backoff_not_for_post(scripted):
    server, script, seen = scripted
    clock = InstantClock()
    script.extend([lambda r: status(503, "ServiceUnavailable", "busy")] * 2)
    async with ApiClient(url_of(server), clock=clock, qps=0) as client:
        await client.get(PODS, "p")
        assert len(seen) == 3 and len(clock.slept) == 2 and clock.slept[1] > clock.slept[0]
        script.append(lambda r: status(503, "ServiceUnavailable", "busy"))
        with pytest.raises(ApiError) as e:
            await client.create(PODS, {"metadata": {"name": "p"}})
        assert e.value.code == 503 and len(seen) == 4


async def test_retries_give_up_after_max_retries(scripted):
    server, script, seen = scripted
    script.extend([lambda r: status(500, "InternalError", "boom")] * 10)
    async with ApiClient(url_of(server), clock=InstantClock(), qps=0, max_retries=2) as client:
        with pytest.raises(ApiError) as e:
            await client.get(PODS, "p")
    assert e.value.reason == "InternalError" and len(seen) == 3


async def test_refused_connection_is_a_typed_error_after_retries():
    clock = InstantClock()
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with ApiClient(f"http://127.0.0.1:{port}", clock=clock, qps=0, max_retries=3) as client:
        with pytest.raises(ApiConnectionError) as e:
            await client.create(PODS, {"metadata": {"name": "p"}})
    assert e.value.code == 503 and "cannot talk to the apiserver" in str(e.value)
    assert len(clock.slept) == 3


async def test_non_status_error_body(scripted):
    server, script, seen = scripted
    script.append(lambda r: web.Response(status=404, text="404: Not Found"))
    script.append(lambda r: web.Response(status=200, text="not json", content_type="text/plain"))
    async with ApiClient(url_of(server), qps=0) as client:
        with pytest.raises(ApiError) as e:
            await client.get(PODS, "p")
        assert (e.value.code, e.value.reason, e.value.message) == (404, "NotFound", "404: Not Found")
        with pytest.raises(ApiError):
            await client.get(PODS, "p")


async def test_headers_query_and_patch_content_types(scripted):
    server, script, seen = scripted
    async with ApiClient(url_of(server), token="s3cret", qps=0, namespace="team") as client:
        await client.patch(CONFIGMAPS, "a", {"data": {}}, patch_type="strategic", field_manager="me")
        await client.patch(CONFIGMAPS, "a", [], patch_type="json")
        await client.patch(CONFIGMAPS, "a", {"data": {}})
        await client.patch(CONFIGMAPS, "a", {"data": {}}, patch_type="apply", field_manager="me", force=True)
        await client.list(CONFIGMAPS, label_selector="a=b", limit=5)
        await client.delete(CONFIGMAPS, "a", propagation_policy="Foreground")
    types = [s["headers"].get("Content-Type") for s in seen[:4]]
    assert types == ["application/strategic-merge-patch+json", "application/json-patch+json",
                     "application/merge-patch+json", "application/apply-patch+yaml"]
    assert all(s["headers"]["Authorization"] == "Bearer s3cret" for s in seen)
    assert seen[0]["path"] == "/api/v1/namespaces/team/configmaps/a"
    assert seen[0]["query"] == {"fieldManager": "me"}
    assert seen[3]["query"] == {"fieldManager": "me", "force": "true"}
    assert seen[4]["path"] == "/api/v1/configmaps" and seen[4]["query"] == {"labelSelector": "a=b", "limit": "5"}
    assert orjson.loads(seen[5]["body"])["propagationPolicy"] == "Foreground"


async def test_client_side_rate_limit_paces_requests(scripted):
    server, script, seen = scripted
    clock = InstantClock()
    async with ApiClient(url_of(server), clock=clock, qps=2, burst=3) as client:
        for _ in range(5):
            await client.get(PODS, "p")
    assert len(seen) == 5
    # three from the burst, then one token every half second
    assert clock.slept == [0.5, 0.5]


async def test_from_kubeconfig_uses_server_token_and_namespace(scripted, tmp_path):
    from kybernetes.client.kubeconfig import write_kubeconfig

    server, script, seen = scripted
    path = tmp_path / "config"
    write_kubeconfig(path, {
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "c", "cluster": {"server": url_of(server)}}],
        "users": [{"name": "u", "user": {"token": "tok-123"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "team-x"}}],
    })
    async with ApiClient.from_kubeconfig(path, qps=0) as client:
        assert client.namespace == "team-x"
        await client.get(PODS, "p")
    assert seen[0]["path"] == "/api/v1/namespaces/team-x/pods/p"
    assert seen[0]["headers"]["Authorization"] == "Bearer tok-123"
