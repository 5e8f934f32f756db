"""Discovery for the garbage collector: the aggregated form (two requests) and the legacy
documents (one per group/version) must describe the same resources."""

from __future__ import annotations

from kybernetes.client.resource import CUSTOMRESOURCEDEFINITIONS
from kybernetes.controllers.garbagecollector_discovery import _discover_legacy, discover
from kybernetes.testing.waiting import eventually

WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Cluster",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def described(discovery) -> set[tuple]:
    return {(r.resource.group, r.resource.version, r.resource.resource, r.resource.namespaced,
             r.resource.kind, r.verbs) for r in discovery.resources}


async def test_aggregated_and_legacy_discovery_agree_and_aggregated_takes_two_requests(client, monkeypatch):
    await client.create(CUSTOMRESOURCEDEFINITIONS, WIDGETS)

    async def widgets_served():
        return any(r.resource.resource == "widgets" for r in (await discover(client)).resources)
    await eventually(widgets_served)
    paths, real_request = [], client.request

    async def counting(method, path, **kwargs):
        paths.append(path)
        return await real_request(method, path, **kwargs)

    monkeypatch.setattr(client, "request", counting)
    aggregated = await discover(client)
    assert paths == ["/api", "/apis"]
    legacy = await _discover_legacy(client)
    assert not aggregated.failed and not legacy.failed
    assert described(aggregated) == described(legacy)
    widgets = next(r for r in aggregated.resources if r.resource.resource == "widgets")
    assert (widgets.resource.group, widgets.resource.namespaced, widgets.resource.kind) == ("example.com", False, "Widget")
    pods = next(r for r in aggregated.resources if r.group_resource == "pods")
    assert pods.resource.namespaced and pods.supports("list", "watch", "delete")
