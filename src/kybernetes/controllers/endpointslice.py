"""EndpointSlices: discovery.k8s.io/v1 slices of every Service with a selector (endpointslice-controller).

Per Service key: the selected pods become endpoints (one per pod with an IP of the slice's
address type; conditions ready / serving / terminating; targetRef, nodeName, zone from the
node's topology.kubernetes.io/zone label, hostname for pods whose subdomain is this Service),
grouped by resolved ports, and endpointslice_reconciler.py works out the writes. Slices are
labelled kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, owned by the
Service (controller reference), and stamped with endpoints.kubernetes.io/last-change-trigger-time.

Terminating pods stay in slices (ready=false, terminating=true) so proxies can drain them;
with publishNotReadyAddresses every endpoint is ready. Services without a selector (and
ExternalName ones) are the user's: never touched. Slices of a deleted Service are deleted.

Our own writes reach the slice cache a moment later. A reconcile that runs before they do would
see too few slices and create duplicates, so every write is remembered (by generation, or as an
expected deletion) and a reconcile on a cache that is behind fails and is retried shortly.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.indexer import BY_NAMESPACE, BY_NODE_NAME, object_key, split_key
from kybernetes.client.resource import ENDPOINTSLICES, NODES, PODS, SERVICES
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.endpoints import PodServiceMapper, format_trigger_time
from kybernetes.controllers.endpoints_pods import (
    TriggerTimeTracker,
    find_port,
    is_headless,
    is_pod_ready,
    pod_ips,
    service_families,
    service_selector,
    services_for_pod,
    should_be_in_endpoints,
    should_set_hostname,
)
from kybernetes.controllers.endpointslice_reconciler import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    DesiredGroup,
    SliceChanges,
    endpoint_key,
    port_key,
    reconcile_slices,
    stamp_trigger_time,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BY_SERVICE = "endpointslice-service"
ZONE_LABEL = "topology.kubernetes.io/zone"
DELETED = -1
DEFAULT_MAX_PER_SLICE = 100


class StaleCacheError(Exception):
    """The slice cache has not yet seen this controller's last writes; retry shortly."""


def _slice_service(slice_: Obj) -> list[str]:
    meta = slice_.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return []
    return [f"{meta.get('namespace')}/{labels[SERVICE_NAME_LABEL]}"]


