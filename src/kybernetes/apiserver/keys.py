"""Where objects live in the store.

    /registry/<group or "core">/<resource>/<namespace>/<name>    namespaced
    /registry/<group or "core">/<resource>/<name>                cluster scoped

All versions of a group's resource share one prefix (the storage version is the hub), so a
HorizontalPodAutoscaler written as autoscaling/v2 is listed under autoscaling/v1 too.
"""

from __future__ import annotations

from kybernetes.api.registry import ResourceInfo

ROOT = "/registry/"


def resource_prefix(info: ResourceInfo) -> str:
    return f"{ROOT}{info.group or 'core'}/{info.resource}/"


def collection_prefix(info: ResourceInfo, namespace: str | None) -> str:
    """The prefix of a list or watch: one namespace, or all of them when namespace is None."""
    if info.namespaced and namespace:
        return f"{resource_prefix(info)}{namespace}/"
    return resource_prefix(info)


def object_key(info: ResourceInfo, namespace: str | None, name: str) -> str:
    if info.namespaced:
        return f"{resource_prefix(info)}{namespace}/{name}"
    return f"{resource_prefix(info)}{name}"
