"""Reading a query name: which cluster record it asks for, if any (pure).

Names under the cluster domain (CoreDNS's kubernetes plugin schema, version 1.1.0):

    <svc>.<ns>.svc.<d>                     a Service                        ServiceName
    <ep>.<svc>.<ns>.svc.<d>                one endpoint (hostname or a-b-c-d) EndpointName
    _<port>._<proto>.<svc>.<ns>.svc.<d>    a named port                     PortName
    <a-b-c-d>.<ns>.pod.<d>                 a pod by address ("pods insecure") PodName
    <ns>.svc.<d>, svc.<d>, pod.<d>, <d>    empty non-terminals / the apex   Interior
    dns-version.<d>                        the schema version (TXT)         VersionName
    ns.dns.<d>                             the DNS server itself            NameServerName
    anything else under <d>                NXDOMAIN                         None

Reverse names (``in-addr.arpa``, ``ip6.arpa``) are turned back into an address by
``reverse_address``. Names are compared in lower case, without the trailing dot.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceName:
    namespace: str
    service: str


@dataclass(frozen=True, slots=True)
class EndpointName:
    namespace: str
    service: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class PortName:
    namespace: str
    service: str
    port: str  # without the leading underscore; "*" matches any
    protocol: str  # "tcp", "udp", "sctp" or "*"


@dataclass(frozen=True, slots=True)
class PodName:
    namespace: str
    address: str


@dataclass(frozen=True, slots=True)
class Interior:
    """A name that exists only because names exist below it (or the apex): NODATA, never NXDOMAIN."""

    namespace: str | None = None  # set for <ns>.svc.<d>: exists only while the namespace has services
    apex: bool = False


@dataclass(frozen=True, slots=True)
class VersionName:
    pass


@dataclass(frozen=True, slots=True)
class NameServerName:
    pass


ClusterName = ServiceName | EndpointName | PortName | PodName | Interior | VersionName | NameServerName


def normalize(name: str) -> str:
    return name.rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """Whether the (normalized) ``name`` is ``zone`` or below it."""
    return name == zone or name.endswith("." + zone)


def parse_cluster_name(name: str, zone: str) -> ClusterName | None:
    """What ``name`` (normalized, inside ``zone``) means; None for a name that cannot exist."""
    if name == zone:
        return Interior(apex=True)
    labels = name[: -len(zone) - 1].split(".")
    labels.reverse()  # from the zone downwards: ["svc", ns, svc, ...]
    kind, rest = labels[0], labels[1:]
    if kind == "svc":
        return _service_name(rest)
    if kind == "pod":
        if not rest:
            return Interior()
        if len(rest) == 1:
            return Interior(namespace=None)  # <ns>.pod.<d>: a non-terminal in insecure mode
        if len(rest) == 2:
            address = _dashed_address(rest[1])
            return PodName(rest[0], address) if address else None
        return None
    if labels == ["dns-version"]:
        return VersionName()
    if labels == ["dns", "ns"]:
        return NameServerName()
    if labels == ["dns"]:
        return Interior()
    return None


def _service_name(rest: list[str]) -> ClusterName | None:
    if not rest:
        return Interior()
    namespace = rest[0]
    if len(rest) == 1:
        return Interior(namespace=namespace)
    service = rest[1]
    if len(rest) == 2:
        return ServiceName(namespace, service)
    if len(rest) == 3:
        endpoint = rest[2]
        if endpoint.startswith("_"):  # _<proto>.<svc>: an interior name of the SRV tree
            return Interior(namespace=namespace) if endpoint[1:] in ("tcp", "udp", "sctp") else None
        return EndpointName(namespace, service, endpoint)
    if len(rest) == 4:
        protocol, port = rest[2], rest[3]
        if protocol.startswith("_") and port.startswith("_"):
            return PortName(namespace, service, port[1:], protocol[1:])
        if protocol in ("*", "any") or port in ("*", "any"):
            return PortName(namespace, service, port.lstrip("_"), protocol.lstrip("_"))
    return None


def _dashed_address(label: str) -> str | None:
    """10-1-2-3 -> 10.1.2.3; fd00--1 -> fd00::1; None for anything that is not an address."""
    if label.count("-") == 3:
        candidate = label.replace("-", ".")
    else:
        candidate = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def dashed(address: str) -> str:
    """The label form of an address: 10.1.2.3 -> 10-1-2-3, fd00::1 -> fd00--1."""
    return address.replace(".", "-").replace(":", "-")


def reverse_address(name: str) -> str | None:
    """1.0.0.10.in-addr.arpa -> 10.0.0.1 (and ip6.arpa nibbles); None if not a full address."""
    if name.endswith(".in-addr.arpa"):
        octets = name[: -len(".in-addr.arpa")].split(".")
        if len(octets) != 4:
            return None
        candidate = ".".join(reversed(octets))
    elif name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        hexdigits = "".join(reversed(nibbles))
        candidate = ":".join(hexdigits[i:i + 4] for i in range(0, 32, 4))
    else:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def is_reverse(name: str) -> bool:
    return name.endswith(".in-addr.arpa") or name.endswith(".ip6.arpa") \
        or name in ("in-addr.arpa", "ip6.arpa")
