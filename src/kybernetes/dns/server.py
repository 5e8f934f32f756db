"""DnsServer: the UDP and TCP listeners on one address and port, in front of a QueryHandler.

    UDP datagram ─► handle_now ─► answered? ─► sendto          (cluster names: no task at all)
                                    └─ no ─► task: handle ─► sendto   (forwarded, bounded count)
    TCP connection ─► [2-byte length, message]* ─► handle_bytes ─► [2-byte length, reply]*

UDP and TCP share the port, as DNS requires (a client retries a truncated UDP answer over TCP on
the same address). With port 0 the UDP socket picks a free port and TCP takes the same one.
TCP connections may carry several queries in turn and are closed after ``idle_timeout`` seconds
without one. At most ``max_pending`` forwarded UDP queries wait at once; beyond that new ones are
dropped, and the client retries, rather than the server growing without bound under a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct

from kybernetes.dns.handler import QueryHandler
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply, query = self.server.handler.handle_now(data, udp=True)
        except Exception:
            log.exception("DNS query from %s failed", addr)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
        elif query is not None:
            self.server.spawn(self._answer_later(query, data, addr))

    async def _answer_later(self, query, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.handler.handle(query, udp=True, data=data)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS UDP socket error: %s", exc)


class DnsServer:
    def __init__(self, handler: QueryHandler, host: str = "127.0.0.1", port: int = 53, *,
                 idle_timeout: float = 10.0, max_pending: int = 1000, clock: Clock | None = None):
        self.handler = handler
        self.clock = clock or REAL_CLOCK
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.max_pending = max_pending
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        attempts = 20 if self.port == 0 else 1
        for attempt in range(attempts):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, self.port), family=family)
            port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_connection, self.host, port,
                                                       family=family, reuse_address=True)
            except OSError:
                self._udp.close()
                self._udp = None
                if attempt == attempts - 1:
                    raise
                continue  # port 0: that UDP port is taken for TCP; pick another
            self.port = port
            break
        log.info("DNS listening on %s:%d (UDP and TCP)", self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for task in [*self._tasks, *self._connections]:
            task.cancel()
        for task in [*self._tasks, *self._connections]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def spawn(self, coro) -> None:
        if len(self._tasks) >= self.max_pending:
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                try:
                    header = await self.clock.wait_for(reader.readexactly(2), self.idle_timeout)
                    (length,) = struct.unpack("!H", header)
                    data = await self.clock.wait_for(reader.readexactly(length), self.idle_timeout)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply = await self.handler.handle_bytes(data, udp=False)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except ConnectionError:
            return
        except Exception:
            log.exception("DNS TCP connection failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
