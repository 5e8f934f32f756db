"""Port-forward on the kubelet: SPDY/3.1 streams inside a WebSocket, onto the pod's ports.

kubectl opens, per local connection, an ``error`` stream and a ``data`` stream sharing a
``requestid`` and a ``port``. Every stream gets its SYN_REPLY at once (kubectl blocks until
then). The data stream is connected to the port inside the pod's network namespace (the
runtime's port_forward); bytes flow as DATA frames both ways; when the pod side closes, the data
stream and then the error stream get FIN, which is how kubectl learns the connection ended. A
failure to connect is written as text on the error stream, then FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.server.resolve import PodResolver, TargetError
from kybernetes.util import spdy

log = logging.getLogger(__name__)

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
READ_SIZE = 32 * 1024


@dataclass
class _Pair:
    port: int
    error_id: int = 0
    data_id: int = 0
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None
    finished: bool = False
    client_fin: bool = False  # the client closed its side before the pod side was connected
    pending: list[bytes] = field(default_factory=list)


class PortForwardSession:
    def __init__(self, ws: web.WebSocketResponse, runtime, sandbox_id: str, pod: str):
        self.ws = ws
        self.runtime = runtime
        self.sandbox_id = sandbox_id
        self.pod = pod
        self.conn = spdy.SpdyConnection()
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self._lock = asyncio.Lock()

    async def send(self, frame: bytes) -> None:
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                for frame in self.conn.receive(msg.data):
                    await self._on_frame(frame)
        except spdy.SpdyError as e:
            log.info("port-forward to %s: %s", self.pod, e)
        finally:
            for pair in self.pairs.values():
                if pair.task is not None:
                    pair.task.cancel()
                if pair.writer is not None:
                    pair.writer.close()

    async def _on_frame(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.SynStream):
            await self._on_syn(frame)
        elif isinstance(frame, spdy.Data):
            pair = self.by_stream.get(frame.stream_id)
            if pair is None or frame.stream_id != pair.data_id:
                return  # the error stream carries nothing from the client
            if pair.writer is None:
                pair.pending.append(frame.payload)
                pair.client_fin = pair.client_fin or frame.fin
            else:
                await _to_pod(pair.writer, frame.payload, fin=frame.fin)
        elif isinstance(frame, spdy.Ping):
            await self.send(self.conn.ping(frame.ping_id))
        elif isinstance(frame, spdy.RstStream):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and pair.writer is not None:
                pair.writer.close()
        elif isinstance(frame, spdy.GoAway):
            await self.ws.close()

    async def _on_syn(self, syn: spdy.SynStream) -> None:
        await self.send(self.conn.syn_reply(syn.stream_id))
        kind = syn.headers.get("streamtype", "")
        request_id = syn.headers.get("requestid", "")
        try:
            port = int(syn.headers.get("port", ""))
        except ValueError:
            port = 0
        pair = self.pairs.setdefault(request_id, _Pair(port))
        self.by_stream[syn.stream_id] = pair
        if kind == "error":
            pair.error_id = syn.stream_id
        elif kind == "data":
            pair.data_id = syn.stream_id
            pair.task = asyncio.ensure_future(self._forward(pair))
        else:
            await self.send(self.conn.rst_stream(syn.stream_id, spdy.PROTOCOL_ERROR))

    async def _fail(self, pair: _Pair, message: str) -> None:
        if pair.error_id:
            await self.send(self.conn.data(pair.error_id, message.encode(), fin=False))
        await self._finish(pair)

    async def _finish(self, pair: _Pair) -> None:
        if pair.finished:
            return
        pair.finished = True
        with contextlib.suppress(ConnectionResetError):
            await self.send(self.conn.data(pair.data_id, b"", fin=True))
            if pair.error_id:
                await self.send(self.conn.data(pair.error_id, b"", fin=True))

    async def _forward(self, pair: _Pair) -> None:
        if not 0 < pair.port < 65536:
            await self._fail(pair, f"invalid port {pair.port}")
            return
        try:
            reader, pair.writer = await self.runtime.port_forward(self.sandbox_id, pair.port)
        except (cri.RuntimeServiceError, OSError) as e:
            await self._fail(pair, f"error forwarding port {pair.port} to pod {self.pod}: {e}")
            return
        early, pair.pending = b"".join(pair.pending), []
        await _to_pod(pair.writer, early, fin=pair.client_fin)
        try:
            while chunk := await reader.read(READ_SIZE):
                await self.send(self.conn.data(pair.data_id, chunk))
        except (ConnectionError, OSError) as e:
            await self._fail(pair, f"error reading from port {pair.port} of pod {self.pod}: {e}")
            return
        finally:
            pair.writer.close()
        await self._finish(pair)


async def _to_pod(writer: asyncio.StreamWriter, payload: bytes, *, fin: bool) -> None:
    """The client's bytes (and its half-close) to the pod, unless the pod side is gone already.

    The pod may close its end while the client's last frames are still in flight; writing to a
    closed transport raises (RuntimeError on uvloop), and must not end the whole session.
    """
    if writer.is_closing():
        return
    with contextlib.suppress(ConnectionError, RuntimeError, OSError):
        if payload:
            writer.write(payload)
            await writer.drain()
        if fin and writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()


async def handle_port_forward(request: web.Request, resolver: PodResolver) -> web.StreamResponse:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if PROTOCOL not in offered or request.headers.get("Upgrade", "").lower() != "websocket":
        return web.Response(status=400, text=f"expected a WebSocket upgrade with subprotocol {PROTOCOL}\n")
    ns, pod = request.match_info["namespace"], request.match_info["pod"]
    try:
        node, sandbox = await resolver.sandbox(ns, pod)
    except TargetError as e:
        return web.Response(status=e.code, text=f"{e}\n")
    if not hasattr(node.runtime, "port_forward"):
        return web.Response(status=501, text="the container runtime of this node cannot forward ports\n")
    ws = web.WebSocketResponse(protocols=(PROTOCOL,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    await PortForwardSession(ws, node.runtime, sandbox.id, f"{ns}/{pod}").run()
    return ws
