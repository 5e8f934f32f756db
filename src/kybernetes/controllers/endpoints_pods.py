"""What both endpoint controllers ask of a pod and a Service (Kubernetes' endpointslice/util).

    service_selector(svc)         the Service's pod selector; None for selector-less Services
                                  (their endpoints are the user's) and ExternalName ones
    services_for_pod(pod, svcs)   the Services whose selector matches the pod
    should_be_in_endpoints(pod)   has an IP, not Succeeded/Failed, and (unless terminating pods
                                  are included) not being deleted
    find_port(pod, service_port)  targetPort as a number; a name is looked up among the pod's
                                  containerPorts of the same protocol (sidecars included)
    should_set_hostname(pod, svc) pod.spec.hostname when pod.spec.subdomain names this Service
    pod_ips(pod, family)          the pod's IPs of one family
    TriggerTimeTracker            endpoints.kubernetes.io/last-change-trigger-time: when the
                                  oldest change not yet reflected in the endpoints happened
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from kybernetes.api.meta import parse_rfc3339
from kybernetes.api.selectors import LabelSelector, selector_from_set

Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def service_selector(service: Obj) -> LabelSelector | None:
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return None  # nil (and, as stored by Kubernetes, empty) selectors: user-managed endpoints
    return selector_from_set(selector)


def services_for_pod(pod: Obj, services: list[Obj]) -> list[Obj]:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    out = []
    for service in services:
        selector = service_selector(service)
        if selector is not None and selector.matches(labels):
            out.append(service)
    return out


def is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def is_pod_ready(pod: Obj) -> bool:
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def all_pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def ip_family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


def pod_ips(pod: Obj, family: str) -> list[str]:
    return [ip for ip in all_pod_ips(pod) if ip_family(ip) == family]


def should_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not all_pod_ips(pod):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname")) and spec.get("subdomain") == (service.get("metadata") or {}).get("name")
            and (pod.get("metadata") or {}).get("namespace") == (service.get("metadata") or {}).get("namespace"))


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a Service port sends to; None when a named port is not on this pod."""
    target = service_port.get("targetPort")
    if target is None or target == "":
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or []
                   if isinstance(c, dict) and c.get("restartPolicy") == "Always"]  # sidecars serve too
    for container in containers:
        for port in (container or {}).get("ports") or []:
            if (isinstance(port, dict) and port.get("name") == target
                    and (port.get("protocol") or "TCP") == protocol):
                return port.get("containerPort")
    return None


def service_families(service: Obj) -> list[str]:
    """The address families the Service asks for (IPv4 unless it says otherwise)."""
    spec = service.get("spec") or {}
    families = [f for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if not families:
        cluster_ip = spec.get("clusterIP")
        families = [ip_family(cluster_ip)] if cluster_ip and cluster_ip != "None" and ip_family(cluster_ip) else ["IPv4"]
    return families


# -- the last-change-trigger-time annotation ---------------------------------------------------------

def _time(text: Any) -> datetime | None:
    try:
        return parse_rfc3339(text) if isinstance(text, str) and text else None
    except ValueError:
        return None


def pod_trigger_time(pod: Obj) -> datetime | None:
    """When the pod last changed in a way endpoints see: its Ready condition's transition."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return _time(cond.get("lastTransitionTime"))
    return None


class TriggerTimeTracker:
    """Per Service, the pod and Service times already reflected, so each sync can tell which
    changes are new and annotate the endpoints with the earliest of them."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[dict[str, datetime | None], datetime | None]] = {}

    def compute(self, key: str, service: Obj, pods: list[Obj]) -> datetime | None:
        old_pods, old_service_time = self._state.get(key, ({}, None))
        known = key in self._state
        first: datetime | None = None
        current: dict[str, datetime | None] = {}
        for pod in pods:
            name = (pod.get("metadata") or {}).get("name") or ""
            when = current[name] = pod_trigger_time(pod)
            if known and old_pods.get(name) == when:
                continue
            if when is not None and (first is None or when < first):
                first = when
        service_time = _time((service.get("metadata") or {}).get("creationTimestamp"))
        if service_time is not None and (old_service_time is None or service_time > old_service_time):
            if first is None or service_time < first:
                first = service_time
        self._state[key] = (current, service_time)
        return first

    def forget(self, key: str) -> None:
        self._state.pop(key, None)
