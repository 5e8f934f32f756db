"""util/readiness.http_ok: the supervisor's one question, asked of real loopback servers."""

from __future__ import annotations

import asyncio

from kybernetes.util.readiness import http_ok
from tests.support.ports import free_port


async def _serve(status_line: bytes):
    seen: list[bytes] = []

    async def answer(reader, writer):
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(status_line + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


async def test_ok_only_for_200_and_the_path_is_asked():
    server, port, seen = await _serve(b"HTTP/1.1 200 OK")
    async with server:
        assert await http_ok(f"http://127.0.0.1:{port}/readyz?verbose=1")
    assert seen[0].startswith(b"GET /readyz?verbose=1 HTTP/1.1\r\n")
    server, port, _ = await _serve(b"HTTP/1.1 503 Service Unavailable")
    async with server:
        assert not await http_ok(f"http://127.0.0.1:{port}/readyz")


async def test_refused_garbage_and_silence_are_not_ok():
    assert not await http_ok(f"http://127.0.0.1:{free_port()}/readyz")
    server, port, _ = await _serve(b"SSH-2.0-nonsense")
    async with server:
        assert not await http_ok(f"http://127.0.0.1:{port}/")

    async def silent(reader, writer):
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        assert not await http_ok(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", timeout=0.2)
