"""Fixtures: a real apiserver, a fake upstream resolver and the cluster DNS server, all on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from dnslib import EDNS0, QTYPE, DNSRecord

from kybernetes.client.rest import ApiClient
from kybernetes.dns import ClusterDns, DnsConfig
from kybernetes.testing.apiserver import TestApiServer
from tests.dns.fake_upstream import FakeUpstream

DNS_IP = "10.43.0.10"


@dataclass
class DnsCluster:
    client: ApiClient
    dns: ClusterDns
    upstream: FakeUpstream

    async def ask(self, name: str, qtype: str = "A", *, tcp: bool = False, edns: int = 0) -> DNSRecord:
        """Ask the server with dnslib's own client (blocking, so in a thread)."""
        question = DNSRecord.question(name, qtype)
        if edns:
            question.add_ar(EDNS0(udp_len=edns))
        host, port = self.dns.address
        raw = await asyncio.to_thread(question.send, host, port, tcp=tcp, timeout=3)
        return DNSRecord.parse(raw)


@pytest.fixture
async def upstream():
    async with FakeUpstream() as fake:
        yield fake


@pytest.fixture
async def cluster(upstream):
    async with TestApiServer() as srv, srv.client() as client:
        config = DnsConfig(host="127.0.0.1", port=0, upstreams=[("127.0.0.1", upstream.port)], dns_ip=DNS_IP,
                           upstream_timeout=1.0)
        async with ClusterDns(client, config) as dns:
            yield DnsCluster(client, dns, upstream)


def answers(reply: DNSRecord, rtype: str | None = None) -> list[str]:
    """The answer section's rdata as text, sorted, optionally only one type."""
    return sorted(str(rr.rdata) for rr in reply.rr if rtype is None or QTYPE.get(rr.rtype) == rtype)
