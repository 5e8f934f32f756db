"""The kubelet's port-forward session over a stand-in WebSocket, on uvloop as the kubelet runs.

Frames in flight cross: a pod that answers and closes at once, while the client's half-close is
still on its way, must end that one connection only, never the whole session (uvloop raises on a
write to a closed transport).
"""

from __future__ import annotations

import asyncio

import uvloop
from aiohttp import WSMsgType

from kybernetes.kubelet.server.portforward import PortForwardSession
from kybernetes.util import spdy


class _Message:
    def __init__(self, data: bytes):
        self.type, self.data = WSMsgType.BINARY, data


class StandInWebSocket:
    """What PortForwardSession uses of aiohttp's WebSocketResponse: messages in, bytes out."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> _Message:
        data = await self.incoming.get()
        if data is None:
            self.closed = True
            raise StopAsyncIteration
        return _Message(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.outgoing.put(data)

    async def close(self) -> None:
        await self.incoming.put(None)


class AnswerAndCloseRuntime:
    """port_forward onto a local server that writes its answer and closes without reading."""

    def __init__(self, port: int):
        self.port = port

    async def port_forward(self, sandbox_id: str, port: int):
        return await asyncio.open_connection("127.0.0.1", self.port)


async def _replies(client: spdy.SpdyConnection, ws: StandInWebSocket, stream_id: int) -> bytes:
    """The bytes the session sends on ``stream_id`` until its FIN."""
    got = b""
    while True:
        for frame in client.receive(await asyncio.wait_for(ws.outgoing.get(), 5)):
            if isinstance(frame, spdy.Data) and frame.stream_id == stream_id:
                got += frame.payload
                if frame.fin:
                    return got


async def _two_connections_after_late_client_fins() -> list[bytes]:
    async def answer(reader, writer):
        writer.write(b"answer")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ws = StandInWebSocket()
    session = asyncio.ensure_future(PortForwardSession(ws, AnswerAndCloseRuntime(port), "sandbox", "ns/pod").run())
    client, answers = spdy.SpdyConnection(), []
    for request_id, (error_id, data_id) in enumerate(((1, 3), (5, 7))):
        headers = {"port": "8080", "requestid": str(request_id)}
        await ws.incoming.put(client.syn_stream(error_id, {**headers, "streamtype": "error"})
                              + client.data(error_id, b"", fin=True)
                              + client.syn_stream(data_id, {**headers, "streamtype": "data"}))
        answers.append(await _replies(client, ws, data_id))
        await asyncio.sleep(0.05)  # the pod side is closed by now
        await ws.incoming.put(client.data(data_id, b"late request", fin=True))
        await asyncio.sleep(0.05)
        assert not session.done(), "a late client FIN ended the session"
    await ws.close()
    await asyncio.wait_for(session, 5)
    server.close()
    return answers


def test_a_late_client_fin_ends_only_its_own_connection():
    assert uvloop.run(_two_connections_after_late_client_fins()) == [b"answer", b"answer"]
