"""Per-kind differences of the generic object store (Kubernetes' "registry strategies").

The generic store (objects.py) does the same thing for every kind; the handful of places where
kinds differ live here, keyed by (group, resource), so a kind's quirks are found in one place:

- what create resets (users do not set status: it is cleared, pods start Pending with a QoS
  class, namespaces start Active; nodes and leases keep what the kubelet sends),
- which kinds answer a delete with the deleted object rather than a Status,
- which kinds a PUT may create (AllowCreateOnUpdate),
- how main-resource and status updates split the object between them.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, defaults_pod
from kybernetes.api.registry import ResourceInfo

# Kinds whose create keeps a client-provided status (the kubelet registers nodes with one).
_KEEP_STATUS_ON_CREATE = frozenset({("", "nodes"), ("", "persistentvolumes"), ("", "events")})

# Kinds whose delete answers with the object (genericregistry ReturnDeletedObject).
_RETURN_DELETED_OBJECT = frozenset({
    ("", "pods"), ("", "services"), ("", "serviceaccounts"), ("", "namespaces"),
    ("storage.k8s.io", "storageclasses"), ("apiextensions.k8s.io", "customresourcedefinitions"),
})

# Kinds a PUT of a missing object creates (AllowCreateOnUpdate in their strategies).
_ALLOW_CREATE_ON_UPDATE = frozenset({
    ("", "endpoints"), ("", "events"), ("", "limitranges"),
    ("events.k8s.io", "events"), ("coordination.k8s.io", "leases"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"),
})


def _key(info: ResourceInfo) -> tuple[str, str]:
    return (info.group, info.resource)


def returns_deleted_object(info: ResourceInfo) -> bool:
    return _key(info) in _RETURN_DELETED_OBJECT


def allows_create_on_update(info: ResourceInfo) -> bool:
    return _key(info) in _ALLOW_CREATE_ON_UPDATE


def is_pod(info: ResourceInfo) -> bool:
    return info.group == "" and info.resource == "pods"


def is_namespace(info: ResourceInfo) -> bool:
    return info.group == "" and info.resource == "namespaces"


def prepare_for_create(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Reset what a client may not choose on create (before defaulting and validation)."""
    if is_pod(info):
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {})}
    elif is_namespace(info):
        obj["status"] = {"phase": "Active"}
    elif info.has_status and _key(info) not in _KEEP_STATUS_ON_CREATE:
        obj.pop("status", None)


def complete_create(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """What a new object gets after defaulting and before validation, once it has a uid: the
    pod admission defaults (service account, priority, not-ready/unreachable tolerations) and
    a Job's generated selector, which names the Job's uid."""
    if is_pod(info):
        defaults_pod.default_pod_admission(obj)
    elif _key(info) == ("batch", "jobs"):
        defaults.default_job_selector(obj, obj["metadata"]["uid"])


def prepare_for_update(info: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A main-resource update never changes status when the kind has a status subresource.
    A Service update keeps the cluster IPs and node ports it left out, and drops those its new
    type no longer uses (service_alloc_spec.py)."""
    if _key(info) == ("", "services"):
        from kybernetes.apiserver.service_alloc_spec import prepare_service_update

        prepare_service_update(new, old)
    if info.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)


# Kinds whose status updates may not change labels (their status strategies reset them).
_STATUS_KEEPS_LABELS = frozenset({("apps", "deployments"), ("apps", "replicasets"),
                                  ("apps", "statefulsets"), ("apps", "daemonsets")})


def merge_status_update(new: dict[str, Any], old: dict[str, Any],
                        info: ResourceInfo | None = None) -> dict[str, Any]:
    """A status update changes status, and the labels and annotations of metadata (as the real
    status strategies allow: the Deployment controller writes its revision annotation this
    way); spec and everything else come from the stored object."""
    out = dict(old)
    out["metadata"] = dict(old.get("metadata") or {})
    new_meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
    fields = ("annotations",) if info is not None and _key(info) in _STATUS_KEEPS_LABELS \
        else ("annotations", "labels")
    for field_name in fields:
        if field_name in new_meta:
            out["metadata"][field_name] = new_meta[field_name]
        else:
            out["metadata"].pop(field_name, None)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    # The client's resourceVersion is the precondition; keep it for the conflict check.
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv:
        out["metadata"]["resourceVersion"] = rv
    else:
        out["metadata"].pop("resourceVersion", None)
    return out


_RESOURCES = ("cpu", "memory")


def pod_qos_class(spec: dict[str, Any]) -> str:
    """BestEffort / Burstable / Guaranteed as Kubernetes computes them from cpu and memory."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        if not isinstance(c, dict):
            continue
        res = c.get("resources") or {}
        requests = {k: v for k, v in (res.get("requests") or {}).items() if k in _RESOURCES}
        limits = {k: v for k, v in (res.get("limits") or {}).items() if k in _RESOURCES}
        if requests or limits:
            any_set = True
        if set(limits) != set(_RESOURCES):
            guaranteed = False
            continue
        for k, v in requests.items():
            if str(v) != str(limits.get(k)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
