"""The DNS server end to end: records from a real apiserver, asked with dnslib's client over UDP and TCP."""

from __future__ import annotations

import asyncio
import time

from dnslib import QTYPE, RCODE

from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.testing.waiting import eventually
from tests.dns.conftest import answers

NS = "default"
ZONE = "cluster.local"


def service(name, cluster_ip="10.43.1.1", ports=None, **spec):
    spec = {"clusterIP": cluster_ip, "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    if cluster_ip != "None" and spec.get("type") != "ExternalName":
        spec.setdefault("clusterIPs", [cluster_ip])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def endpoint_slice(name, service_name, endpoints, ports=None):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NS, "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}, **({"hostname": host} if host else {})}
                          for ip, host, ready in endpoints],
            "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]}


async def create_and_wait(cluster, resource, obj, name_to_resolve=None):
    await cluster.client.create(resource, obj, NS)
    key = (NS, obj["metadata"]["name"])
    store = cluster.dns.records.services if resource is SERVICES else cluster.dns.records.slices
    await eventually(lambda: key in store, timeout=2, what=f"{key} in the DNS records")


async def test_cluster_ip_service_a_over_udp_and_tcp(cluster):
    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1"))
    for tcp in (False, True):
        reply = await cluster.ask(f"web.{NS}.svc.{ZONE}", "A", tcp=tcp)
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
        assert answers(reply, "A") == ["10.43.1.1"]
        assert all(rr.ttl == 5 for rr in reply.rr)


