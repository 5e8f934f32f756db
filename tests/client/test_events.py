"""The event recorder: Events as Kubernetes writes them, repeats aggregated by PATCH."""

from __future__ import annotations

import re

import pytest

from kybernetes.client.events import EventRecorder
from kybernetes.client.resource import CONFIGMAPS, EVENTS, NODES
from kybernetes.client.rest import ApiClient
from kybernetes.util.clock import FakeClock


async def configmap(client: ApiClient, name: str = "cfg") -> dict:
    obj = await client.create(CONFIGMAPS, {"metadata": {"name": name}})
    return {"kind": "ConfigMap", "apiVersion": "v1", **obj}


async def test_event_fields(client: ApiClient):
    cm = await configmap(client)
    clock = FakeClock()
    recorder = EventRecorder(client, "test-controller", host="node-1", clock=clock)
    event = await recorder.normal(cm, "Synced", "all good")
    assert event is not None
    assert re.fullmatch(r"cfg\.[0-9a-f]+", event["metadata"]["name"])
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"] == {"kind": "ConfigMap", "namespace": "default", "name": "cfg",
                                       "uid": cm["metadata"]["uid"], "apiVersion": "v1",
                                       "resourceVersion": cm["metadata"]["resourceVersion"]}
    assert (event["type"], event["reason"], event["message"], event["count"]) == ("Normal", "Synced", "all good", 1)
    assert event["source"] == {"component": "test-controller", "host": "node-1"}
    assert event["reportingComponent"] == "test-controller"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T00:00:00Z"


async def test_repeats_are_aggregated(client: ApiClient):
    cm = await configmap(client)
    clock = FakeClock()
    recorder = EventRecorder(client, "ctl", clock=clock)
    first = await recorder.warning(cm, "Failed", "could not do it")
    await clock.advance(60)
    await recorder.warning(cm, "Failed", "could not do it")
    await clock.advance(60)
    third = await recorder.warning(cm, "Failed", "could not do it")
    assert third["metadata"]["name"] == first["metadata"]["name"] and third["count"] == 3
    assert third["firstTimestamp"] == "2026-01-01T00:00:00Z" and third["lastTimestamp"] == "2026-01-01T00:02:00Z"
    other = await recorder.warning(cm, "Failed", "a different message")
    assert other["metadata"]["name"] != first["metadata"]["name"] and other["count"] == 1
    events = (await client.list(EVENTS, "default"))["items"]
    assert sorted(e["count"] for e in events) == [1, 3]


async def test_deleted_event_starts_over(client: ApiClient):
    cm = await configmap(client)
    recorder = EventRecorder(client, "ctl", clock=FakeClock())
    first = await recorder.normal(cm, "R", "m")
    await client.delete(EVENTS, first["metadata"]["name"], "default")
    again = await recorder.normal(cm, "R", "m")
    assert again["count"] == 1 and again["metadata"]["name"] != first["metadata"]["name"]


async def test_cluster_scoped_objects_get_events_in_default(client: ApiClient):
    node = await client.create(NODES, {"metadata": {"name": "n1"}})
    event = await EventRecorder(client, "ctl").normal({"kind": "Node", "apiVersion": "v1", **node},
                                                      "Ready", "node is ready")
    assert event["metadata"]["namespace"] == "default" and "namespace" not in event["involvedObject"]


async def test_failures_are_logged_not_raised(client: ApiClient, caplog):
    ghost = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x", "namespace": "no-such-ns"}}
    assert await EventRecorder(client, "ctl").normal(ghost, "R", "m") is None
    assert "could not record event" in caplog.text
    with pytest.raises(ValueError):
        await EventRecorder(client, "ctl").event(ghost, "Info", "R", "m")
    with pytest.raises(ValueError):
        await EventRecorder(client, "ctl").normal({"metadata": {}}, "R", "m")
