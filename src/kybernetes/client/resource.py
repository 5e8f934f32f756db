"""Resource: which collection a request is about, and the URL path that names it.

A ``Resource`` is (group, version, plural, namespaced); with a namespace, a name and a
subresource it becomes a path exactly as Kubernetes routes it:

    /api/v1/namespaces/{ns}/pods/{name}/status
    /apis/apps/v1/deployments                      (all namespaces)
    /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}

The constants below name the built-ins the controllers, scheduler and kubelet use; anything else
(a CRD, say) is ``Resource("example.com", "v1", "widgets", namespaced=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kybernetes.api.registry import ResourceInfo


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    resource: str  # plural, lower case
    namespaced: bool = True
    kind: str = ""  # optional; filled in for the built-ins below

    @classmethod
    def from_info(cls, info: ResourceInfo) -> Resource:
        return cls(info.group, info.version, info.resource, info.namespaced, info.kind)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        """The apiVersion field of this resource's objects."""
        return self.group_version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The URL path; ``namespace=None`` on a namespaced resource means all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append("namespaces/" + _segment(namespace, "namespace"))
        parts.append(self.resource)
        if name is not None:
            parts.append(_segment(name, "name"))
        if subresource:
            if name is None:
                raise ValueError(f"subresource {subresource!r} of {self.resource} needs an object name")
            parts.append(_segment(subresource, "subresource"))
        return "/".join(parts)

    def __str__(self) -> str:
        return f"{self.resource}.{self.group_version}" if self.group else f"{self.resource}.{self.version}"


def _segment(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or value in (".", "..") or "/" in value:
        raise ValueError(f"invalid {what} {value!r} for a request path")
    return quote(value, safe="")


def _r(group: str, version: str, resource: str, kind: str, namespaced: bool = True) -> Resource:
    return Resource(group, version, resource, namespaced, kind)


NAMESPACES = _r("", "v1", "namespaces", "Namespace", False)
NODES = _r("", "v1", "nodes", "Node", False)
PODS = _r("", "v1", "pods", "Pod")
SERVICES = _r("", "v1", "services", "Service")
ENDPOINTS = _r("", "v1", "endpoints", "Endpoints")
CONFIGMAPS = _r("", "v1", "configmaps", "ConfigMap")
SECRETS = _r("", "v1", "secrets", "Secret")
SERVICEACCOUNTS = _r("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = _r("", "v1", "events", "Event")
PERSISTENTVOLUMES = _r("", "v1", "persistentvolumes", "PersistentVolume", False)
PERSISTENTVOLUMECLAIMS = _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
REPLICATIONCONTROLLERS = _r("", "v1", "replicationcontrollers", "ReplicationController")
RESOURCEQUOTAS = _r("", "v1", "resourcequotas", "ResourceQuota")
LIMITRANGES = _r("", "v1", "limitranges", "LimitRange")
DEPLOYMENTS = _r("apps", "v1", "deployments", "Deployment")
REPLICASETS = _r("apps", "v1", "replicasets", "ReplicaSet")
STATEFULSETS = _r("apps", "v1", "statefulsets", "StatefulSet")
DAEMONSETS = _r("apps", "v1", "daemonsets", "DaemonSet")
CONTROLLERREVISIONS = _r("apps", "v1", "controllerrevisions", "ControllerRevision")
JOBS = _r("batch", "v1", "jobs", "Job")
CRONJOBS = _r("batch", "v1", "cronjobs", "CronJob")
LEASES = _r("coordination.k8s.io", "v1", "leases", "Lease")
ENDPOINTSLICES = _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
PODDISRUPTIONBUDGETS = _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
HORIZONTALPODAUTOSCALERS = _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
STORAGECLASSES = _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False)
PRIORITYCLASSES = _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False)
CUSTOMRESOURCEDEFINITIONS = _r("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                               "CustomResourceDefinition", False)
