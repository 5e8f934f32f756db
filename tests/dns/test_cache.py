"""AnswerCache: TTLs counted down on a fake clock, caps, negative answers, what is never kept, LRU."""

from __future__ import annotations

from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord

from kybernetes.dns.cache import AnswerCache
from kybernetes.util.clock import FakeClock


def reply(name="a.example.", ttl=20, rcode=RCODE.NOERROR, soa_min=None, tc=0):
    r = DNSRecord.question(name).reply()
    r.header.rcode = rcode
    r.header.tc = tc
    if rcode == RCODE.NOERROR and soa_min is None:
        r.add_answer(RR(name, QTYPE.A, ttl=ttl, rdata=A("192.0.2.1")))
    if soa_min is not None:
        r.add_auth(RR("example.", QTYPE.SOA, ttl=ttl, rdata=SOA("ns.", "h.", (1, 1, 1, 1, soa_min))))
    return r


def key(name="a.example."):
    return (name, QTYPE.A, 1, False)


async def test_ttl_counts_down_and_expires():
    clock = FakeClock()
    cache = AnswerCache(clock=clock)
    assert cache.put(key(), reply(ttl=20))
    hit = cache.get(key(), 99)
    assert hit.header.id == 99 and hit.rr[0].ttl == 20
    await clock.advance(15)
    assert cache.get(key(), 1).rr[0].ttl == 5
    await clock.advance(5)
    assert cache.get(key(), 1) is None and len(cache) == 0


async def test_ttl_is_capped_by_max_ttl():
    clock = FakeClock()
    cache = AnswerCache(max_ttl=30, clock=clock)
    cache.put(key(), reply(ttl=3600))
    assert cache.get(key(), 1).rr[0].ttl == 30
    await clock.advance(30)
    assert cache.get(key(), 1) is None


async def test_negative_answers_live_for_the_soa_minimum():
    clock = FakeClock()
    cache = AnswerCache(clock=clock)
    assert cache.put(key(), reply(rcode=RCODE.NXDOMAIN, ttl=300, soa_min=10))
    await clock.advance(9)
    assert cache.get(key(), 1).header.rcode == RCODE.NXDOMAIN
    await clock.advance(1)
    assert cache.get(key(), 1) is None


def test_servfail_truncated_and_unbounded_negatives_are_not_kept():
    cache = AnswerCache()
    assert not cache.put(key(), reply(rcode=RCODE.SERVFAIL))
    assert not cache.put(key(), reply(tc=1))
    assert not cache.put(key(), reply(rcode=RCODE.NXDOMAIN))  # no SOA: no negative TTL
    assert not cache.put(key(), reply(ttl=0))
    assert len(cache) == 0


def test_least_recently_used_goes_first():
    cache = AnswerCache(max_entries=2)
    for name in ("a.", "b."):
        cache.put(key(name), reply(name))
    cache.get(key("a."), 1)  # a is now the most recent
    cache.put(key("c."), reply("c."))
    assert cache.get(key("b."), 1) is None
    assert cache.get(key("a."), 1) is not None and cache.get(key("c."), 1) is not None
