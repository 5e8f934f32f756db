"""Fixtures for the apiserver tests: a real app over plain HTTP on loopback.

``api`` starts build_app (anonymous_admin: every request is system:masters) on a private
in-memory SQLite store, served by aiohttp's test server on 127.0.0.1 with a free port, and yields
an ApiClient whose helpers return (status, body) with the body decoded from JSON when it is JSON.
Everything is closed again after the test, also on failure.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.server import OBJECTS_KEY, ApiServerConfig, build_app
from kybernetes.store import open_store


class ApiClient:
    def __init__(self, server: TestServer, session: ClientSession, store: Any, app: Any):
        self.server = server
        self.session = session
        self.store = store
        self.app = app
        self.url = str(server.make_url("")).rstrip("/")

    @property
    def objects(self):
        return self.app[OBJECTS_KEY]

    async def request(self, method: str, path: str, *, json: Any = None, data: bytes | str | None = None,
                      headers: dict[str, str] | None = None, params: Any = None) -> tuple[int, Any]:
        headers = dict(headers or {})
        if json is not None:
            data = orjson.dumps(json)
            headers.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.url + path, data=data, headers=headers,
                                        params=params) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            if "json" in ctype and raw:
                return resp.status, orjson.loads(raw)
            return resp.status, raw.decode(errors="replace")

    async def get(self, path: str, **kw) -> tuple[int, Any]:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw) -> tuple[int, Any]:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw) -> tuple[int, Any]:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, *, json: Any = None, content_type: str = "application/merge-patch+json",
                    **kw) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Content-Type", content_type)
        return await self.request("PATCH", path, json=json, headers=headers, **kw)

    async def delete(self, path: str, **kw) -> tuple[int, Any]:
        return await self.request("DELETE", path, **kw)


@pytest.fixture
async def api():
    with tempfile.TemporaryDirectory(prefix="kyb-api-") as tmp:
        store = await open_store("sqlite://:memory:")
        try:
            config = ApiServerConfig(data_dir=Path(tmp), bind_address="127.0.0.1", port=0,
                                     anonymous_admin=True)
            app = build_app(config, store, builtin_registry())
            server = TestServer(app, host="127.0.0.1", port=0)
            await server.start_server()
            try:
                async with ClientSession(timeout=ClientTimeout(total=30)) as session:
                    yield ApiClient(server, session, store, app)
            finally:
                await server.close()
        finally:
            await store.close()


@pytest.fixture
async def robot(api) -> dict[str, str]:
    """Headers that authenticate as the service account default/robot (RBAC and impersonation tests)."""
    namespace = "/api/v1/namespaces/default"
    status, body = await api.post(f"{namespace}/serviceaccounts", json={"metadata": {"name": "robot"}})
    assert status == 201, body
    status, body = await api.post(f"{namespace}/serviceaccounts/robot/token",
                                  json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert status == 201, body
    return {"Authorization": f"Bearer {body['status']['token']}"}
