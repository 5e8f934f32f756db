"""Endpoints: the core/v1 Endpoints object of every Service with a selector (endpoint-controller).

Per Service key, from the service, pod and endpoints caches:

    Service gone                    its Endpoints deleted, if this controller made them
                                    (label endpoints.kubernetes.io/managed-by: endpoint-controller)
    no selector / ExternalName      left alone: such endpoints belong to the user (the
                                    "kubernetes" Service has no selector, so the apiserver's own
                                    endpoints are never touched)
    otherwise                       Endpoints of the same name: labels = the Service's (plus
                                    service.kubernetes.io/headless for clusterIP None), subsets
                                    from the selected pods (endpoints_subsets.py), the managed-by
                                    label, the annotation
                                    endpoints.kubernetes.io/last-change-trigger-time; written
                                    only when something differs

Pods are mapped to Services by selector on every pod change, so a pod turning ready, losing its
IP or being deleted re-syncs exactly the Services that select it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.indexer import BY_NAMESPACE, object_key, split_key
from kybernetes.client.resource import ENDPOINTS, PODS, SERVICES
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.endpoints_pods import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    TriggerTimeTracker,
    is_headless,
    service_selector,
    services_for_pod,
)
from kybernetes.controllers.endpoints_subsets import desired_subsets, truncate

log = logging.getLogger(__name__)

Obj = dict[str, Any]

OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"


def managed_by_us(endpoints: Obj | None) -> bool:
    return ((endpoints or {}).get("metadata") or {}).get("labels", {}).get(MANAGED_BY) == CONTROLLER_NAME


def format_trigger_time(moment: datetime) -> str:
    """RFC 3339 with nanosecond precision, trailing zeros dropped (Go's RFC3339Nano)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


class PodServiceMapper:
    """Pod events -> keys of the Services that select the pod (before and after the change)."""

    def __init__(self, services: Any, enqueue_key: Any):
        self.services = services
        self.enqueue_key = enqueue_key

    def _services_in(self, namespace: str) -> list[Obj]:
        return self.services.indexer.by_index(BY_NAMESPACE, namespace)

    def pod_changed(self, pod: Obj) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        for service in services_for_pod(pod, self._services_in(namespace)):
            self.enqueue_key(object_key(service))

    def pod_updated(self, old: Obj, new: Obj) -> None:
        self.pod_changed(new)
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self.pod_changed(old)

    def handlers(self) -> dict[str, Any]:
        return {"on_add": self.pod_changed, "on_update": self.pod_updated, "on_delete": self.pod_changed}


class EndpointsController(Controller):
    name = "endpoint-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.services = ctx.informer(SERVICES)
        self.pods = ctx.informer(PODS)
        self.endpoints = ctx.informer(ENDPOINTS)
        self.trigger_times = TriggerTimeTracker()
        self.services.add_event_handler(**self.handlers())
        self.pods.add_event_handler(**PodServiceMapper(self.services, self.enqueue_key).handlers())
        # On start, endpoints we made whose Service is gone are looked at (and deleted); a deleted
        # one is looked at again (and re-created if its Service still wants it).
        self.endpoints.add_event_handler(on_add=self._endpoints_added, on_delete=self.enqueue)

    def _endpoints_added(self, endpoints: Obj) -> None:
        if managed_by_us(endpoints):
            self.enqueue(endpoints)

    async def reconcile(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        if service is None:
            self.trigger_times.forget(key)
            if not managed_by_us(self.endpoints.get(key)):
                return  # someone's own Endpoints, with no Service of that name: theirs to keep
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except ApiError as e:
                if e.code != 404:
                    raise
            return
        selector = service_selector(service)
        if selector is None:
            return
        pods = [p for p in self.pods.indexer.by_index(BY_NAMESPACE, namespace)
                if selector.matches((p.get("metadata") or {}).get("labels"))]
        trigger_time = self.trigger_times.compute(key, service, pods)
        subsets = desired_subsets(service, pods)
        truncated = truncate(subsets)
        current = self.endpoints.get(key)
        labels = dict((service.get("metadata") or {}).get("labels") or {})
        if current is not None and self._up_to_date(current, subsets, labels, truncated):
            return
        endpoints = deep_copy(current) if current is not None else {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        endpoints.setdefault("apiVersion", "v1")
        endpoints.setdefault("kind", "Endpoints")
        meta = endpoints["metadata"]
        annotations = meta.get("annotations") or {}
        if trigger_time is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger_time)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncated:
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        meta["annotations"] = annotations
        if is_headless(service):
            labels[HEADLESS_LABEL] = ""
        labels[MANAGED_BY] = CONTROLLER_NAME
        meta["labels"] = labels
        if subsets:
            endpoints["subsets"] = subsets
        else:
            endpoints.pop("subsets", None)  # as Kubernetes stores "no endpoints": no subsets field
        await self._write(endpoints, create=current is None)

    @staticmethod
    def _up_to_date(current: Obj, subsets: list[Obj], labels: dict[str, str], truncated: bool) -> bool:
        meta = current.get("metadata") or {}
        have_labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HEADLESS_LABEL}
        if have_labels.pop(MANAGED_BY, None) != CONTROLLER_NAME:
            return False
        capacity_ok = (OVER_CAPACITY in (meta.get("annotations") or {})) == truncated
        return (current.get("subsets") or []) == subsets and have_labels == labels and capacity_ok

    async def _write(self, endpoints: Obj, *, create: bool) -> None:
        meta = endpoints["metadata"]
        try:
            if create:
                await self.client.create(ENDPOINTS, endpoints, meta["namespace"])
            else:
                await self.client.update(ENDPOINTS, endpoints, meta["namespace"])
        except ApiError as e:
            if create and e.code == 403 and "terminat" in str(e).lower():
                return  # the namespace is going away: nothing will ever be created in it again
            if e.code != 409:
                key = f"{meta['namespace']}/{meta['name']}"
                reason, what = (("FailedToCreateEndpoint", f"Failed to create endpoint for service {key}")
                                if create else ("FailedToUpdateEndpoint", f"Failed to update endpoint {key}"))
                await self.events.warning(endpoints, reason, f"{what}: {e}")
            raise
