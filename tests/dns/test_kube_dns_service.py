"""ensure_kube_dns: the kube-dns Service, each node's slice and Endpoints address, idempotently."""

from __future__ import annotations

import pytest

from kybernetes.client.resource import ENDPOINTS, ENDPOINTSLICES, SERVICES
from kybernetes.dns import ensure_kube_dns, remove_node_endpoint
from kybernetes.testing.apiserver import TestApiServer


@pytest.fixture
async def client():
    async with TestApiServer() as srv, srv.client() as c:
        yield c


async def test_service_slice_and_endpoints_are_created(client):
    await ensure_kube_dns(client, node_name="n1", node_address="192.168.5.1", port=5353)
    svc = await client.get(SERVICES, "kube-dns", "kube-system")
    assert svc["spec"]["clusterIP"] == "10.43.0.10" and "selector" not in svc["spec"]
    assert [(p["name"], p["protocol"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("dns", "UDP", 53, 5353), ("dns-tcp", "TCP", 53, 5353), ("metrics", "TCP", 9153, 9153)]
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    eps = await client.get(ENDPOINTSLICES, "kube-dns-n1", "kube-system")
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert eps["endpoints"][0]["addresses"] == ["192.168.5.1"] and eps["ports"][0]["port"] == 5353
    endpoints = await client.get(ENDPOINTS, "kube-dns", "kube-system")
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == ["192.168.5.1"]


async def test_ensure_is_idempotent_and_nodes_add_up(client):
    await ensure_kube_dns(client, node_name="n1", node_address="192.168.5.1")
    before = await client.get(SERVICES, "kube-dns", "kube-system")
    await ensure_kube_dns(client, node_name="n1", node_address="192.168.5.1")
    after = await client.get(SERVICES, "kube-dns", "kube-system")
    assert before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    await ensure_kube_dns(client, node_name="n2", node_address="192.168.5.2")
    endpoints = await client.get(ENDPOINTS, "kube-dns", "kube-system")
    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == ["192.168.5.1", "192.168.5.2"]
    # A node whose address changed replaces its own entry.
    await ensure_kube_dns(client, node_name="n2", node_address="192.168.5.3")
    endpoints = await client.get(ENDPOINTS, "kube-dns", "kube-system")
    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == ["192.168.5.1", "192.168.5.3"]
    eps = await client.get(ENDPOINTSLICES, "kube-dns-n2", "kube-system")
    assert eps["endpoints"][0]["addresses"] == ["192.168.5.3"]
    await remove_node_endpoint(client, "n2")
    assert await client.get_or_none(ENDPOINTSLICES, "kube-dns-n2", "kube-system") is None
    endpoints = await client.get(ENDPOINTS, "kube-dns", "kube-system")
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == ["192.168.5.1"]


async def test_a_service_at_another_cluster_ip_is_recreated(client):
    await ensure_kube_dns(client, node_name="n1", node_address="192.168.5.1", cluster_ip="10.43.0.11")
    await ensure_kube_dns(client, node_name="n1", node_address="192.168.5.1")
    assert (await client.get(SERVICES, "kube-dns", "kube-system"))["spec"]["clusterIP"] == "10.43.0.10"


async def test_bad_addresses_are_refused_before_any_write(client):
    with pytest.raises(ValueError):
        await ensure_kube_dns(client, node_name="n1", node_address="not-an-ip")
    assert await client.get_or_none(SERVICES, "kube-dns", "kube-system") is None
