"""What one object counts against a ResourceQuota, and which quotas it counts against.

    usage(info, obj) -> {"pods": 1, "count/pods": 1, "requests.cpu": 0.5, "limits.memory": ...}

Pods count while they are not finished (Succeeded/Failed) and charge their effective requests
and limits (``cpu`` and ``memory`` are the old names for the requests); services charge
``services.loadbalancers`` and ``services.nodeports`` by type; claims charge ``requests.storage``
(also per storage class: ``<class>.storageclass.storage.k8s.io/requests.storage``); every kind
counts as ``count/<resource>[.<group>]``, and the classic kinds under their plain names too.

Scopes (``spec.scopes`` and ``spec.scopeSelector``) limit a quota to the pods they select:
Terminating / NotTerminating (activeDeadlineSeconds), BestEffort / NotBestEffort (QoS class)
and PriorityClass; a scoped quota tracks no other kind.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.admission_resources import container_list, pod_totals, quantity_value
from kybernetes.apiserver.strategies import pod_qos_class

Usage = dict[str, Fraction]

ONE = Fraction(1)
# Kinds counted under their plain resource name as well as count/<resource>.
_CLASSIC = frozenset({"pods", "services", "configmaps", "secrets", "persistentvolumeclaims",
                      "replicationcontrollers", "resourcequotas"})
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_TERMINAL = ("Succeeded", "Failed")


def count_name(info: ResourceInfo) -> str:
    return f"count/{info.resource}.{info.group}" if info.group else f"count/{info.resource}"


def resource_of_key(key: str) -> tuple[str, str] | None:
    """(group, resource) whose objects a quota key counts; None for keys we do not track."""
    if key.startswith("count/"):
        name = key[len("count/"):]
        resource, _, group = name.partition(".")
        return group, resource
    if key in _CLASSIC:
        return "", key
    if key.startswith(("services.",)):
        return "", "services"
    if key == "requests.storage" or ".storageclass.storage.k8s.io/" in key:
        return "", "persistentvolumeclaims"
    base = key.split(".", 1)[1] if key.startswith(("requests.", "limits.")) else key
    if base in _COMPUTE or base.startswith("hugepages-") or "/" in base:
        return "", "pods"
    return None


def pod_is_active(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in _TERMINAL


def usage(info: ResourceInfo, obj: dict[str, Any] | None) -> Usage:
    if not isinstance(obj, dict):
        return {}
    out: Usage = {count_name(info): ONE}
    if info.group != "":
        return out
    if info.resource in _CLASSIC:
        out[info.resource] = ONE
    if info.resource == "pods":
        if not pod_is_active(obj):
            return {}
        for name, value in pod_totals(obj, "requests", overhead=True).items():
            out[f"requests.{name}"] = value
            if name in _COMPUTE:
                out[name] = value
        for name, value in pod_totals(obj, "limits", overhead=True).items():
            out[f"limits.{name}"] = value
    elif info.resource == "services":
        spec = obj.get("spec") or {}
        kind = spec.get("type") or "ClusterIP"
        ports = len(spec.get("ports") or [])
        if kind == "LoadBalancer":
            out["services.loadbalancers"] = ONE
        if kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True)):
            out["services.nodeports"] = Fraction(ports)
    elif info.resource == "persistentvolumeclaims":
        spec = obj.get("spec") or {}
        storage = quantity_value(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        if storage is not None:
            out["requests.storage"] = storage
        klass = spec.get("storageClassName")
        if klass:
            out[f"{klass}.storageclass.storage.k8s.io/persistentvolumeclaims"] = ONE
            if storage is not None:
                out[f"{klass}.storageclass.storage.k8s.io/requests.storage"] = storage
    return out


def _qos(pod: dict[str, Any]) -> str:
    return pod_qos_class(pod.get("spec") or {})


def _scope_matches(scope: str, operator: str, values: list[str], pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return _qos(pod) == "BestEffort"
    if scope == "NotBestEffort":
        return _qos(pod) != "BestEffort"
    if scope == "PriorityClass":
        klass = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(klass)
        if operator == "DoesNotExist":
            return not klass
        if operator == "NotIn":
            return bool(klass) and klass not in values
        return klass in values
    return False


def quota_selects(quota: dict[str, Any], info: ResourceInfo, obj: dict[str, Any]) -> bool:
    """Whether ``quota``'s scopes let it charge ``obj`` (unscoped quotas charge everything)."""
    spec = quota.get("spec") or {}
    scopes = [(s, "Exists", []) for s in spec.get("scopes") or []]
    for expr in ((spec.get("scopeSelector") or {}).get("matchExpressions") or []):
        if isinstance(expr, dict):
            scopes.append((expr.get("scopeName", ""), expr.get("operator", "In"), list(expr.get("values") or [])))
    if not scopes:
        return True
    if not (info.group == "" and info.resource == "pods"):
        return False
    return all(_scope_matches(scope, op, values, obj) for scope, op, values in scopes)


def missing_compute(obj: dict[str, Any], hard: dict[str, Any]) -> str:
    """"must specify ..." for containers that leave out a compute resource the quota limits."""
    required = [k for k in sorted(hard) if k in _COMPUTE or
                (k.startswith(("requests.", "limits.")) and k.split(".", 1)[1] in _COMPUTE)]
    if not required:
        return ""
    spec = obj.get("spec") or {}
    missing: dict[str, list[str]] = {}
    for container in container_list(spec, "initContainers") + container_list(spec, "containers"):
        res = container.get("resources") or {}
        has = set()
        for name in (res.get("requests") or {}):
            has.update({f"requests.{name}", name})
        for name in (res.get("limits") or {}):
            has.add(f"limits.{name}")
        for key in required:
            if key not in has:
                missing.setdefault(key, []).append(container.get("name") or "")
    if not missing:
        return ""
    return "must specify " + "; ".join(f"{key} for: {','.join(names)}" for key, names in sorted(missing.items()))
