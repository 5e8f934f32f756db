"""The kube-dns Service in kube-system, and this node's endpoint behind it.

    Service kube-system/kube-dns   clusterIP 10.43.0.10 (what every pod's resolv.conf names)
      ports   dns 53/UDP, dns-tcp 53/TCP, metrics 9153/TCP   (no selector: endpoints are ours)
    EndpointSlice kube-dns-<node>  the node's address and the port the DNS server listens on
    Endpoints kube-dns             every node's address (for kubectl and older consumers)

The DNS server runs on the node itself, not in a pod, so no controller can derive these
endpoints from pods: each node writes its own slice (no two nodes write the same object), and
adds itself to the shared Endpoints with a compare-and-swap retried on conflict. The service
proxy then DNATs the cluster IP to these addresses like any other Service. Everything here is
idempotent: run it on every start.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import ENDPOINTS, ENDPOINTSLICES, NAMESPACES, SERVICES
from kybernetes.client.rest import ApiClient

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
SERVICE_NAME = "kube-dns"
DEFAULT_CLUSTER_IP = "10.43.0.10"
MANAGED_BY = "dns.kybernetes.io"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "KubeDNS"}
CONFLICT_RETRIES = 5


def kube_dns_service(cluster_ip: str, port: int, metrics_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "ports": [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": port},
                           {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": port},
                           {"name": "metrics", "protocol": "TCP", "port": 9153, "targetPort": metrics_port}]},
    }


def _endpoint_ports(port: int, metrics_port: int) -> list[dict[str, Any]]:
    return [{"name": "dns", "protocol": "UDP", "port": port},
            {"name": "dns-tcp", "protocol": "TCP", "port": port},
            {"name": "metrics", "protocol": "TCP", "port": metrics_port}]


def node_endpoint_slice(node_name: str, node_address: str, port: int, metrics_port: int) -> dict[str, Any]:
    version = ipaddress.ip_address(node_address).version
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{SERVICE_NAME}-{node_name}", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": SERVICE_NAME,
                                "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
        "addressType": "IPv4" if version == 4 else "IPv6",
        "endpoints": [{"addresses": [node_address], "nodeName": node_name,
                       "conditions": {"ready": True, "serving": True, "terminating": False}}],
        "ports": _endpoint_ports(port, metrics_port),
    }


async def ensure_kube_dns(client: ApiClient, *, node_name: str, node_address: str, port: int = 53,
                          metrics_port: int = 9153, cluster_ip: str = DEFAULT_CLUSTER_IP) -> None:
    """Make the kube-dns Service, this node's slice and its Endpoints entry exist as described."""
    ipaddress.ip_address(node_address)  # ValueError early, before anything is written
    ipaddress.ip_address(cluster_ip)
    if await client.get_or_none(NAMESPACES, NAMESPACE) is None:
        await _create_tolerating_exists(client, NAMESPACES, {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}, None)
    await _ensure_service(client, kube_dns_service(cluster_ip, port, metrics_port))
    await _ensure_slice(client, node_endpoint_slice(node_name, node_address, port, metrics_port))
    await _ensure_endpoints_address(client, node_name, node_address, port, metrics_port)


async def _create_tolerating_exists(client: ApiClient, resource, obj: dict[str, Any],
                                    namespace: str | None) -> dict[str, Any] | None:
    try:
        return await client.create(resource, obj, namespace)
    except ApiError as e:
        if e.code != 409:
            raise
        return None


async def _ensure_service(client: ApiClient, desired: dict[str, Any]) -> None:
    current = await client.get_or_none(SERVICES, SERVICE_NAME, NAMESPACE)
    if current is not None and (current.get("spec") or {}).get("clusterIP") != desired["spec"]["clusterIP"]:
        # The cluster IP cannot change in place, and pods' resolv.conf names the configured one.
        log.warning("kube-dns has cluster IP %s, not %s: recreating it",
                    (current.get("spec") or {}).get("clusterIP"), desired["spec"]["clusterIP"])
        await client.delete(SERVICES, SERVICE_NAME, NAMESPACE)
        current = None
    if current is None:
        await _create_tolerating_exists(client, SERVICES, desired, NAMESPACE)
        return
    ports = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
             for p in (current.get("spec") or {}).get("ports") or []]
    labels = (current.get("metadata") or {}).get("labels") or {}
    if ports != desired["spec"]["ports"] or any(labels.get(k) != v for k, v in LABELS.items()):
        await client.patch(SERVICES, SERVICE_NAME, {"metadata": {"labels": LABELS},
                                                    "spec": {"ports": desired["spec"]["ports"]}}, NAMESPACE)


async def _ensure_slice(client: ApiClient, desired: dict[str, Any]) -> None:
    name = desired["metadata"]["name"]
    for _ in range(CONFLICT_RETRIES):
        current = await client.get_or_none(ENDPOINTSLICES, name, NAMESPACE)
        if current is None:
            if await _create_tolerating_exists(client, ENDPOINTSLICES, desired, NAMESPACE) is not None:
                return
            continue
        if all(current.get(k) == desired[k] for k in ("addressType", "endpoints", "ports")):
            return
        updated = {**current, **{k: desired[k] for k in ("addressType", "endpoints", "ports")}}
        try:
            await client.update(ENDPOINTSLICES, updated, NAMESPACE)
            return
        except ApiError as e:
            if e.code != 409:
                raise


async def _ensure_endpoints_address(client: ApiClient, node_name: str, node_address: str, port: int,
                                    metrics_port: int) -> None:
    ports = _endpoint_ports(port, metrics_port)
    mine = {"ip": node_address, "nodeName": node_name}
    for _ in range(CONFLICT_RETRIES):
        current = await client.get_or_none(ENDPOINTS, SERVICE_NAME, NAMESPACE)
        if current is None:
            desired = {"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
                       "subsets": [{"addresses": [mine], "ports": ports}]}
            if await _create_tolerating_exists(client, ENDPOINTS, desired, NAMESPACE) is not None:
                return
            continue
        others = [a for subset in current.get("subsets") or [] for a in subset.get("addresses") or []
                  if a.get("nodeName") != node_name and a.get("ip") != node_address]
        subsets = [{"addresses": [*others, mine], "ports": ports}]
        if current.get("subsets") == subsets:
            return
        try:
            await client.update(ENDPOINTS, {**current, "subsets": subsets}, NAMESPACE)
            return
        except ApiError as e:
            if e.code != 409:
                raise
    raise ApiError(409, "Conflict", f"kube-dns endpoints kept changing; gave up after {CONFLICT_RETRIES} tries")


async def remove_node_endpoint(client: ApiClient, node_name: str) -> None:
    """Take this node out of kube-dns (its slice and its Endpoints address), e.g. on node reset."""
    try:
        await client.delete(ENDPOINTSLICES, f"{SERVICE_NAME}-{node_name}", NAMESPACE)
    except ApiError as e:
        if e.code != 404:
            raise
    for _ in range(CONFLICT_RETRIES):
        current = await client.get_or_none(ENDPOINTS, SERVICE_NAME, NAMESPACE)
        if current is None:
            return
        subsets = []
        for subset in current.get("subsets") or []:
            addresses = [a for a in subset.get("addresses") or [] if a.get("nodeName") != node_name]
            if addresses:
                subsets.append({**subset, "addresses": addresses})
        if subsets == (current.get("subsets") or []):
            return
        try:
            await client.update(ENDPOINTS, {**current, "subsets": subsets}, NAMESPACE)
            return
        except ApiError as e:
            if e.code != 409:
                raise
