"""ClusterRecords: what the DNS server knows, kept current by Service and EndpointSlice events.

    Service events ──► set_service / delete_service ──► services[(ns, name)] ─┐
    EndpointSlice events ──► set_slice / delete_slice ──► slices by service ──┼─► lookups (answers.py)
                                                                             └─► reverse[ip] -> names

Objects are boiled down on arrival to the few fields DNS needs (frozen records), so a lookup
touches small tuples instead of API dicts, and nothing a query does can alter the informers'
cache. Every object's contribution to the reverse (PTR) map is remembered by its key, so an update
or delete takes back exactly what that object added: no full rebuild on churn.
An endpoint is named by its hostname if it has one (StatefulSet pods), otherwise by its first
address with dashes (10-1-2-3), as CoreDNS names them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from kybernetes.dns.names import dashed

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Port:
    name: str
    protocol: str  # lower case: tcp, udp, sctp
    port: int


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName
    external_name: str  # set only for ExternalName
    headless: bool
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    addresses: tuple[str, ...]
    hostname: str  # the DNS label of this endpoint: spec hostname or the dashed first address
    ready: bool


@dataclass(frozen=True, slots=True)
class SliceRecord:
    namespace: str
    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _ports(raw: Any) -> tuple[Port, ...]:
    ports = []
    for p in raw or []:
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            continue
        ports.append(Port(str(p.get("name") or "").lower(), str(p.get("protocol") or "TCP").lower(), p["port"]))
    return tuple(ports)


def service_record(obj: dict[str, Any]) -> ServiceRecord:
    namespace, name = _key(obj)
    spec = obj.get("spec") or {}
    service_type = spec.get("type") or "ClusterIP"
    cluster_ip = spec.get("clusterIP") or ""
    ips = [ip for ip in (spec.get("clusterIPs") or [cluster_ip]) if isinstance(ip, str) and ip and ip != "None"]
    external = ""
    if service_type == "ExternalName":
        external = str(spec.get("externalName") or "").rstrip(".").lower()
        ips = []
    return ServiceRecord(namespace, name.lower(), tuple(ips), external,
                         headless=cluster_ip == "None" and service_type != "ExternalName",
                         ports=_ports(spec.get("ports")))


def slice_record(obj: dict[str, Any]) -> SliceRecord | None:
    """None for a slice that belongs to no Service (no kubernetes.io/service-name label)."""
    namespace, _ = _key(obj)
    service = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return None
    endpoints = []
    for ep in obj.get("endpoints") or []:
        if not isinstance(ep, dict):
            continue
        addresses = tuple(a for a in ep.get("addresses") or [] if isinstance(a, str) and a)
        if not addresses:
            continue
        ready = (ep.get("conditions") or {}).get("ready")
        hostname = ep.get("hostname") if isinstance(ep.get("hostname"), str) else ""
        endpoints.append(Endpoint(addresses, (hostname or dashed(addresses[0])).lower(), ready is not False))
    return SliceRecord(namespace, str(service).lower(), tuple(endpoints), _ports(obj.get("ports")))


class ClusterRecords:
    def __init__(self, zone: str):
        self.zone = zone.strip(".").lower()
        self.services: dict[Key, ServiceRecord] = {}
        self.slices: dict[Key, SliceRecord] = {}
        self._slices_by_service: dict[Key, dict[str, SliceRecord]] = defaultdict(dict)
        self._services_per_namespace: Counter[str] = Counter()
        self._reverse: dict[str, Counter[str]] = defaultdict(Counter)
        self._contributions: dict[tuple[str, Key], list[tuple[str, str]]] = {}
        self.serial = 1  # bumped on every change: the SOA serial

    # -- events ------------------------------------------------------------------------------

    def set_service(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        record = service_record(obj)
        lookup_key = (key[0].lower(), record.name)
        if lookup_key not in self.services:
            self._services_per_namespace[lookup_key[0]] += 1
        self.services[lookup_key] = record
        fqdn = self.service_fqdn(record.namespace, record.name)
        self._contribute(("svc", key), [(ip, fqdn) for ip in record.cluster_ips])
        self.serial += 1

    def delete_service(self, obj: dict[str, Any]) -> None:
        namespace, name = _key(obj)
        if self.services.pop((namespace.lower(), name.lower()), None) is not None:
            self._services_per_namespace[namespace.lower()] -= 1
            if self._services_per_namespace[namespace.lower()] <= 0:
                del self._services_per_namespace[namespace.lower()]
        self._contribute(("svc", (namespace, name)), [])
        self.serial += 1

    def set_slice(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        record = slice_record(obj)
        self._drop_slice(key)
        if record is not None:
            self.slices[key] = record
            self._slices_by_service[(record.namespace.lower(), record.service)][key[1]] = record
            base = self.service_fqdn(record.namespace, record.service)
            self._contribute(("slice", key), [(address, f"{ep.hostname}.{base}") for ep in record.endpoints
                                              if ep.ready for address in ep.addresses])
        self.serial += 1

    def delete_slice(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        self._drop_slice(key)
        self._contribute(("slice", key), [])
        self.serial += 1

    def _drop_slice(self, key: Key) -> None:
        old = self.slices.pop(key, None)
        if old is not None:
            by_service = self._slices_by_service.get((old.namespace.lower(), old.service))
            if by_service is not None:
                by_service.pop(key[1], None)
                if not by_service:
                    del self._slices_by_service[(old.namespace.lower(), old.service)]

    def _contribute(self, owner: tuple[str, Key], pairs: list[tuple[str, str]]) -> None:
        for ip, name in self._contributions.pop(owner, []):
            names = self._reverse.get(ip)
            if names is not None:
                names[name] -= 1
                if names[name] <= 0:
                    del names[name]
                if not names:
                    del self._reverse[ip]
        if pairs:
            self._contributions[owner] = pairs
            for ip, name in pairs:
                self._reverse[_canonical_ip(ip)][name] += 1

    # -- lookups -----------------------------------------------------------------------------

    def service_fqdn(self, namespace: str, service: str) -> str:
        return f"{service}.{namespace}.svc.{self.zone}".lower()

    def service(self, namespace: str, name: str) -> ServiceRecord | None:
        return self.services.get((namespace, name))

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self._services_per_namespace

    def endpoints(self, namespace: str, service: str, *, ready_only: bool = True) -> list[tuple[Endpoint, SliceRecord]]:
        """Endpoints of a Service across its slices; an address in two slices is listed once."""
        out: list[tuple[Endpoint, SliceRecord]] = []
        seen: set[tuple[str, ...]] = set()
        for record in self._slices_by_service.get((namespace, service), {}).values():
            for ep in record.endpoints:
                if (ready_only and not ep.ready) or ep.addresses in seen:
                    continue
                seen.add(ep.addresses)
                out.append((ep, record))
        return out

    def names_for_address(self, address: str) -> list[str]:
        return sorted(self._reverse.get(_canonical_ip(address), ()))


def _canonical_ip(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
