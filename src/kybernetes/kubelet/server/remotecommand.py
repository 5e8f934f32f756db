"""exec and attach on the kubelet: the v5/v4 channel protocol over WebSocket, onto a StreamSession.

    client ──ws──► stdin frames  ─► session.write_stdin      [255, 0] ─► session.close_stdin
                  resize frames ─► session.resize
    session.stdout ─► channel 1 frames   session.stderr ─► channel 2 frames
    both drained, exit code known ─► one status frame on channel 3 ─► close 1000

If the client goes away first, the session is closed (an exec's process is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSMsgType, web

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.server.resolve import PodResolver, TargetError
from kybernetes.util import websocket_channels as wsc

log = logging.getLogger(__name__)

_TRUE = ("1", "true", "True")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in _TRUE


def bad_request(message: str, code: int = 400) -> web.Response:
    return web.Response(status=code, text=message + "\n", content_type="text/plain")


async def handle_remote_command(request: web.Request, resolver: PodResolver, *, attach: bool) -> web.StreamResponse:
    protocol = wsc.negotiate(request.headers.get("Sec-WebSocket-Protocol"))
    if protocol is None or request.headers.get("Upgrade", "").lower() != "websocket":
        return bad_request(f"expected a WebSocket upgrade with subprotocol {wsc.V5} or {wsc.V4}")
    ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
    tty, stdin = _flag(request, "tty"), _flag(request, "input") or _flag(request, "stdin")
    stdout = _flag(request, "output") or _flag(request, "stdout")
    stderr = (_flag(request, "error") or _flag(request, "stderr")) and not tty
    command = tuple(request.query.getall("command", []))
    # Upgrade first: from here on a failure is reported on the status channel, which kubectl prints.
    ws = web.WebSocketResponse(protocols=(protocol,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    try:
        if not attach and not command:
            raise TargetError("you must specify at least one command for the container", 400)
        if not (stdin or stdout or stderr):
            raise TargetError("you must specify at least one of stdin, stdout, stderr", 400)
        found = await resolver.running(ns, pod, name)
        runtime = found.node.runtime
        if not hasattr(runtime, "exec"):
            raise TargetError("the container runtime of this node cannot stream", 501)
        if attach:
            session = await runtime.attach(cri.AttachRequest(found.status.id, tty, stdin, stdout, stderr))
        else:
            session = await runtime.exec(cri.ExecRequest(found.status.id, command, tty, stdin, stdout, stderr))
    except (TargetError, cri.RuntimeServiceError) as e:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_bytes(wsc.encode(wsc.STATUS, wsc.error_status(str(e))))
        await ws.close(code=1000)
        return ws
    await relay(ws, session, protocol=protocol, stdout=stdout, stderr=stderr)
    return ws


async def relay(ws: web.WebSocketResponse, session: Any, *, protocol: str, stdout: bool, stderr: bool) -> None:
    send_lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with send_lock:
            await ws.send_bytes(wsc.encode(channel, data))

    async def pump(channel: int, stream: Any, wanted: bool) -> None:
        async for chunk in stream:
            if wanted and chunk:
                with contextlib.suppress(ConnectionResetError):
                    await send(channel, chunk)

    async def from_client() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            try:
                frame = wsc.decode(msg.data)
                if frame.channel == wsc.STDIN:
                    await session.write_stdin(frame.data)
                elif frame.channel == wsc.RESIZE:
                    await session.resize(*wsc.parse_resize(frame.data))
                elif frame.channel == wsc.CLOSE and frame.data[:1] == bytes([wsc.STDIN]):
                    await session.close_stdin()
            except wsc.ChannelError as e:
                log.debug("ignoring a bad channel message: %s", e)

    reader = asyncio.ensure_future(from_client())
    outputs = asyncio.ensure_future(asyncio.gather(pump(wsc.STDOUT, session.stdout, stdout),
                                                   pump(wsc.STDERR, session.stderr, stderr)))
    try:
        await asyncio.wait({reader, outputs}, return_when=asyncio.FIRST_COMPLETED)
        if outputs.done():
            code = await session.wait()
            with contextlib.suppress(ConnectionResetError):
                await send(wsc.STATUS, wsc.exit_status(code))
        # else: the client went away first
    except Exception as e:  # noqa: BLE001 - report it on the status channel, then close
        log.warning("streaming session failed: %s", e)
        with contextlib.suppress(Exception):
            await send(wsc.STATUS, wsc.error_status(str(e)))
    finally:
        reader.cancel()
        outputs.cancel()
        for task in (reader, outputs):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await session.close()
        await ws.close(code=1000)
