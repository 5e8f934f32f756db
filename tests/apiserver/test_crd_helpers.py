"""A CRD to test with, and helpers to create one and wait until the server serves it."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

GROUP = "stable.example.com"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string", "maxLength": 40},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
                "color": {"type": "string"},
                "port": {"x-kubernetes-int-or-string": True},
                "code": {"type": "string", "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3,
                         "x-kubernetes-list-type": "set"},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "selector": {"type": "string"},
                "nickname": {"type": "string", "nullable": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "phase": {"type": "string"},
            },
        },
    },
}


def widget_crd(*, scope: str = "Namespaced", plural: str = "widgets", kind: str = "Widget",
               group: str = GROUP, short_names: tuple[str, ...] = ("wd",), singular: str | None = None,
               categories: tuple[str, ...] = ("all",), extra_versions: tuple[str, ...] = ()) -> dict[str, Any]:
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
        "subresources": {
            "status": {},
            "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                      "labelSelectorPath": ".spec.selector"},
        },
        "additionalPrinterColumns": [
            {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "selectableFields": [{"jsonPath": ".spec.color"}],
    }
    versions = [version]
    for name in extra_versions:
        other = copy.deepcopy(version)
        other.update({"name": name, "storage": False})
        versions.append(other)
    names: dict[str, Any] = {"plural": plural, "kind": kind, "shortNames": list(short_names),
                             "categories": list(categories)}
    if singular:
        names["singular"] = singular
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope, "names": names, "versions": versions},
    }


def condition(crd: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


async def wait_for(api, path: str, check, timeout: float = 5.0) -> Any:
    """GET path until check(body) is truthy; the last body."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await api.get(path)
        if status == 200 and check(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting on {path}: {status} {body}")
        await asyncio.sleep(0.02)


async def create_crd(api, crd: dict[str, Any]) -> dict[str, Any]:
    status, body = await api.post(CRDS, json=crd)
    assert status == 201, body
    name = crd["metadata"]["name"]
    return await wait_for(api, f"{CRDS}/{name}",
                          lambda b: (condition(b, "Established") or {}).get("status") == "True")


async def gone(api, path: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await api.get(path)
        if status == 404:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path} still there: {status} {body}")
        await asyncio.sleep(0.02)