async def test_aaaa_of_ipv4_service_is_nodata_with_soa(cluster):
    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1"))
    reply = await cluster.ask(f"web.{NS}.svc.{ZONE}", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and reply.rr == []
    assert [QTYPE.get(rr.rtype) for rr in reply.auth] == ["SOA"]


async def test_unknown_names_are_nxdomain_with_soa(cluster):
    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1"))
    for name in (f"nope.{NS}.svc.{ZONE}", f"web.otherns.svc.{ZONE}", f"a.b.c.d.e.{ZONE}",
                 f"example.com.{NS}.svc.{ZONE}", f"otherns.svc.{ZONE}"):
        reply = await cluster.ask(name, "A")
        assert reply.header.rcode == RCODE.NXDOMAIN, name
        assert [QTYPE.get(rr.rtype) for rr in reply.auth] == ["SOA"], name
    # The namespace and the zone's interior names exist: NODATA, not NXDOMAIN.
    for name in (f"{NS}.svc.{ZONE}", f"svc.{ZONE}", ZONE):
        reply = await cluster.ask(name, "A")
        assert reply.header.rcode == RCODE.NOERROR and reply.rr == [], name


async def test_srv_for_named_port_of_cluster_ip_service(cluster):
    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1", ports=[
        {"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]))
    reply = await cluster.ask(f"_http._tcp.web.{NS}.svc.{ZONE}", "SRV")
    assert reply.header.rcode == RCODE.NOERROR
    [srv] = reply.rr
    assert (srv.rdata.port, str(srv.rdata.target), srv.rdata.priority, srv.rdata.weight) == (
        80, f"web.{NS}.svc.{ZONE}.", 0, 100)
    assert [(str(rr.rname), str(rr.rdata)) for rr in reply.ar] == [(f"web.{NS}.svc.{ZONE}.", "10.43.1.1")]
    udp = await cluster.ask(f"_dns._udp.web.{NS}.svc.{ZONE}", "SRV")
    assert [rr.rdata.port for rr in udp.rr] == [53]
    assert (await cluster.ask(f"_dns._tcp.web.{NS}.svc.{ZONE}", "SRV")).header.rcode == RCODE.NXDOMAIN
    assert (await cluster.ask(f"_nope._tcp.web.{NS}.svc.{ZONE}", "SRV")).header.rcode == RCODE.NXDOMAIN
    every = await cluster.ask(f"web.{NS}.svc.{ZONE}", "SRV")
    assert sorted(rr.rdata.port for rr in every.rr) == [53, 80]


async def test_headless_service_endpoints_hostnames_and_srv(cluster):
    await create_and_wait(cluster, SERVICES, service("db", "None"))
    await create_and_wait(cluster, ENDPOINTSLICES, endpoint_slice("db-abc", "db", [
        ("10.42.0.5", "db-0", True), ("10.42.0.6", "db-1", True), ("10.42.0.7", "db-2", False),
        ("10.42.0.8", None, True)]))
    reply = await cluster.ask(f"db.{NS}.svc.{ZONE}", "A")
    assert answers(reply, "A") == ["10.42.0.5", "10.42.0.6", "10.42.0.8"]  # not the unready one
    pod0 = await cluster.ask(f"db-0.db.{NS}.svc.{ZONE}", "A")
    assert answers(pod0) == ["10.42.0.5"]
    dashed = await cluster.ask(f"10-42-0-8.db.{NS}.svc.{ZONE}", "A")
    assert answers(dashed) == ["10.42.0.8"]
    assert (await cluster.ask(f"db-2.db.{NS}.svc.{ZONE}", "A")).header.rcode == RCODE.NXDOMAIN
    srv = await cluster.ask(f"_http._tcp.db.{NS}.svc.{ZONE}", "SRV")
    targets = sorted((str(rr.rdata.target), rr.rdata.port) for rr in srv.rr)
    assert targets == [(f"10-42-0-8.db.{NS}.svc.{ZONE}.", 8080), (f"db-0.db.{NS}.svc.{ZONE}.", 8080),
                       (f"db-1.db.{NS}.svc.{ZONE}.", 8080)]
    assert {rr.rdata.weight for rr in srv.rr} == {33}
    assert sorted(str(rr.rdata) for rr in srv.ar) == ["10.42.0.5", "10.42.0.6", "10.42.0.8"]


async def test_headless_service_without_ready_endpoints_is_nxdomain(cluster):
    await create_and_wait(cluster, SERVICES, service("lonely", "None"))
    assert (await cluster.ask(f"lonely.{NS}.svc.{ZONE}", "A")).header.rcode == RCODE.NXDOMAIN


async def test_ptr_for_service_and_endpoint_addresses(cluster):
    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1"))
    await create_and_wait(cluster, SERVICES, service("db", "None"))
    await create_and_wait(cluster, ENDPOINTSLICES, endpoint_slice("db-abc", "db", [("10.42.0.5", "db-0", True)]))
    reply = await cluster.ask("1.1.43.10.in-addr.arpa", "PTR")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
    assert answers(reply, "PTR") == [f"web.{NS}.svc.{ZONE}."]
    reply = await cluster.ask("5.0.42.10.in-addr.arpa", "PTR")
    assert answers(reply, "PTR") == [f"db-0.db.{NS}.svc.{ZONE}."]


async def test_external_name_is_a_cname_chased_upstream(cluster):
    await create_and_wait(cluster, SERVICES, service("ext", "", type="ExternalName", externalName="www.example.test"))
    reply = await cluster.ask(f"ext.{NS}.svc.{ZONE}", "CNAME")
    assert answers(reply, "CNAME") == ["www.example.test."]
    reply = await cluster.ask(f"ext.{NS}.svc.{ZONE}", "A")
    assert answers(reply, "CNAME") == ["www.example.test."]
    assert answers(reply, "A") == ["192.0.2.7"]


async def test_pod_records_from_the_dashed_address(cluster):
    reply = await cluster.ask(f"10-42-1-9.{NS}.pod.{ZONE}", "A")
    assert answers(reply, "A") == ["10.42.1.9"]
    assert (await cluster.ask(f"not-an-ip.{NS}.pod.{ZONE}", "A")).header.rcode == RCODE.NXDOMAIN


async def test_other_names_are_forwarded_and_cached(cluster):
    first = await cluster.ask("www.example.test", "A")
    assert first.header.rcode == RCODE.NOERROR and first.header.aa == 0 and first.header.ra == 1
    assert answers(first, "A") == ["192.0.2.7"]
    second = await cluster.ask("www.example.test", "A", tcp=True)
    assert answers(second, "A") == ["192.0.2.7"]
    assert cluster.upstream.count("www.example.test") == 1  # the second came from the cache
    assert 0 < second.rr[0].ttl <= 30  # capped at the cache's 30 s
    missing = await cluster.ask("missing.example.test", "A")
    assert missing.header.rcode == RCODE.NXDOMAIN
    await cluster.ask("missing.example.test", "A")
    assert cluster.upstream.count("missing.example.test") == 1  # negative answers are cached too


async def test_truncation_and_tcp_fallback(cluster):
    udp = await cluster.ask("big.example.test", "A")
    assert udp.header.tc == 1 and udp.rr == []
    # The forwarder itself had to retry over TCP to get the full answer from upstream.
    assert [t for n, _, t in cluster.upstream.questions if n == "big.example.test"] == ["udp", "tcp"]
    tcp = await cluster.ask("big.example.test", "A", tcp=True)
    assert tcp.header.tc == 0 and len(tcp.rr) == 40
    edns = await cluster.ask("big.example.test", "A", edns=4096)
    assert edns.header.tc == 0 and len(edns.rr) == 40
    assert [QTYPE.get(rr.rtype) for rr in edns.ar] == ["OPT"]


async def test_new_service_resolves_within_a_second(cluster):
    name = f"fresh.{NS}.svc.{ZONE}"
    assert (await cluster.ask(name, "A")).header.rcode == RCODE.NXDOMAIN
    started = time.monotonic()
    await cluster.client.create(SERVICES, service("fresh", "10.43.7.7"), NS)
    while True:
        reply = await cluster.ask(name, "A")
        if answers(reply, "A") == ["10.43.7.7"]:
            break
        assert time.monotonic() - started < 1.0, "the new service did not resolve within 1 s"
        await asyncio.sleep(0.02)
    await cluster.client.delete(SERVICES, "fresh", NS)
    await eventually(lambda: (NS, "fresh") not in cluster.dns.records.services, timeout=1, what="service gone")
    assert (await cluster.ask(name, "A")).header.rcode == RCODE.NXDOMAIN


async def test_bad_messages_get_formerr_and_no_traceback(cluster):
    import socket

    host, port = cluster.dns.address
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    try:
        sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", (host, port))
        data, _ = await asyncio.to_thread(sock.recvfrom, 512)
    finally:
        sock.close()
    assert data[:2] == b"\x12\x34" and data[3] & 0x0F == RCODE.FORMERR
    # The server still answers afterwards.
    assert (await cluster.ask(f"10-0-0-1.{NS}.pod.{ZONE}", "A")).header.rcode == RCODE.NOERROR


async def test_dead_upstream_gives_servfail(cluster):
    cluster.dns.forwarder.upstreams = [("127.0.0.1", 1)]
    reply = await cluster.ask("elsewhere.example.test", "A")
    assert reply.header.rcode == RCODE.SERVFAIL


async def test_tcp_connection_carries_several_queries(cluster):
    import struct

    from dnslib import DNSRecord

    await create_and_wait(cluster, SERVICES, service("web", "10.43.1.1"))
    reader, writer = await asyncio.open_connection(*cluster.dns.address)
    try:
        for i, name in enumerate((f"web.{NS}.svc.{ZONE}", "www.example.test", f"nope.{NS}.svc.{ZONE}")):
            query = DNSRecord.question(name).pack()
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = DNSRecord.parse(await reader.readexactly(length))
            assert reply.header.rcode == [RCODE.NOERROR, RCODE.NOERROR, RCODE.NXDOMAIN][i], name
    finally:
        writer.close()
        await writer.wait_closed()
