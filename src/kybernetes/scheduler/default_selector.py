"""Which pods count as "the same group" for the system default spreading.

A pod with no topologySpreadConstraints of its own is still spread (softly, by node and by
zone) away from the pods of its group, as kube-scheduler does: the group is what the Services
selecting the pod select, plus the selector of the pod's controller (ReplicaSet, StatefulSet,
ReplicationController). No Service and no controller: no group, no default spreading.
"""

from __future__ import annotations

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import EQUALS, LabelSelector, Requirement, label_selector_from_spec
from kybernetes.client.informer import Informer
from kybernetes.scheduler.podinfo import PodInfo


class DefaultSpreadSelector:
    def __init__(self, services: Informer, replicasets: Informer, statefulsets: Informer, controllers: Informer):
        self.services = services
        self.owners = {("apps", "ReplicaSet"): replicasets, ("apps", "StatefulSet"): statefulsets,
                       ("", "ReplicationController"): controllers}

    def __call__(self, pod: PodInfo) -> LabelSelector | None:
        labels: dict[str, str] = {}
        for svc in self.services.list(pod.namespace):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(pod.labels.get(k) == v for k, v in selector.items()):
                labels.update(selector)
        extra: tuple[Requirement, ...] = ()
        owner = next((r for r in (pod.pod.get("metadata") or {}).get("ownerReferences") or []
                      if isinstance(r, dict) and r.get("controller")), None)
        if owner is not None:
            group = (owner.get("apiVersion") or "").rpartition("/")[0]
            informer = self.owners.get((group, owner.get("kind") or ""))
            obj = informer.get_by_name(pod.namespace, owner.get("name") or "") if informer is not None else None
            selector = (obj or {}).get("spec", {}).get("selector")
            if isinstance(selector, dict) and owner.get("kind") == "ReplicationController":
                labels.update(selector)
            elif isinstance(selector, dict):
                try:
                    extra = label_selector_from_spec(selector).requirements
                except ApiError:
                    extra = ()
        requirements = tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted(labels.items())) + extra
        return LabelSelector(requirements) if requirements else None
