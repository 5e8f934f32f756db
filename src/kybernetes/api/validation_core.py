"""Validation of core kinds with rules of their own: Services, ConfigMaps, Secrets, Namespaces,
Nodes, and CustomResourceDefinition names.

Services need ports unless headless or ExternalName, and keep their cluster IP once allocated.
ConfigMap and Secret keys must be usable as file names in a volume, their content is capped at
1 MiB (etcd's object limit), and an ``immutable: true`` object never changes again.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any

from .errors import Cause
from .field_errors import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    duplicate,
    forbidden,
    immutable,
    invalid,
    max_len_error,
    not_supported,
    port_name_errors,
    port_number_errors,
    qualified_name_errors,
    regex_error,
    required,
    too_long,
)
from .validation_meta import validate_labels

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_DATA_SIZE = 1024 * 1024
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_config_key = re.compile(f"^{_CONFIG_KEY_FMT}$")
_IMMUTABLE_DETAIL = "field is immutable when `immutable` is set"


def _ip_errors(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def validate_service(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, SERVICE_TYPES))
    cluster_ip = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    if kind == "ExternalName":
        external = spec.get("externalName")
        if not external:
            causes.append(required("spec.externalName"))
        else:
            causes += [invalid("spec.externalName", external, m)
                       for m in dns1123_subdomain_errors(external.rstrip("."))]
        if cluster_ip:
            causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    elif not ports and cluster_ip != "None":
        causes.append(required("spec.ports"))
    if cluster_ip and cluster_ip != "None":
        causes += [invalid("spec.clusterIPs[0]", cluster_ip, m) for m in _ip_errors(cluster_ip)]
    names: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        p = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            causes.append(invalid(p, port, "must be an object"))
            continue
        name = port.get("name") or ""
        if not name and len(ports) > 1:
            causes.append(required(f"{p}.name"))
        elif name:
            causes += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(name)]
            if name in names:
                causes.append(duplicate(f"{p}.name", name))
            names.add(name)
        number = port.get("port")
        causes += [invalid(f"{p}.port", number, m) for m in port_number_errors(number)]
        protocol = port.get("protocol", "TCP")
        if protocol not in PORT_PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, PORT_PROTOCOLS))
        key = (number, protocol)
        if key in keys:
            causes.append(duplicate(p, f"{number}/{protocol}"))
        keys.add(key)
        target = port.get("targetPort")
        if isinstance(target, str):
            causes += [invalid(f"{p}.targetPort", target, m) for m in port_name_errors(target)]
        elif target is not None:
            causes += [invalid(f"{p}.targetPort", target, m) for m in port_number_errors(target)]
        node_port = port.get("nodePort")
        if node_port:
            if kind not in ("NodePort", "LoadBalancer"):
                causes.append(forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            causes += [invalid(f"{p}.nodePort", node_port, m) for m in port_number_errors(node_port)]
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in SESSION_AFFINITIES:
        causes.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    causes += validate_labels(spec.get("selector"), "spec.selector")
    return causes


def validate_service_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new_spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    old_ip, new_ip = old_spec.get("clusterIP") or "", new_spec.get("clusterIP") or ""
    # An omitted clusterIP keeps the allocated one (the apiserver carries it over); a different one
    # is an error unless the service becomes ExternalName, which releases it.
    if old_ip and new_ip and new_ip != old_ip and new_spec.get("type") != "ExternalName":
        return [invalid("spec.clusterIPs[0]", [new_ip], "may not change once set")]
    return []


def config_key_errors(key: str) -> list[str]:
    errs = []
    if len(key) > 253:
        errs.append(max_len_error(253))
    if not _config_key.match(key):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _validate_keys(data: Any, field: str) -> list[Cause]:
    if data is None:
        return []
    if not isinstance(data, dict):
        return [invalid(field, data, "must be a map of keys to values")]
    causes = []
    for key in data:
        causes += [invalid(f"{field}[{key}]", key, m) for m in config_key_errors(key)]
    return causes


def validate_configmap(obj: dict[str, Any]) -> list[Cause]:
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    causes = _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("binaryData"), "binaryData")
    if isinstance(data, dict) and isinstance(binary, dict):
        for key in data:
            if key in binary:
                causes.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        size = sum(len(str(v).encode()) for v in data.values())
        size += sum(len(str(v)) * 3 // 4 for v in binary.values())
        if size > MAX_DATA_SIZE:
            causes.append(too_long("data", MAX_DATA_SIZE))
    return causes


def _immutable_update(obj: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]) -> list[Cause]:
    if not old.get("immutable"):
        return []
    causes = [forbidden(f, _IMMUTABLE_DETAIL) for f in fields if obj.get(f) != old.get(f)]
    if not obj.get("immutable"):
        causes.append(forbidden("immutable", _IMMUTABLE_DETAIL))
    return causes


def validate_configmap_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    return _immutable_update(obj, old, ("data", "binaryData"))


# Keys a typed secret must carry.
_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(obj: dict[str, Any]) -> list[Cause]:
    data = obj.get("data")
    causes = _validate_keys(data, "data")
    size = 0
    for key, value in (data or {}).items() if isinstance(data, dict) else ():
        try:
            size += len(base64.b64decode(str(value), validate=True))
        except (binascii.Error, ValueError):
            causes.append(invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data"))
    if size > MAX_DATA_SIZE:
        causes.append(too_long("data", MAX_DATA_SIZE))
    kind = obj.get("type") or "Opaque"
    for key in _SECRET_REQUIRED_KEYS.get(kind, ()):
        if not isinstance(data, dict) or key not in data:
            causes.append(required(f"data[{key}]"))
    if kind == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    if kind == "kubernetes.io/basic-auth" and not (set(data or {}) & {"username", "password"}):
        causes.append(required("data[username]", "either username or password is required"))
    return causes


def validate_secret_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = []
    if (obj.get("type") or "Opaque") != (old.get("type") or "Opaque"):
        causes.append(immutable("type", obj.get("type")))
    return causes + _immutable_update(obj, old, ("data",))


def validate_namespace(obj: dict[str, Any]) -> list[Cause]:
    causes = []
    for i, finalizer in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        causes += [invalid(f"spec.finalizers[{i}]", finalizer, m) for m in qualified_name_errors(str(finalizer))]
    return causes


TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")


def validate_node(obj: dict[str, Any]) -> list[Cause]:
    causes = []
    for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
        p = f"spec.taints[{i}]"
        if not isinstance(taint, dict):
            causes.append(invalid(p, taint, "must be an object"))
            continue
        if not taint.get("key"):
            causes.append(required(f"{p}.key"))
        else:
            causes += [invalid(f"{p}.key", taint["key"], m) for m in qualified_name_errors(taint["key"])]
        effect = taint.get("effect")
        if not effect:
            causes.append(required(f"{p}.effect"))
        elif effect not in TAINT_EFFECTS:
            causes.append(not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return causes


def validate_crd(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(required(f"spec.names.{field}"))
    if not spec.get("group"):
        causes.append(required("spec.group"))
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope or "", ("Cluster", "Namespaced")))
    name = (obj.get("metadata") or {}).get("name", "")
    if names.get("plural") and spec.get("group") and name != f"{names['plural']}.{spec['group']}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not spec.get("versions"):
        causes.append(required("spec.versions", "must have exactly one version marked as storage version"))
    return causes


VALIDATORS = {
    ("", "services"): (validate_service, validate_service_update),
    ("", "configmaps"): (validate_configmap, validate_configmap_update),
    ("", "secrets"): (validate_secret, validate_secret_update),
    ("", "namespaces"): (validate_namespace, None),
    ("", "nodes"): (validate_node, None),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (validate_crd, None),
}
