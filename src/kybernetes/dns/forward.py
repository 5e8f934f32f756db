"""Forwarder: names outside the cluster domain go to the upstream resolvers (CoreDNS's forward).

    query ─► cache hit? ─► answer
               │ miss
               ▼
          same question already in flight? ─► wait for that one (no duplicate upstream queries)
               │ no
               ▼
          upstreams in order, starting at the last one that answered:
            UDP (own socket, fresh random id, EDNS0 1232) ─ TC set? ─► again over TCP
            timeout / refused / bad reply ─► the next upstream
          all failed ─► UpstreamError (the server answers SERVFAIL)

Each exchange uses its own socket on a random port and checks the reply's id and question, so an
off-path reply cannot poison the cache. Upstream answers are relayed as they came (the server
puts its own EDNS0 record on them), and cached by AnswerCache.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import struct

from dnslib import EDNS0, DNSHeader, DNSQuestion, DNSRecord

from kybernetes.dns.cache import AnswerCache, CacheKey
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Upstream = tuple[str, int]
UPSTREAM_UDP_SIZE = 1232  # the DNS flag day 2020 size: no IP fragmentation on common paths


class UpstreamError(Exception):
    """No upstream resolver gave an answer."""


class _ReplyProtocol(asyncio.DatagramProtocol):
    def __init__(self, message_id: int):
        self.message_id = message_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == self.message_id and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        if not self.reply.done():
            self.reply.set_exception(exc)


def cache_key(question: DNSQuestion, do_bit: bool = False) -> CacheKey:
    return str(question.qname).lower(), int(question.qtype), int(question.qclass), do_bit


class Forwarder:
    def __init__(self, upstreams: list[Upstream], *, timeout: float = 2.0, cache: AnswerCache | None = None,
                 clock: Clock | None = None):
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.clock = clock or REAL_CLOCK
        self.cache = cache if cache is not None else AnswerCache(clock=self.clock)
        self.forwarded = 0  # questions actually sent upstream (for tests and metrics)
        self._preferred = 0
        self._in_flight: dict[CacheKey, asyncio.Future[DNSRecord]] = {}

    async def resolve(self, question: DNSQuestion, message_id: int, do_bit: bool = False) -> DNSRecord:
        """The upstream answer to ``question``, carrying ``message_id``; UpstreamError if none."""
        key = cache_key(question, do_bit)
        cached = self.cache.get(key, message_id)
        if cached is not None:
            return cached
        pending = self._in_flight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve_upstream(question, do_bit))
            self._in_flight[key] = pending
            pending.add_done_callback(lambda f: self._forget(key, f))
        response = await asyncio.shield(pending)
        copy = DNSRecord.parse(response.pack())
        copy.header.id = message_id
        return copy

    def _forget(self, key: CacheKey, done: asyncio.Future[DNSRecord]) -> None:
        self._in_flight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure whose askers all left is not "never retrieved"

    async def _resolve_upstream(self, question: DNSQuestion, do_bit: bool) -> DNSRecord:
        if not self.upstreams:
            raise UpstreamError("no upstream resolvers are configured")
        errors = []
        count = len(self.upstreams)
        for i in range(count):
            index = (self._preferred + i) % count
            upstream = self.upstreams[index]
            try:
                response = await self.exchange(upstream, question, do_bit)
            except (OSError, TimeoutError, UpstreamError, ValueError) as e:
                errors.append(f"{upstream[0]}:{upstream[1]}: {e or type(e).__name__}")
                continue
            self._preferred = index
            self.cache.put(cache_key(question, do_bit), response)
            return response
        raise UpstreamError("; ".join(errors))

    async def exchange(self, upstream: Upstream, question: DNSQuestion, do_bit: bool = False) -> DNSRecord:
        """One question to one upstream: UDP first, TCP when the UDP answer is truncated."""
        query = DNSRecord(DNSHeader(id=secrets.randbits(16), rd=1), q=question)
        query.add_ar(EDNS0(udp_len=UPSTREAM_UDP_SIZE, flags="do" if do_bit else ""))
        self.forwarded += 1
        reply = await self.clock.wait_for(self._udp(upstream, query), self.timeout)
        if reply.header.tc:
            reply = await self.clock.wait_for(self._tcp(upstream, query), self.timeout)
        return reply

    async def _udp(self, upstream: Upstream, query: DNSRecord) -> DNSRecord:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _ReplyProtocol(query.header.id), remote_addr=upstream)
        try:
            transport.sendto(query.pack())
            data = await protocol.reply
        finally:
            transport.close()
        return _checked(query, data)

    async def _tcp(self, upstream: Upstream, query: DNSRecord) -> DNSRecord:
        reader, writer = await asyncio.open_connection(*upstream)
        try:
            packed = query.pack()
            writer.write(struct.pack("!H", len(packed)) + packed)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
        except asyncio.IncompleteReadError as e:
            raise UpstreamError("connection closed before a full answer") from e
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return _checked(query, data)


def _checked(query: DNSRecord, data: bytes) -> DNSRecord:
    try:
        reply = DNSRecord.parse(data)
    except Exception as e:  # dnslib raises several types for bad packets
        raise UpstreamError(f"unreadable answer: {e}") from None
    if reply.header.id != query.header.id or not reply.header.qr:
        raise UpstreamError("answer does not match the query")
    if len(reply.questions) != 1 or str(reply.q.qname).lower() != str(query.q.qname).lower() \
            or reply.q.qtype != query.q.qtype:
        raise UpstreamError("answer is for another question")
    return reply


def parse_upstreams(text: str, default_port: int = 53) -> list[Upstream]:
    """'1.1.1.1,127.0.0.1:5353,[::1]:53' -> [(host, port), ...]; ValueError on a bad entry."""
    out: list[Upstream] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        out.append(parse_host_port(item, default_port))
    return out


def parse_host_port(item: str, default_port: int = 53) -> Upstream:
    """'10.0.0.1', '10.0.0.1:5353', '::1', '[::1]:53' -> (host, port); ValueError on anything else."""
    host, port_text = item, ""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad address {item!r}")
        port_text = rest[1:]
    elif item.count(":") == 1:
        host, port_text = item.split(":")
    try:
        host = str(ipaddress.ip_address(host))
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"bad address {item!r}: expected an IP address, optionally with :port") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {item!r}")
    return host, port
