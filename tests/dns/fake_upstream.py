"""A small upstream resolver for tests: UDP and TCP on 127.0.0.1, a free port, counts questions.

Answers A for any name under ``example.test`` with 192.0.2.7 (TTL 60), NXDOMAIN with an SOA for
``missing.example.test``, and for ``big.example.test`` forty A records, too many for a 512-byte
UDP reply, so it sets TC over UDP and answers in full over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord


class FakeUpstream:
    def __init__(self) -> None:
        self.questions: list[tuple[str, str, str]] = []  # (name, type, transport)
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None

    def answer(self, data: bytes, transport: str) -> bytes:
        query = DNSRecord.parse(data)
        name = str(query.q.qname).rstrip(".").lower()
        self.questions.append((name, QTYPE.get(query.q.qtype), transport))
        reply = query.reply(aa=1)
        reply.ar = []
        if name == "missing.example.test":
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(RR("example.test.", QTYPE.SOA, ttl=60,
                              rdata=SOA("ns.example.test.", "admin.example.test.", (1, 60, 60, 60, 60))))
        elif name == "big.example.test" and query.q.qtype == QTYPE.A:
            for i in range(40):
                reply.add_answer(RR(str(query.q.qname), QTYPE.A, ttl=60, rdata=A(f"192.0.2.{i + 1}")))
            if transport == "udp" and len(reply.pack()) > 512:
                reply.rr = []
                reply.header.tc = 1
        elif name.endswith("example.test") and query.q.qtype == QTYPE.A:
            reply.add_answer(RR(str(query.q.qname), QTYPE.A, ttl=60, rdata=A("192.0.2.7")))
        return reply.pack()

    def count(self, name: str) -> int:
        return sum(1 for q in self.questions if q[0] == name)

    async def start(self) -> FakeUpstream:
        loop = asyncio.get_running_loop()
        upstream = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                self.transport.sendto(upstream.answer(data, "udp"), addr)

        for _ in range(20):
            self._udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", 0))
            port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", port)
            except OSError:
                self._udp.close()
                continue
            self.port = port
            return self
        raise RuntimeError("no free port for the fake upstream")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self.answer(await reader.readexactly(length), "tcp")
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def __aenter__(self) -> FakeUpstream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
