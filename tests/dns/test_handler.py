"""QueryHandler without sockets: protocol checks, EDNS0, truncation, and records following churn."""

from __future__ import annotations

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSQuestion, DNSRecord

from kybernetes.dns.answers import ClusterResolver
from kybernetes.dns.forward import Forwarder
from kybernetes.dns.handler import QueryHandler
from kybernetes.dns.records import ClusterRecords


def svc(name, ip, ns="default", **spec):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80}], **spec}}


def eps(name, service, ips, ns="default"):
    return {"metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [ip]} for ip in ips], "ports": [{"name": "http", "port": 8080}]}


def make_handler():
    records = ClusterRecords("cluster.local")
    return QueryHandler(ClusterResolver(records, "10.43.0.10"), Forwarder([])), records


def ask(handler, query: DNSRecord, udp=True) -> DNSRecord:
    reply, pending = handler.handle_now(query.pack(), udp)
    assert pending is None and reply is not None
    return DNSRecord.parse(reply)


def test_protocol_errors():
    handler, _ = make_handler()
    notify = DNSRecord(DNSHeader(opcode=OPCODE.NOTIFY), q=DNSQuestion("x.cluster.local"))
    assert ask(handler, notify).header.rcode == RCODE.NOTIMP
    two = DNSRecord(DNSHeader(), questions=[DNSQuestion("a.cluster.local"), DNSQuestion("b.cluster.local")])
    assert ask(handler, two).header.rcode == RCODE.FORMERR
    response = DNSRecord.question("a.cluster.local").reply()
    assert handler.handle_now(response.pack(), True) == (None, None)  # never answer an answer
    assert handler.handle_now(b"\x00\x01", True) == (None, None)  # too short even for a header


def test_edns0_version_and_opt_in_reply():
    handler, _ = make_handler()
    query = DNSRecord.question("cluster.local", "SOA")
    query.add_ar(EDNS0(udp_len=4096))
    reply = ask(handler, query)
    assert [QTYPE.get(rr.rtype) for rr in reply.ar] == ["OPT"]
    assert QTYPE.get(reply.rr[0].rtype) == "SOA"
    future = DNSRecord.question("cluster.local", "SOA")
    future.add_ar(EDNS0(udp_len=4096, version=1))
    reply = ask(handler, future)
    assert reply.ar[0].ttl >> 24 == 1  # extended rcode BADVERS (16) = 1 << 4
    assert reply.rr == []


def test_apex_ns_and_version_records():
    handler, _ = make_handler()
    ns = ask(handler, DNSRecord.question("cluster.local", "NS"))
    assert str(ns.rr[0].rdata) == "ns.dns.cluster.local." and str(ns.ar[0].rdata) == "10.43.0.10"
    txt = ask(handler, DNSRecord.question("dns-version.cluster.local", "TXT"))
    assert str(txt.rr[0].rdata) == '"1.1.0"'


def test_udp_truncates_what_does_not_fit_and_tcp_does_not():
    handler, records = make_handler()
    records.set_service(svc("big", "None"))
    records.set_slice(eps("big-1", "big", [f"10.42.0.{i}" for i in range(1, 60)]))
    query = DNSRecord.question("big.default.svc.cluster.local")
    udp = ask(handler, query)
    assert udp.header.tc == 1 and udp.rr == []
    tcp = ask(handler, query, udp=False)
    assert tcp.header.tc == 0 and len(tcp.rr) == 59


def test_records_follow_updates_and_deletes():
    handler, records = make_handler()
    records.set_service(svc("web", "10.43.1.1"))
    assert records.names_for_address("10.43.1.1") == ["web.default.svc.cluster.local"]
    records.set_service(svc("web", "10.43.1.2"))  # recreated at another IP
    assert records.names_for_address("10.43.1.1") == []
    assert records.names_for_address("10.43.1.2") == ["web.default.svc.cluster.local"]
    records.set_service(svc("db", "None"))
    records.set_slice(eps("db-1", "db", ["10.42.0.1"]))
    records.set_slice(eps("db-2", "db", ["10.42.0.2", "10.42.0.1"]))  # the same address in two slices
    answer = ask(handler, DNSRecord.question("db.default.svc.cluster.local"))
    assert sorted(str(rr.rdata) for rr in answer.rr) == ["10.42.0.1", "10.42.0.2"]
    records.delete_slice(eps("db-1", "db", []))
    assert records.names_for_address("10.42.0.1") == ["10-42-0-1.db.default.svc.cluster.local"]
    records.delete_slice(eps("db-2", "db", []))
    assert records.names_for_address("10.42.0.1") == []
    assert ask(handler, DNSRecord.question("db.default.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN
    records.delete_service(svc("web", ""))
    records.delete_service(svc("db", ""))
    assert not records.namespace_exists("default")
    assert ask(handler, DNSRecord.question("default.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN


def test_dual_stack_service_answers_a_and_aaaa():
    handler, records = make_handler()
    records.set_service(svc("web", "10.43.1.1", clusterIPs=["10.43.1.1", "fd00:43::1"]))
    a = ask(handler, DNSRecord.question("web.default.svc.cluster.local", "A"))
    aaaa = ask(handler, DNSRecord.question("web.default.svc.cluster.local", "AAAA"))
    assert [str(rr.rdata) for rr in a.rr] == ["10.43.1.1"]
    assert [str(rr.rdata) for rr in aaaa.rr] == ["fd00:43::1"]
    ptr = ask(handler, DNSRecord.question(
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa", "PTR"))
    assert [str(rr.rdata) for rr in ptr.rr] == ["web.default.svc.cluster.local."]


def test_names_outside_the_zone_and_unknown_reverse_names_go_upstream():
    handler, _ = make_handler()
    assert handler.handle_now(DNSRecord.question("example.com").pack(), True)[1] is not None
    assert handler.handle_now(DNSRecord.question("4.3.2.1.in-addr.arpa", "PTR").pack(), True)[1] is not None


def test_repeated_questions_reuse_the_reply_with_a_fresh_id_until_records_change():
    handler, records = make_handler()
    records.set_service(svc("web", "10.43.1.1"))
    first = DNSRecord(DNSHeader(id=1, rd=1), q=DNSQuestion("web.default.svc.cluster.local"))
    second = DNSRecord(DNSHeader(id=2, rd=1), q=DNSQuestion("web.default.svc.cluster.local"))
    a, b = ask(handler, first), ask(handler, second)
    assert (a.header.id, b.header.id) == (1, 2) and str(a.rr[0].rdata) == str(b.rr[0].rdata) == "10.43.1.1"
    records.set_service(svc("web", "10.43.1.9"))
    assert str(ask(handler, first).rr[0].rdata) == "10.43.1.9"
