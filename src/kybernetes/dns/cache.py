"""AnswerCache: upstream answers kept for their TTL, bounded, least recently used out first.

Keyed by (name, type, class, DO bit). A positive answer lives for the smallest TTL among its
records, a negative one (NXDOMAIN, NODATA) for the SOA's minimum as RFC 2308 says; both capped
(``max_ttl``, 30 s by default as the ``cache 30`` of a stock CoreDNS config), so a record that
changes upstream is never stale for long. SERVFAIL, truncated answers and answers without a TTL
are not kept. A hit comes back as a fresh message with the TTLs capped at the time left in the cache
(so a client never keeps an answer longer than we do) and the asker's message id.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, DNSRecord

from kybernetes.util.clock import REAL_CLOCK, Clock

CacheKey = tuple[str, int, int, bool]


@dataclass(slots=True)
class _Entry:
    packed: bytes
    stored_at: float
    ttl: int


def cacheable_ttl(response: DNSRecord, max_ttl: int) -> int:
    """Seconds ``response`` may be kept; 0 means not at all."""
    if response.header.tc or response.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
        return 0
    records = [rr for rr in response.rr if rr.rtype != QTYPE.OPT]
    if response.header.rcode == RCODE.NOERROR and records:
        ttl = min(rr.ttl for rr in records)
    else:
        soas = [rr for rr in response.auth if rr.rtype == QTYPE.SOA]
        if not soas:
            return 0
        soa = soas[0]
        ttl = min(soa.ttl, soa.rdata.times[4])
    return max(0, min(ttl, max_ttl))


class AnswerCache:
    def __init__(self, max_entries: int = 10000, max_ttl: int = 30, clock: Clock | None = None):
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self.clock = clock or REAL_CLOCK
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: CacheKey, response: DNSRecord) -> bool:
        """Keep ``response`` if it may be cached; True if it was."""
        ttl = cacheable_ttl(response, self.max_ttl)
        if ttl <= 0 or self.max_entries <= 0:
            return False
        self._entries[key] = _Entry(response.pack(), self.clock.now(), ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True

    def get(self, key: CacheKey, message_id: int) -> DNSRecord | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        age = int(self.clock.now() - entry.stored_at)
        if age >= entry.ttl:
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        response = DNSRecord.parse(entry.packed)
        response.header.id = message_id
        for rr in (*response.rr, *response.auth, *response.ar):
            if rr.rtype != QTYPE.OPT:
                rr.ttl = max(0, min(rr.ttl, entry.ttl) - age)
        return response

    def clear(self) -> None:
        self._entries.clear()
