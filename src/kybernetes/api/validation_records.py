"""Validation of the kinds components write to report state: Lease, EndpointSlice and Event.

Leader election compares durations and holders, proxies route to slice addresses, and event
readers group by the involved object, so each is held to the shape those readers assume.
Events keep the real server's two regimes: a core/v1 event without eventTime is checked
leniently (as old clients write them), one with eventTime, or any events.k8s.io/v1 event, must
name its reporting controller, instance, action and reason. Field paths are those of the core
Event type, as the real server reports them for both APIs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .errors import Cause
from .field_errors import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    duplicate,
    forbidden,
    immutable,
    invalid,
    not_supported,
    qualified_name_errors,
    required,
)

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
SLICE_PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
EVENT_TYPES = ("Normal", "Warning")
REPORTING_INSTANCE_LIMIT = ACTION_LIMIT = REASON_LIMIT = 128
NOTE_LIMIT = 1024


def validate_lease(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        causes.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    if spec.get("preferredHolder") and not spec.get("strategy"):
        causes.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes


def _special_ip_errors(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    # Loopback addresses are left allowed: Kybernetes nodes on a single machine report them.
    if ip.is_unspecified:
        return [f"may not be unspecified ({ip})"]
    if ip.is_link_local:
        return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]
    if ip.is_multicast and (ip in ipaddress.ip_network("224.0.0.0/24") or ip in ipaddress.ip_network("ff02::/16")):
        return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]
    return []


def _address_errors(address: Any, kind: str) -> list[str]:
    if kind == "FQDN":
        text = str(address)
        if len(text.split(".")) < 2:
            return ["should be a domain with at least two segments separated by dots"]
        return dns1123_subdomain_errors(text)
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        ip = None
    expected = ipaddress.IPv4Address if kind == "IPv4" else ipaddress.IPv6Address
    if not isinstance(ip, expected):
        return [f"must be a valid {kind} address"]
    return _special_ip_errors(ip)


def validate_endpoint_slice(obj: dict[str, Any]) -> list[Cause]:
    kind = obj.get("addressType") or ""
    causes: list[Cause] = []
    if not kind:
        causes.append(required("addressType"))
    elif kind not in ADDRESS_TYPES:
        causes.append(not_supported("addressType", kind, ADDRESS_TYPES))
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > MAX_ENDPOINTS:
        causes.append(Cause("FieldValueTooMany", f"Too many: {len(endpoints)}: must have at most {MAX_ENDPOINTS} "
                            "items", "endpoints"))
    for i, endpoint in enumerate(endpoints):
        p = f"endpoints[{i}]"
        endpoint = endpoint if isinstance(endpoint, dict) else {}
        addresses = endpoint.get("addresses") or []
        if not addresses:
            causes.append(required(f"{p}.addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            causes.append(Cause("FieldValueTooMany", f"Too many: {len(addresses)}: must have at most "
                                f"{MAX_ADDRESSES} items", f"{p}.addresses"))
        if kind in ADDRESS_TYPES:
            for j, address in enumerate(addresses):
                causes += [invalid(f"{p}.addresses[{j}]", address, m) for m in _address_errors(address, kind)]
        if endpoint.get("nodeName") is not None:
            causes += [invalid(f"{p}.nodeName", endpoint["nodeName"], m)
                       for m in dns1123_subdomain_errors(str(endpoint["nodeName"]))]
        if endpoint.get("hostname") is not None:
            causes += [invalid(f"{p}.hostname", endpoint["hostname"], m)
                       for m in dns1123_label_errors(str(endpoint["hostname"]))]
    names: set[str] = set()
    for i, port in enumerate(obj.get("ports") or []):
        p = f"ports[{i}]"
        port = port if isinstance(port, dict) else {}
        name = port.get("name") or ""
        if name:
            causes += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(str(name))]
        if name in names:
            causes.append(duplicate(f"{p}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            causes.append(required(f"{p}.protocol"))
        elif protocol not in SLICE_PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, SLICE_PROTOCOLS))
        if port.get("appProtocol") is not None:
            causes += [invalid(f"{p}.appProtocol", port["appProtocol"], m)
                       for m in qualified_name_errors(str(port["appProtocol"]))]
    return causes


def validate_endpoint_slice_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    if obj.get("addressType") != old.get("addressType"):
        return [immutable("addressType", obj.get("addressType"))]
    return []


def _event_namespace(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("namespace") or ""


def _strict_event_fields(event: dict[str, Any], controller_field: str) -> list[Cause]:
    causes = []
    controller = event.get("reportingController") or ""
    if not controller:
        causes.append(required(controller_field))
    causes += [invalid(controller_field, controller, m) for m in qualified_name_errors(controller)]
    for field, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT),
                         ("reason", REASON_LIMIT)):
        value = event.get(field) or ""
        if not value:
            causes.append(required(field))
        if len(value) > limit:
            causes.append(invalid(field, "", f"can have at most {limit} characters"))
    if len(event.get("message") or "") > NOTE_LIMIT:
        causes.append(invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    return causes


def _legacy_event(event: dict[str, Any], controller_field: str) -> list[Cause]:
    namespace = _event_namespace(event)
    involved = event.get("involvedObject") if isinstance(event.get("involvedObject"), dict) else {}
    involved_ns = involved.get("namespace") or ""
    causes = []
    if not event.get("eventTime"):
        mismatch = (not involved_ns and namespace not in ("", "default")) or (involved_ns and namespace != involved_ns)
    else:
        mismatch = not involved_ns and namespace not in ("default", "kube-system")
    if mismatch:  # (the cause is built only then: every event create comes this way)
        causes.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    if event.get("eventTime"):
        causes += _strict_event_fields(event, controller_field)
    return causes + [invalid("namespace", namespace, m) for m in dns1123_subdomain_errors(namespace)]


def validate_core_event(obj: dict[str, Any]) -> list[Cause]:
    return _legacy_event(obj, "reportingComponent")


def _as_core_event(obj: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event under the core field names the checks use."""
    series = obj.get("series") if isinstance(obj.get("series"), dict) else None
    return {**obj, "involvedObject": obj.get("regarding"), "message": obj.get("note"),
            "firstTimestamp": obj.get("deprecatedFirstTimestamp"), "lastTimestamp": obj.get("deprecatedLastTimestamp"),
            "count": obj.get("deprecatedCount"), "source": obj.get("deprecatedSource"), "series": series}


def validate_events_v1_event(obj: dict[str, Any]) -> list[Cause]:
    event = _as_core_event(obj) if "regarding" in obj or "note" in obj or "involvedObject" not in obj else obj
    causes = _legacy_event(event, "reportingController")
    if not event.get("eventTime"):
        causes.append(required("eventTime"))
    if event.get("type") not in EVENT_TYPES:
        causes.append(invalid("type", "", f"has invalid value: {event.get('type') or ''}"))
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            causes.append(invalid(field, "", "needs to be unset"))
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    if source.get("component") or source.get("host"):
        causes.append(invalid("source", "", "needs to be unset"))
    series = event.get("series")
    if isinstance(series, dict):
        if not isinstance(series.get("count"), int) or series["count"] < 2:
            causes.append(invalid("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(required("series.lastObservedTime"))
    return causes


VALIDATORS = {
    ("coordination.k8s.io", "leases"): (validate_lease, None),
    ("discovery.k8s.io", "endpointslices"): (validate_endpoint_slice, validate_endpoint_slice_update),
    ("", "events"): (validate_core_event, None),
    ("events.k8s.io", "events"): (validate_events_v1_event, None),
}
