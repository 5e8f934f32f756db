"""The subsets of a core/v1 Endpoints object, built and packed as Kubernetes packs them.

    address_for(pod, service)      {"ip", "nodeName", "targetRef", ["hostname"]}
    desired_subsets(service, pods) one subset per (pod, port) first: ready pods' addresses in
                                   ``addresses``, the others in ``notReadyAddresses`` (all ready
                                   with publishNotReadyAddresses); then repacked:
    repack(subsets)                addresses that serve the same set of ports share one subset,
                                   a ready occurrence of an address wins over a not-ready one;
                                   addresses sorted by IP, subsets in a stable order
    truncate(subsets)              at most 1000 addresses (over-capacity: "truncated"), keeping
                                   each subset's share
"""

from __future__ import annotations

import math
from typing import Any

from kybernetes.controllers.endpoints_pods import (
    find_port,
    is_headless,
    is_pod_ready,
    pod_ips,
    service_families,
    should_be_in_endpoints,
    should_set_hostname,
)

Obj = dict[str, Any]

MAX_CAPACITY = 1000
NO_PORTS = ("", -1, "", "")  # sentinel port: headless services may have no ports


def address_for(pod: Obj, service: Obj) -> Obj | None:
    ips = pod_ips(pod, service_families(service)[0])
    if not ips:
        return None
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    address: Obj = {"ip": ips[0]}
    if should_set_hostname(pod, service):
        address["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    address["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                            "uid": meta.get("uid")}
    return address


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    raw: list[Obj] = []
    for pod in pods:
        if not should_be_in_endpoints(pod, publish_not_ready):
            continue
        address = address_for(pod, service)
        if address is None:
            continue
        field = "addresses" if publish_not_ready or is_pod_ready(pod) else "notReadyAddresses"
        service_ports = spec.get("ports") or []
        if not service_ports:
            if is_headless(service):
                raw.append({field: [address], "ports": []})
            continue
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                raw.append({field: [address], "ports": [endpoint_port(service_port, number)]})
    return repack(raw)


def _port_key(port: Obj) -> tuple[str, int, str, str]:
    return (port.get("name") or "", int(port.get("port") or 0), port.get("protocol") or "",
            port.get("appProtocol") or "")


def _address_key(address: Obj) -> tuple[str, str]:
    return (address.get("ip") or "", ((address.get("targetRef") or {}).get("uid")) or "")


def repack(subsets: list[Obj]) -> list[Obj]:
    addresses: dict[tuple[str, str], Obj] = {}
    ready_by_port: dict[tuple[str, int, str, str], dict[tuple[str, str], bool]] = {}
    ports_by_key: dict[tuple[str, int, str, str], Obj] = {}
    for subset in subsets:
        ports = subset.get("ports") or []
        port_keys = [_port_key(p) for p in ports] or [NO_PORTS]
        for port, key in zip(ports or [None], port_keys, strict=False):
            if port is not None:
                ports_by_key[key] = port
            seen = ready_by_port.setdefault(key, {})
            for field, ready in (("addresses", True), ("notReadyAddresses", False)):
                for address in subset.get(field) or []:
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    seen[akey] = seen.get(akey, False) or ready
    # Group the ports by the exact (address, readiness) set that serves them.
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[tuple[str, int, str, str]]] = {}
    for port_key, seen in ready_by_port.items():
        groups.setdefault(tuple(sorted(seen.items())), []).append(port_key)
    out = []
    for members, port_keys in groups.items():
        subset: Obj = {}
        ready = [addresses[a] for a, r in members if r]
        not_ready = [addresses[a] for a, r in members if not r]
        if ready:
            subset["addresses"] = sorted(ready, key=_address_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_address_key)
        ports = [ports_by_key[k] for k in sorted(port_keys) if k != NO_PORTS]
        if ports:
            subset["ports"] = ports
        out.append(subset)
    return sorted(out, key=_subset_key)


def _subset_key(subset: Obj) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return (_address_key(first), [_port_key(p) for p in subset.get("ports") or []])


def truncate(subsets: list[Obj]) -> bool:
    """Cut ``subsets`` (in place) to MAX_CAPACITY addresses; True if anything was cut."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    cut_ready = total_ready > MAX_CAPACITY
    room = MAX_CAPACITY if cut_ready else MAX_CAPACITY - total_ready
    total = total_ready if cut_ready else total_not_ready
    left = room
    field = "addresses" if cut_ready else "notReadyAddresses"
    for subset in subsets:
        share = min(math.ceil(len(subset.get(field) or []) / total * room), left)
        subset[field] = (subset.get(field) or [])[:share]
        if cut_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset[field])
        if not subset[field]:
            subset.pop(field)
    return True
