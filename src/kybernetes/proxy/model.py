"""What the proxy needs from Services and EndpointSlices, as small frozen values.

A Service becomes one ``ServicePort`` per spec.ports entry (IPv4 only: this proxier programs
``iptables``, not ``ip6tables``); its EndpointSlices become, per (port name, protocol), a list of
``Endpoint`` values. Everything here is pure: the proxier parses cache objects into these and
hands them to the rule writer, so rule generation is testable without an apiserver or a kernel.

Readiness follows the EndpointSlice API: ``ready`` missing means ready, ``serving`` missing means
"same as ready", ``terminating`` missing means not terminating. Several slices may list the same
address (a slice being split or merged); the proxy keeps one entry per ip:port, preferring the
ready copy, as kube-proxy's slice cache does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from socket import inet_aton, inet_ntoa
from typing import Any, NamedTuple

Obj = dict[str, Any]

DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, spec.sessionAffinityConfig.clientIP.timeoutSeconds
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"
SUPPORTED_PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True, slots=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP | UDP | SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    affinity_timeout: int = 0  # seconds; 0 = no session affinity
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def name_string(self) -> str:
        """``ns/svc:port`` (``ns/svc`` for an unnamed port): the comment kube-proxy writes."""
        return f"{self.namespace}/{self.name}:{self.port_name}" if self.port_name else f"{self.namespace}/{self.name}"

    @property
    def proto(self) -> str:
        return self.protocol.lower()

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Externally reachable services always need the cluster-wide chain: traffic from this node
        # to an external address short-circuits to it regardless of externalTrafficPolicy.
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.external_policy_local and self.externally_accessible)


class Endpoint(NamedTuple):
    """One ip:port behind a service port (a named tuple: tens of thousands are built per full
    sync, and a frozen dataclass costs several times more to construct)."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    is_local: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass
class ServiceState:
    """One Service as the proxy sees it: its ports and, per (port name, protocol), endpoints."""

    ports: list[ServicePort] = field(default_factory=list)
    endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)

    def endpoints_for(self, port: ServicePort) -> list[Endpoint]:
        return self.endpoints.get((port.port_name, port.protocol), [])


def _ipv4(value: Any) -> str | None:
    """``value`` as a canonical IPv4 address, or None. A canonical dotted quad (nearly every value
    seen) is the one text inet_aton and inet_ntoa give back unchanged; the rest go through
    ipaddress (a proxy of 10k services spends seconds there otherwise)."""
    if not isinstance(value, str):
        return None
    try:
        if inet_ntoa(inet_aton(value)) == value:
            return value
    except (OSError, ValueError):  # not an address at all, or a NUL in it
        return None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        return None


def _ipv4_cidr(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.IPv4Network(value.strip(), strict=False))
    except ValueError:
        return None


def proxied(service: Obj) -> bool:
    """False for services this proxy leaves alone: headless, ExternalName, or another proxy's."""
    meta = service.get("metadata") or {}
    if (meta.get("labels") or {}).get(PROXY_NAME_LABEL):
        return False
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return False
    return _ipv4(spec.get("clusterIP")) is not None


def service_ports(service: Obj) -> list[ServicePort]:
    """The proxied ports of a Service ([] for a service the proxy leaves alone)."""
    if not proxied(service):
        return []
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    cluster_ip = _ipv4(spec.get("clusterIP"))
    assert cluster_ip is not None
    svc_type = spec.get("type") or "ClusterIP"
    external_ips = tuple(ip for ip in (_ipv4(v) for v in spec.get("externalIPs") or []) if ip)
    lb_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    if svc_type == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        lb_ips = tuple(ip for ip in (_ipv4((i or {}).get("ip")) for i in ingress if isinstance(i, dict)) if ip)
        source_ranges = tuple(c for c in (_ipv4_cidr(r) for r in spec.get("loadBalancerSourceRanges") or []) if c)
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        timeout = config.get("timeoutSeconds")
        affinity = timeout if isinstance(timeout, int) and timeout > 0 else DEFAULT_AFFINITY_TIMEOUT
    external_local = spec.get("externalTrafficPolicy") == "Local"
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    health_port = spec.get("healthCheckNodePort") if external_local and svc_type == "LoadBalancer" else 0
    ports = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            continue
        protocol = p.get("protocol") or "TCP"
        if protocol not in SUPPORTED_PROTOCOLS:
            continue
        node_port = p.get("nodePort") if svc_type in ("NodePort", "LoadBalancer") else 0
        port = ServicePort(
            namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
            port_name=p.get("name") or "", protocol=protocol, cluster_ip=cluster_ip, port=p["port"],
            node_port=node_port if isinstance(node_port, int) else 0,
            external_ips=external_ips, load_balancer_ips=lb_ips, load_balancer_source_ranges=source_ranges,
            affinity_timeout=affinity,
            external_policy_local=external_local and bool(node_port or external_ips or lb_ips),
            internal_policy_local=internal_local,
            health_check_node_port=health_port if isinstance(health_port, int) else 0)
        ports.append(port)
    return ports


def slice_service_key(endpoint_slice: Obj) -> str | None:
    """``namespace/service`` a slice belongs to (its kubernetes.io/service-name label)."""
    meta = endpoint_slice.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or not meta.get("namespace"):
        return None
    return f"{meta['namespace']}/{service}"


def endpoints_from_slices(slices: list[Obj], node_name: str) -> dict[tuple[str, str], list[Endpoint]]:
    """Merge a service's IPv4 slices into (port name, protocol) -> endpoints, sorted by address
    (numerically, then by port)."""
    merged: dict[tuple[str, str], dict[tuple[bytes, int], Endpoint]] = {}
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType") != "IPv4":
            continue
        ports = []
        for p in endpoint_slice.get("ports") or []:
            number = p.get("port") if isinstance(p, dict) else None
            if isinstance(number, int) and 0 < number < 65536:
                ports.append((merged.setdefault((p.get("name") or "", p.get("protocol") or "TCP"), {}), number))
        if not ports:
            continue
        for item in endpoint_slice.get("endpoints") or []:
            if not isinstance(item, dict):
                continue
            addresses = item.get("addresses") or []
            ip = _ipv4(addresses[0]) if addresses else None
            if ip is None:
                continue
            order = inet_aton(ip)  # 4 bytes, big-endian: they sort as the addresses do
            conditions = item.get("conditions") or {}
            ready = conditions.get("ready") is not False
            serving = conditions.get("serving")
            serving = ready if serving is None else bool(serving)
            terminating = conditions.get("terminating") is True
            node = item.get("nodeName") or ""
            local = bool(node_name) and node == node_name
            for by_address, number in ports:
                known = by_address.get((order, number))
                if known is None or (ready and not known.ready):
                    by_address[(order, number)] = Endpoint(ip, number, ready, serving, terminating, node, local)
    return {key: [by[k] for k in sorted(by)] for key, by in merged.items() if by}
