"""TestApiServer: the real apiserver, in this process, for tests.

    async with TestApiServer() as srv:
        async with srv.client() as client:
            await client.create(PODS, {...})

It serves plain HTTP on 127.0.0.1 with a free port, every request as system:masters
(anonymous_admin), over a private in-memory SQLite store, and is gone (port closed, store closed)
when the block exits, also on failure. Starting takes a few tens of milliseconds.

By default the server runs exactly as ``kyb apiserver`` does (``run_apiserver`` opens the store
from its URL). A test that must reach under the API (compact the store to provoke 410s, say)
opens a store itself and passes it as ``store=``: then the app is built over that store
(``build_app``) and ``srv.store`` / ``srv.app`` are available; the caller closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.server import ApiServerConfig, build_app, run_apiserver
from kybernetes.client.rest import ApiClient

START_TIMEOUT = 10.0


class TestApiServer:
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, *, store: Any = None, store_url: str = "sqlite://:memory:"):
        self.url = ""
        self.store = store
        self.store_url = store_url
        self.app: web.Application | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._clients: list[ApiClient] = []

    def _config(self) -> ApiServerConfig:
        assert self._tmp is not None
        return ApiServerConfig(data_dir=Path(self._tmp.name), bind_address="127.0.0.1", port=0,
                               store_url=self.store_url, anonymous_admin=True)

    async def start(self) -> TestApiServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="kyb-testapi-")
        try:
            if self.store is not None:
                await self._start_over_store()
            else:
                await self._start_run_apiserver()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _start_run_apiserver(self) -> None:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_ready(url: str) -> None:
            if not ready.done():
                ready.set_result(url)

        self._task = asyncio.create_task(run_apiserver(self._config(), stop=self._stop, on_ready=on_ready),
                                         name="test-apiserver")
        self._task.add_done_callback(lambda t: ready.done() or ready.set_exception(
            t.exception() or RuntimeError("apiserver stopped before it was ready")))
        self.url = await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT)

    async def _start_over_store(self) -> None:
        self.app = build_app(self._config(), self.store, builtin_registry())
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def client(self, **kwargs: Any) -> ApiClient:
        """An ApiClient for this server (closed with the server if the test forgets)."""
        kwargs.setdefault("qps", 0)
        client = ApiClient(self.url, **kwargs)
        self._clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self._clients:
            await client.close()
        self._clients.clear()
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, START_TIMEOUT)
            if not self._task.done():
                self._task.cancel()
            self._task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> TestApiServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
