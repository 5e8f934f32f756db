"""QueryHandler: one DNS message in, one out; the part of the server that knows no transport.

    bytes ─► parse ─► checks (opcode QUERY, one question, EDNS0 version 0) ─► route by name:
        <anything>.<cluster domain>      ClusterResolver, authoritative (aa), SOA on negatives,
                                         an ExternalName's outside target chased upstream
        reverse name of a cluster IP     ClusterResolver PTR
        everything else                  Forwarder (cache, then upstream); SERVFAIL if none answers
    ─► EDNS0 record of ours if the query had one ─► size check (UDP: TC and no records if too big)

Cluster answers need no awaiting, so ``handle_now`` returns them at once, and the UDP server
only makes a task for queries that must go upstream: most queries cost no task at all.
Finished replies are kept packed by ReplyMemo (reply_memo.py), so a repeated question costs a
dict lookup instead of a parse and a build.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSQuestion, DNSRecord

from kybernetes.dns.answers import ClusterAnswer, ClusterResolver, soa_record
from kybernetes.dns.cache import cacheable_ttl
from kybernetes.dns.forward import Forwarder, UpstreamError
from kybernetes.dns.names import in_zone, is_reverse, normalize, reverse_address
from kybernetes.dns.reply_memo import ReplyMemo

log = logging.getLogger(__name__)

CLASS_IN, CLASS_ANY = 1, 255
UDP_PLAIN_SIZE = 512
UDP_MAX_SIZE = 4096
OUR_EDNS_SIZE = 1232
BADVERS = 16


class QueryHandler:
    def __init__(self, cluster: ClusterResolver, forwarder: Forwarder):
        self.cluster = cluster
        self.forwarder = forwarder
        self.responses: Counter[str] = Counter()  # by rcode name, for metrics and tests
        self.memo = ReplyMemo(clock=forwarder.clock)

    # -- entry points --------------------------------------------------------------------------

    def handle_now(self, data: bytes, udp: bool) -> tuple[bytes | None, DNSRecord | None]:
        """(reply, None) when answered at once; (None, query) when ``handle`` must be awaited;
        (None, None) when the message is to be dropped."""
        serial = self.cluster.records.serial
        kept = self.memo.get(data, udp, serial)
        if kept is not None:
            self.responses[kept[1]] += 1
            return kept[0], None
        reply, query, from_records = self._handle_now(data, udp)
        if reply is not None and from_records:
            self.memo.keep(data, udp, reply, RCODE.get(reply[3] & 0x0F), serial=serial)
        return reply, query

    def _handle_now(self, data: bytes, udp: bool) -> tuple[bytes | None, DNSRecord | None, bool]:
        """As handle_now, and whether the reply came from the cluster records alone (keepable)."""
        query, reply = self._parse(data)
        if reply is not None:
            return self._finish(None, reply, udp), None, False
        if query is None:
            return None, None, False
        name = normalize(str(query.q.qname))
        if in_zone(name, self.cluster.zone):
            if query.q.qclass not in (CLASS_IN, CLASS_ANY):
                return self._finish(query, self._error(query, RCODE.REFUSED), udp), None, False
            answer = self.cluster.lookup(str(query.q.qname), name, query.q.qtype)
            if answer.chase and query.q.qtype in (QTYPE.A, QTYPE.AAAA):
                return None, query, False
            return self._finish(query, self._cluster_reply(query, answer), udp), None, True
        if is_reverse(name):
            address = reverse_address(name)
            answer = self.cluster.reverse(str(query.q.qname), address) if address else None
            if answer is not None:
                if query.q.qtype not in (QTYPE.PTR, QTYPE.ANY):
                    answer = ClusterAnswer()
                return self._finish(query, self._cluster_reply(query, answer), udp), None, True
        return None, query, False

    async def handle(self, query: DNSRecord, udp: bool, data: bytes = b"") -> bytes:
        """The reply to a query ``handle_now`` passed on: forwarded, or a CNAME chased upstream.
        With the query's ``data``, a forwarded reply is kept in the memo for its next asker."""
        name = normalize(str(query.q.qname))
        if in_zone(name, self.cluster.zone):
            answer = self.cluster.lookup(str(query.q.qname), name, query.q.qtype)
            await self._chase(query, answer)
            return self._finish(query, self._cluster_reply(query, answer), udp)
        try:
            upstream = await self.forwarder.resolve(query.q, query.header.id, _do_bit(query))
        except UpstreamError as e:
            log.warning("forwarding %s %s failed: %s", query.q.qname, QTYPE.get(query.q.qtype), e)
            return self._finish(query, self._error(query, RCODE.SERVFAIL), udp)
        reply = DNSRecord(DNSHeader(id=query.header.id, qr=1, aa=0, ra=1, rd=query.header.rd,
                                    rcode=upstream.header.rcode), q=query.q)
        reply.rr = list(upstream.rr)
        reply.auth = list(upstream.auth)
        reply.ar = [rr for rr in upstream.ar if rr.rtype != QTYPE.OPT]
        packed = self._finish(query, reply, udp)
        if data and not packed[2] & 0x02:  # never keep a truncated reply
            self.memo.keep(data, udp, packed, RCODE.get(reply.header.rcode), seconds=cacheable_ttl(reply, 1))
        return packed

    async def handle_bytes(self, data: bytes, udp: bool) -> bytes | None:
        reply, query = self.handle_now(data, udp)
        if query is not None:
            return await self.handle(query, udp, data)
        return reply

    # -- pieces --------------------------------------------------------------------------------

    def _parse(self, data: bytes) -> tuple[DNSRecord | None, DNSRecord | None]:
        """(query, None) for a good query; (None, error reply) or (None, None) to drop."""
        if len(data) < 12:
            return None, None
        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises several types for bad packets
            return None, self._header_error(data, RCODE.FORMERR)
        if query.header.qr:
            return None, None  # a response sent to us: never answer one (no loops)
        if query.header.opcode != OPCODE.QUERY:
            return None, self._error(query, RCODE.NOTIMP)
        if len(query.questions) != 1:
            return None, self._error(query, RCODE.FORMERR)
        opts = [rr for rr in query.ar if rr.rtype == QTYPE.OPT]
        if len(opts) > 1:
            return None, self._error(query, RCODE.FORMERR)
        if opts and (opts[0].ttl >> 16) & 0xFF != 0:  # EDNS version above 0
            reply = self._error(query, RCODE.NOERROR)
            reply.add_ar(EDNS0(udp_len=OUR_EDNS_SIZE, ext_rcode=BADVERS >> 4))
            return None, reply
        return query, None

    def _header_error(self, data: bytes, rcode: int) -> DNSRecord:
        (message_id,) = struct.unpack("!H", data[:2])
        return DNSRecord(DNSHeader(id=message_id, qr=1, ra=1, rcode=rcode))

    def _error(self, query: DNSRecord, rcode: int) -> DNSRecord:
        return DNSRecord(DNSHeader(id=query.header.id, qr=1, ra=1, rd=query.header.rd,
                                   opcode=query.header.opcode, rcode=rcode), q=query.q)

    def _cluster_reply(self, query: DNSRecord, answer: ClusterAnswer) -> DNSRecord:
        reply = DNSRecord(DNSHeader(id=query.header.id, qr=1, aa=1, ra=1, rd=query.header.rd,
                                    rcode=answer.rcode), q=query.q)
        reply.rr = list(answer.answers)
        reply.ar = list(answer.additional)
        if not answer.answers or answer.rcode != RCODE.NOERROR:
            reply.auth = [soa_record(self.cluster.records)]
        return reply

    async def _chase(self, query: DNSRecord, answer: ClusterAnswer) -> None:
        """Add the addresses of an ExternalName's outside target, as CoreDNS does; on failure the
        CNAME alone is the answer and the client resolves the target itself."""
        question = DNSQuestion(answer.chase + ".", query.q.qtype)
        try:
            upstream = await self.forwarder.resolve(question, query.header.id)
        except UpstreamError as e:
            log.debug("chasing CNAME target %s failed: %s", answer.chase, e)
            return
        answer.answers += list(upstream.rr)

    def _finish(self, query: DNSRecord | None, reply: DNSRecord, udp: bool) -> bytes:
        """Our EDNS0 record when the query had one; TC and no records when UDP can't carry it."""
        opt = _opt_of(query) if query is not None else None
        if opt is not None and not any(rr.rtype == QTYPE.OPT for rr in reply.ar):
            reply.add_ar(EDNS0(udp_len=OUR_EDNS_SIZE))
        self.responses[RCODE.get(reply.header.rcode)] += 1
        packed = reply.pack()
        if udp:
            limit = max(UDP_PLAIN_SIZE, min(opt.rclass, UDP_MAX_SIZE)) if opt is not None else UDP_PLAIN_SIZE
            if len(packed) > limit:
                truncated = DNSRecord(DNSHeader(id=reply.header.id, qr=1, aa=reply.header.aa, ra=1,
                                                rd=reply.header.rd, tc=1, rcode=reply.header.rcode), q=reply.q)
                if opt is not None:
                    truncated.add_ar(EDNS0(udp_len=OUR_EDNS_SIZE))
                packed = truncated.pack()
        return packed


def _opt_of(query: DNSRecord):
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return rr
    return None


def _do_bit(query: DNSRecord) -> bool:
    opt = _opt_of(query)
    return bool(opt is not None and opt.ttl & 0x8000)