def _generation(obj: Obj) -> int:
    meta = obj.get("metadata") or {}
    for value in (meta.get("generation"), meta.get("resourceVersion")):
        try:
            if value is not None:
                return int(value)
        except (TypeError, ValueError):
            continue
    return 0


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name") or "", "port": number,
                "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_to_endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    serving = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {"addresses": pod_ips(pod, address_type),
                     "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, service):
        endpoint["hostname"] = spec["hostname"]
    endpoint["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                             "uid": meta.get("uid")}
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    return endpoint


class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.events = ctx.recorder("endpoint-slice-controller")  # the event source Kubernetes uses
        self.max_per_slice = int(ctx.options.get("max_endpoints_per_slice", DEFAULT_MAX_PER_SLICE))
        if not 1 <= self.max_per_slice <= 1000:
            raise ValueError(f"max_endpoints_per_slice must be 1..1000, not {self.max_per_slice}")
        self.services = ctx.informer(SERVICES)
        self.pods = ctx.informer(PODS)
        self.nodes = ctx.informer(NODES)
        self.slices = ctx.informer(ENDPOINTSLICES)
        try:
            self.slices.indexer.add_indexer(BY_SERVICE, _slice_service)
        except ValueError:
            pass  # another copy of this controller on the same informers added it already
        self.trigger_times = TriggerTimeTracker()
        self.expected: dict[str, dict[str, int]] = {}  # service key -> slice name -> generation | DELETED
        self.services.add_event_handler(**self.handlers())
        self.pods.add_event_handler(**PodServiceMapper(self.services, self.enqueue_key).handlers())
        self.nodes.add_event_handler(on_add=self._node_changed, on_update=self._node_updated,
                                     on_delete=self._node_changed)
        self.slices.add_event_handler(on_add=self._slice_changed, on_update=lambda _o, new: self._slice_changed(new),
                                      on_delete=self._slice_deleted)

    # -- event handlers ------------------------------------------------------------------------------

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if ((old.get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL) != \
                ((new.get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL):
            self._node_changed(new)

    def _node_changed(self, node: Obj) -> None:
        for pod in self.pods.indexer.by_index(BY_NODE_NAME, (node.get("metadata") or {}).get("name") or ""):
            namespace = (pod.get("metadata") or {}).get("namespace") or ""
            for service in services_for_pod(pod, self.services.indexer.by_index(BY_NAMESPACE, namespace)):
                self.enqueue(service)

    def _slice_changed(self, slice_: Obj) -> None:
        for key in _slice_service(slice_):
            self.enqueue_key(key)

    def _slice_deleted(self, slice_: Obj) -> None:
        for key in _slice_service(slice_):
            self.expected.get(key, {}).pop((slice_.get("metadata") or {}).get("name"), None)
            self.enqueue_key(key)

    # -- the reconcile -------------------------------------------------------------------------------

    def check_cache(self, key: str) -> None:
        namespace = split_key(key)[0]
        expected = self.expected.get(key, {})
        for name, generation in list(expected.items()):
            cached = self.slices.get(f"{namespace}/{name}")
            if generation == DELETED:
                if cached is not None:
                    raise StaleCacheError(f"EndpointSlice {namespace}/{name} was deleted; the cache still has it")
                del expected[name]
            elif cached is None or _generation(cached) < generation:
                raise StaleCacheError(f"EndpointSlice {namespace}/{name} is older in the cache than our last write")

    async def reconcile(self, key: str) -> None:
        namespace, name = split_key(key)
        self.check_cache(key)
        existing = [s for s in self.slices.indexer.by_index(BY_SERVICE, key)
                    if not (s.get("metadata") or {}).get("deletionTimestamp")]
        service = self.services.get(key)
        if service is None:
            self.trigger_times.forget(key)
            await self.apply(key, None, SliceChanges(delete=existing))
            self.expected.pop(key, None)
            return
        if service_selector(service) is None:
            return
        selector = service_selector(service)
        assert selector is not None
        pods = [p for p in self.pods.indexer.by_index(BY_NAMESPACE, namespace)
                if selector.matches((p.get("metadata") or {}).get("labels"))]
        trigger = self.trigger_times.compute(key, service, pods)
        families = service_families(service)
        missing_nodes: set[str] = set()
        changes = SliceChanges()
        for address_type in families:
            desired = self.desired_endpoints(service, pods, address_type, missing_nodes)
            mine = [s for s in existing if s.get("addressType") == address_type]
            step = reconcile_slices(service, address_type, desired, mine, self.max_per_slice)
            changes.create += step.create
            changes.update += step.update
            changes.delete += step.delete
        changes.delete += [s for s in existing if s.get("addressType") not in families]
        stamp_trigger_time(changes, format_trigger_time(trigger) if trigger else None)
        await self.apply(key, service, changes)
        if missing_nodes:
            raise RuntimeError(f"service {key}: pods on nodes not (yet) known: {', '.join(sorted(missing_nodes))}")

    def desired_endpoints(self, service: Obj, pods: list[Obj], address_type: str,
                          missing_nodes: set[str]) -> dict[Any, DesiredGroup]:
        desired: dict[Any, DesiredGroup] = {}
        headless_without_ports = is_headless(service) and not (service.get("spec") or {}).get("ports")
        for pod in pods:
            if not should_be_in_endpoints(pod, include_terminating=True):
                continue
            ports = [] if headless_without_ports else endpoint_ports(service, pod)
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = self.nodes.get(node_name) if node_name else None
            if node is None:
                missing_nodes.add(node_name or "<none>")
                continue  # as Kubernetes: leave the pod out and try again once its node is known
            endpoint = pod_to_endpoint(pod, node, service, address_type)
            if not endpoint["addresses"]:
                continue
            group = desired.setdefault(port_key(ports), DesiredGroup(ports))
            group.endpoints[endpoint_key(endpoint)] = endpoint
        return desired

    async def apply(self, key: str, service: Obj | None, changes: SliceChanges) -> None:
        """Creates first, then updates, then deletes: consumers never see a gap."""
        namespace = split_key(key)[0]
        expected = self.expected.setdefault(key, {})
        try:
            for slice_ in changes.create:
                created = await self.client.create(ENDPOINTSLICES, slice_, namespace)
                expected[created["metadata"]["name"]] = _generation(created)
            for slice_ in changes.update:
                updated = await self.client.update(ENDPOINTSLICES, slice_, namespace)
                expected[updated["metadata"]["name"]] = _generation(updated)
            for slice_ in changes.delete:
                slice_name = slice_["metadata"]["name"]
                try:
                    await self.client.delete(ENDPOINTSLICES, slice_name, namespace)
                except ApiError as e:
                    if e.code != 404:
                        raise
                expected[slice_name] = DELETED
        except ApiError as e:
            if e.code == 403 and "terminat" in str(e).lower():
                return  # the namespace is going away; nothing can be created in it any more
            if service is not None and e.code not in (404, 409):
                await self.events.warning({**service, "kind": "Service", "apiVersion": "v1"},
                                          "FailedToUpdateEndpointSlices",
                                          f"Error updating Endpoint Slices for Service {object_key(service)}: {e}")
            raise
