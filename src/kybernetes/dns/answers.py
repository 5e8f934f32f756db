"""Cluster answers: from a parsed name and a query type to resource records (the kubernetes plugin).

    name kind        A / AAAA                         SRV                               other types
    Service          clusterIPs (headless: every      one per port -> <svc> (headless:  NODATA
                     ready endpoint's address)        one per endpoint and port)
    ExternalName     CNAME <target> (+ the target's addresses, chased by the caller)
    Endpoint         that endpoint's addresses        NODATA                            NODATA
    _port._proto     the Service's addresses          the port's SRV records            NODATA
    Pod (a-b-c-d)    the address in the name          NODATA                            NODATA
    apex             NODATA (SOA and NS answer)

NXDOMAIN when the name cannot exist: no such Service, no such endpoint or port, or a headless
Service without a ready endpoint (kube-dns and CoreDNS answer that, and the DNS spec followed).
The server adds the SOA to the authority section of every negative answer. Every cluster
record has the same short TTL (5 s, as CoreDNS), so a change is seen by clients within seconds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A

from kybernetes.dns.names import (
    EndpointName,
    Interior,
    NameServerName,
    PodName,
    PortName,
    ServiceName,
    VersionName,
    in_zone,
    parse_cluster_name,
)
from kybernetes.dns.records import ClusterRecords, Port, ServiceRecord

TTL = 5
SCHEMA_VERSION = "1.1.0"
MAX_CNAME_CHAIN = 8


@dataclass
class ClusterAnswer:
    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    chase: str = ""  # a CNAME target outside the zone whose addresses the caller resolves upstream


def soa_record(records: ClusterRecords) -> RR:
    zone = records.zone
    return RR(zone + ".", QTYPE.SOA, ttl=TTL,
              rdata=SOA(f"ns.dns.{zone}.", f"hostmaster.{zone}.", (records.serial % 2**32, 7200, 1800, 86400, TTL)))


def _address_rr(owner: str, address: str) -> RR | None:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return RR(owner, QTYPE.A, ttl=TTL, rdata=A(address))
    return RR(owner, QTYPE.AAAA, ttl=TTL, rdata=AAAA(address))


def _addresses(owner: str, addresses: list[str], qtype: int) -> list[RR]:
    wanted = {QTYPE.A: 4, QTYPE.AAAA: 6}.get(qtype)
    out = []
    for address in dict.fromkeys(addresses):
        try:
            version = ipaddress.ip_address(address).version
        except ValueError:
            continue
        if wanted is None or version == wanted:
            out.append(_address_rr(owner, address))
    return out


def _weights(count: int) -> int:
    return max(1, 100 // count) if count else 100


def _port_matches(port: Port, name: str, protocol: str) -> bool:
    return (name in ("*", "any") or port.name == name) and (protocol in ("*", "any") or port.protocol == protocol)


class ClusterResolver:
    """Answers for names in the cluster domain, from ``records``; ``dns_ip`` names ns.dns.<zone>."""

    def __init__(self, records: ClusterRecords, dns_ip: str = ""):
        self.records = records
        self.dns_ip = dns_ip

    @property
    def zone(self) -> str:
        return self.records.zone

    def lookup(self, owner: str, name: str, qtype: int, depth: int = 0) -> ClusterAnswer:
        """``owner`` is the name as asked (echoed in records), ``name`` its normalized form."""
        parsed = parse_cluster_name(name, self.zone)
        if isinstance(parsed, ServiceName):
            return self._service(owner, parsed, qtype, depth)
        if isinstance(parsed, EndpointName):
            return self._endpoint(owner, parsed, qtype)
        if isinstance(parsed, PortName):
            return self._port(owner, parsed, qtype)
        if isinstance(parsed, PodName):
            return ClusterAnswer(answers=_addresses(owner, [parsed.address], qtype)
                                 if qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY) else [])
        if isinstance(parsed, Interior):
            return self._interior(owner, parsed, qtype)
        if isinstance(parsed, VersionName):
            return ClusterAnswer(answers=[RR(owner, QTYPE.TXT, ttl=TTL, rdata=TXT(SCHEMA_VERSION))]
                                 if qtype in (QTYPE.TXT, QTYPE.ANY) else [])
        if isinstance(parsed, NameServerName):
            return ClusterAnswer(answers=_addresses(owner, [self.dns_ip], qtype) if self.dns_ip
                                 and qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY) else [])
        return ClusterAnswer(rcode=RCODE.NXDOMAIN)

    def reverse(self, owner: str, address: str) -> ClusterAnswer | None:
        """PTR records for a Service or endpoint address; None when the address is not ours."""
        names = self.records.names_for_address(address)
        if not names:
            return None
        return ClusterAnswer(answers=[RR(owner, QTYPE.PTR, ttl=TTL, rdata=PTR(n + ".")) for n in names])

    # -- per kind ------------------------------------------------------------------------------

    def _service(self, owner: str, parsed: ServiceName, qtype: int, depth: int) -> ClusterAnswer:
        svc = self.records.service(parsed.namespace, parsed.service)
        if svc is None:
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        if svc.external_name:
            return self._external_name(owner, svc, qtype, depth)
        if svc.headless:
            endpoints = self.records.endpoints(parsed.namespace, parsed.service)
            if not endpoints:
                return ClusterAnswer(rcode=RCODE.NXDOMAIN)
            if qtype == QTYPE.SRV:
                return self._srv(owner, svc, "*", "*")
            return ClusterAnswer(answers=_addresses(owner, [a for ep, _ in endpoints for a in ep.addresses], qtype)
                                 if qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY) else [])
        if qtype == QTYPE.SRV:
            return self._srv(owner, svc, "*", "*")
        if qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY):
            return ClusterAnswer(answers=_addresses(owner, list(svc.cluster_ips), qtype))
        return ClusterAnswer()

    def _external_name(self, owner: str, svc: ServiceRecord, qtype: int, depth: int) -> ClusterAnswer:
        target = svc.external_name
        answer = ClusterAnswer(answers=[RR(owner, QTYPE.CNAME, ttl=TTL, rdata=CNAME(target + "."))])
        if qtype == QTYPE.CNAME:
            return answer
        if in_zone(target, self.zone):
            if depth < MAX_CNAME_CHAIN:
                inner = self.lookup(target + ".", target, qtype, depth + 1)
                answer.answers += inner.answers
                answer.additional += inner.additional
                answer.chase = inner.chase
        else:
            answer.chase = target
        return answer

    def _endpoint(self, owner: str, parsed: EndpointName, qtype: int) -> ClusterAnswer:
        if self.records.service(parsed.namespace, parsed.service) is None:
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        addresses = [a for ep, _ in self.records.endpoints(parsed.namespace, parsed.service)
                     if ep.hostname == parsed.endpoint for a in ep.addresses]
        if not addresses:
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        return ClusterAnswer(answers=_addresses(owner, addresses, qtype)
                             if qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY) else [])

    def _port(self, owner: str, parsed: PortName, qtype: int) -> ClusterAnswer:
        svc = self.records.service(parsed.namespace, parsed.service)
        if svc is None:
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        srv = self._srv(owner, svc, parsed.port, parsed.protocol)
        if not srv.answers:
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            return srv
        if qtype in (QTYPE.A, QTYPE.AAAA):
            if svc.headless:
                return ClusterAnswer(answers=_addresses(owner, [
                    a for ep, _ in self.records.endpoints(svc.namespace, svc.name) for a in ep.addresses], qtype))
            return ClusterAnswer(answers=_addresses(owner, list(svc.cluster_ips), qtype))
        return ClusterAnswer()

    def _srv(self, owner: str, svc: ServiceRecord, port_name: str, protocol: str) -> ClusterAnswer:
        """SRV records of the matching ports, with the targets' addresses as additional records."""
        fqdn = self.records.service_fqdn(svc.namespace, svc.name)
        targets: list[tuple[str, int, list[str]]] = []  # (target, port, addresses)
        if svc.external_name:
            targets = [(svc.external_name, p.port, []) for p in svc.ports if _port_matches(p, port_name, protocol)]
        elif svc.headless:
            for ep, slice_ in self.records.endpoints(svc.namespace, svc.name):
                for p in slice_.ports:
                    if _port_matches(p, port_name, protocol):
                        targets.append((f"{ep.hostname}.{fqdn}", p.port, list(ep.addresses)))
        else:
            targets = [(fqdn, p.port, list(svc.cluster_ips)) for p in svc.ports
                       if _port_matches(p, port_name, protocol)]
        weight = _weights(len(targets))
        answer = ClusterAnswer()
        seen_additional: set[str] = set()
        for target, port, addresses in targets:
            answer.answers.append(RR(owner, QTYPE.SRV, ttl=TTL,
                                     rdata=SRV(priority=0, weight=weight, port=port, target=target + ".")))
            if target not in seen_additional:
                seen_additional.add(target)
                answer.additional += _addresses(target + ".", addresses, QTYPE.ANY)
        return answer

    def _interior(self, owner: str, parsed: Interior, qtype: int) -> ClusterAnswer:
        if parsed.namespace is not None and not self.records.namespace_exists(parsed.namespace):
            return ClusterAnswer(rcode=RCODE.NXDOMAIN)
        if not parsed.apex:
            return ClusterAnswer()
        if qtype == QTYPE.SOA:
            return ClusterAnswer(answers=[soa_record(self.records)])
        if qtype == QTYPE.NS:
            ns_name = f"ns.dns.{self.zone}."
            answer = ClusterAnswer(answers=[RR(owner, QTYPE.NS, ttl=TTL, rdata=NS(ns_name))])
            if self.dns_ip:
                answer.additional = _addresses(ns_name, [self.dns_ip], QTYPE.ANY)
            return answer
        return ClusterAnswer()
