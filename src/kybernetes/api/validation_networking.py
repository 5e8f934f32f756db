"""Validation of networking.k8s.io kinds: Ingress, IngressClass and NetworkPolicy.

An Ingress controller routes by what it finds in rules and paths, so the server refuses what a
controller could not interpret: a path without a pathType, a relative or dot-segment path, a
backend naming neither (or both) a service and a resource, hosts that are IPs or not DNS names.
A NetworkPolicy peer must say whom it admits, and an ipBlock's exceptions must lie inside it.
Wording and field paths follow the real server's networking validation.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .errors import Cause
from .field_errors import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    forbidden,
    immutable,
    invalid,
    not_supported,
    path_segment_errors,
    port_name_errors,
    port_number_errors,
    required,
    too_long,
)
from .validation_workloads import validate_label_selector

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
POLICY_TYPES = ("Ingress", "Egress")
NETPOL_PROTOCOLS = ("TCP", "UDP", "SCTP")
PARAMETER_SCOPES = ("Cluster", "Namespace")
MAX_CONTROLLER_LEN = 250
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_FMT = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_wildcard = re.compile(f"^{_WILDCARD_FMT}$")
_url_path = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")
CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def wildcard_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _wildcard.match(value):
        errs.append("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                    f"alphanumeric character (e.g. '*.example.com', regex used for validation is "
                    f"'{_WILDCARD_FMT}')")
    return errs


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _host_errors(host: Any, path: str) -> list[Cause]:
    if not isinstance(host, str) or not host:
        return []
    causes = [invalid(path, host, "must be a DNS name, not an IP address")] if _is_ip(host) else []
    check = wildcard_subdomain_errors if "*" in host else dns1123_subdomain_errors
    return causes + [invalid(path, host, m) for m in check(host)]


def _typed_reference(ref: Any, path: str) -> list[Cause]:
    if not isinstance(ref, dict):
        return [invalid(path, ref, "must be an object")]
    causes = []
    group = ref.get("apiGroup")
    if group is not None:
        causes += [invalid(f"{path}.apiGroup", group, m) for m in dns1123_subdomain_errors(str(group))]
    for field in ("kind", "name"):
        value = ref.get(field) or ""
        if not value:
            causes.append(required(f"{path}.{field}"))
        else:
            causes += [invalid(f"{path}.{field}", value, m) for m in path_segment_errors(str(value))]
    return causes


def _backend(backend: Any, path: str) -> list[Cause]:
    if not isinstance(backend, dict):
        return [invalid(path, "", "resource or service backend is required")]
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    if not isinstance(service, dict):
        return [invalid(f"{path}.service", service, "must be an object")]
    causes = []
    name = service.get("name") or ""
    if not name:
        causes.append(required(f"{path}.service.name"))
    else:
        causes += [invalid(f"{path}.service.name", name, m) for m in dns1035_label_errors(str(name))]
    port = service.get("port") if isinstance(service.get("port"), dict) else {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        causes.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes += [invalid(f"{path}.service.port.name", port_name, m) for m in port_name_errors(str(port_name))]
    elif number:
        causes += [invalid(f"{path}.service.port.number", number, m) for m in port_number_errors(number)]
    else:
        causes.append(required(path, "port name or number is required"))
    return causes


def _http_path(entry: Any, path: str) -> list[Cause]:
    if not isinstance(entry, dict):
        return [invalid(path, entry, "must be an object")]
    kind = entry.get("pathType")
    if kind is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    value = entry.get("path") or ""
    causes = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(invalid(f"{path}.path", value, "must be an absolute path"))
        causes += [invalid(f"{path}.path", value, f"must not contain '{seq}'")
                   for seq in _INVALID_PATH_SEQUENCES if value and seq in value]
        causes += [invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
                   for suffix in _INVALID_PATH_SUFFIXES if value and value.endswith(suffix)]
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        causes.append(not_supported(f"{path}.pathType", kind, PATH_TYPES))
    return causes + _backend(entry.get("backend"), f"{path}.backend")


def _rules(rules: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(rules):
        p = f"{path}[{i}]"
        if not isinstance(rule, dict):
            causes.append(invalid(p, rule, "must be an object"))
            continue
        causes += _host_errors(rule.get("host"), f"{p}.host")
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") if isinstance(http, dict) else None
        if not paths:
            causes.append(required(f"{p}.http.paths"))
        for j, entry in enumerate(paths or []):
            causes += _http_path(entry, f"{p}.http.paths[{j}]")
    return causes


def validate_ingress(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    rules, default = spec.get("rules") or [], spec.get("defaultBackend")
    if not rules and default is None:
        causes.append(Cause("FieldValueInvalid", "Invalid value: []networking.IngressRule(nil): either "
                            "`defaultBackend` or `rules` must be specified", "spec"))
    if default is not None:
        causes += _backend(default, "spec.defaultBackend")
    causes += _rules(rules, "spec.rules")
    for i, tls in enumerate(spec.get("tls") or []):
        tls = tls if isinstance(tls, dict) else {}
        for j, host in enumerate(tls.get("hosts") or []):
            check = wildcard_subdomain_errors if "*" in str(host) else dns1123_subdomain_errors
            causes += [invalid(f"spec.tls[{i}].hosts[{j}]", host, m) for m in check(str(host))]
        secret = tls.get("secretName") or ""
        if secret:
            causes += [invalid(f"spec.tls[{i}].secretName", secret, m) for m in dns1123_subdomain_errors(secret)]
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        causes += [invalid("spec.ingressClassName", class_name, m) for m in dns1123_subdomain_errors(str(class_name))]
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    legacy_class = annotations.get("kubernetes.io/ingress.class")
    if legacy_class is not None and class_name is not None and legacy_class != class_name:
        causes.append(invalid("annotations.kubernetes.io/ingress.class", legacy_class,
                              "must match `ingressClassName` when both are specified"))
    return causes


def _domain_prefixed_path(value: str, path: str) -> list[Cause]:
    if "/" not in value:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    host, rest = value.split("/", 1)
    causes = [invalid(path, host, m) for m in dns1123_subdomain_errors(host)]
    if not _url_path.match(rest):
        causes.append(invalid(path, rest, "Invalid path"))
    return causes


def _class_parameters(params: Any, path: str) -> list[Cause]:
    if params is None:
        return []
    if not isinstance(params, dict):
        return [invalid(path, params, "must be an object")]
    causes = _typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        return causes + [required(f"{path}.scope")]
    if scope not in PARAMETER_SCOPES:
        return causes + [not_supported(f"{path}.scope", scope, PARAMETER_SCOPES)]
    namespace = params.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            causes.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            causes += [invalid(f"{path}.namespace", namespace, m) for m in dns1123_label_errors(str(namespace))]
    elif namespace is not None:
        causes.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return causes


def validate_ingress_class(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    controller = spec.get("controller") or ""
    causes: list[Cause] = []
    if not controller:
        causes.append(required("spec.controller"))
    else:
        if len(controller) > MAX_CONTROLLER_LEN:
            causes.append(too_long("spec.controller", MAX_CONTROLLER_LEN))
        causes += _domain_prefixed_path(str(controller), "spec.controller")
    return causes + _class_parameters(spec.get("parameters"), "spec.parameters")


def validate_ingress_class_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new, before = (obj.get("spec") or {}).get("controller"), (old.get("spec") or {}).get("controller")
    return [immutable("spec.controller", new)] if new != before else []


def _netpol_port(port: Any, path: str) -> list[Cause]:
    if not isinstance(port, dict):
        return [invalid(path, port, "must be an object")]
    causes = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in NETPOL_PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", protocol, NETPOL_PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(number, int) and not isinstance(number, bool):
        causes += [invalid(f"{path}.port", number, m) for m in port_number_errors(number)]
        if end is not None:
            if isinstance(end, int) and end < number:
                causes.append(invalid(f"{path}.endPort", end, "must be greater than or equal to `port`"))
            causes += [invalid(f"{path}.endPort", end, m) for m in port_number_errors(end)]
    else:
        if end is not None:
            causes.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        causes += [invalid(f"{path}.port", number, m) for m in port_name_errors(str(number))]
    return causes


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _ip_block(block: Any, path: str) -> list[Cause]:
    if not isinstance(block, dict):
        return [invalid(path, block, "must be an object")]
    cidr = block.get("cidr") or ""
    if not cidr:
        return [required(f"{path}.cidr")]
    network = _network(cidr)
    if network is None:
        return [invalid(f"{path}.cidr", cidr, CIDR_MESSAGE)]
    causes = []
    for i, text in enumerate(block.get("except") or []):
        p = f"{path}.except[{i}]"
        inner = _network(text)
        if inner is None:
            causes.append(invalid(p, text, CIDR_MESSAGE))
        elif (inner.version != network.version or network.prefixlen >= inner.prefixlen
              or inner.network_address not in network):
            causes.append(invalid(p, text, "must be a strict subset of `cidr`"))
    return causes


def _peer(peer: Any, path: str) -> list[Cause]:
    if not isinstance(peer, dict):
        return [invalid(path, peer, "must be an object")]
    causes: list[Cause] = []
    count = 0
    for field in ("podSelector", "namespaceSelector"):
        if peer.get(field) is not None:
            count += 1
            causes += validate_label_selector(peer[field], f"{path}.{field}")
    if peer.get("ipBlock") is not None:
        count += 1
        causes += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        causes.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        causes.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def validate_network_policy(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec.podSelector")]
    selector = spec.get("podSelector")
    causes = validate_label_selector(selector if selector is not None else {}, "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            p = f"spec.{direction}[{i}]"
            rule = rule if isinstance(rule, dict) else {}
            for j, port in enumerate(rule.get("ports") or []):
                causes += _netpol_port(port, f"{p}.ports[{j}]")
            for j, peer in enumerate(rule.get(peers) or []):
                causes += _peer(peer, f"{p}.{peers}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > len(POLICY_TYPES):
        return causes + [invalid("spec.policyTypes", types, "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            causes.append(not_supported(f"spec.policyTypes[{i}]", kind, POLICY_TYPES))
    return causes


VALIDATORS = {
    ("networking.k8s.io", "ingresses"): (validate_ingress, None),
    ("networking.k8s.io", "ingressclasses"): (validate_ingress_class, validate_ingress_class_update),
    ("networking.k8s.io", "networkpolicies"): (validate_network_policy, None),
}
