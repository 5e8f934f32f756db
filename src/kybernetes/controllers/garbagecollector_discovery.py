"""Which resources exist: the built-in kinds the client knows, and the server's own discovery.

The garbage collector and the namespace controller both act on *every* resource, including
custom resources that appear at run time, so they ask the apiserver what it serves, as
client-go's discovery client does: aggregated discovery first (/api and /apis answer with every
group, version and resource in two requests: the collector asks every 30 s), the legacy
documents (/api/v1, /apis/{group}/{version}) when the server has no aggregated form; the
preferred version of each group only. The garbage collector also starts from the built-in
registry, with no I/O, so its informers exist before the controller-manager waits for their sync.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.errors import ApiError
from kybernetes.client.resource import Resource
from kybernetes.client.rest import ApiClient


@dataclass(frozen=True)
class ApiResource:
    """One resource of one group/version, with the verbs discovery lists for it."""

    resource: Resource
    verbs: frozenset[str]

    @property
    def group_resource(self) -> str:
        """"pods", "replicasets.apps": how Kubernetes prints a GroupResource."""
        r = self.resource
        return f"{r.resource}.{r.group}" if r.group else r.resource

    def supports(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)


@dataclass
class Discovery:
    resources: list[ApiResource]
    # groupVersion -> why it could not be read (the namespace controller reports these).
    failed: dict[str, str]


def builtin_resources() -> list[ApiResource]:
    """The built-in resources at their group's preferred version (no I/O)."""
    registry = builtin_registry()
    out: list[ApiResource] = []
    for group in registry.groups():
        if not group.versions:
            continue
        for info in registry.resources(group.name, group.versions[0]):
            out.append(ApiResource(Resource.from_info(info), frozenset(info.verbs)))
    return out


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


async def discover(client: ApiClient) -> Discovery:
    """Every top-level resource the server serves, at each group's preferred version."""
    try:
        documents = [await client.request("GET", path, accept=AGGREGATED) for path in ("/api", "/apis")]
    except ApiError:
        documents = []
    if documents and all((d or {}).get("kind") == "APIGroupDiscoveryList" for d in documents):
        return Discovery([r for d in documents for r in _aggregated_resources(d)], {})
    return await _discover_legacy(client)


def _aggregated_resources(document: dict) -> list[ApiResource]:
    out = []
    for group in document.get("items") or []:
        name = (group.get("metadata") or {}).get("name") or ""
        versions = group.get("versions") or []
        if not versions:
            continue
        preferred = versions[0]  # listed in preference order
        version = preferred.get("version") or ""
        for r in preferred.get("resources") or []:
            plural = r.get("resource") or ""
            if not plural:
                continue
            kind = (r.get("responseKind") or {}).get("kind") or ""
            resource = Resource(name, version, plural, r.get("scope") == "Namespaced", kind)
            out.append(ApiResource(resource, frozenset(r.get("verbs") or ())))
    return out


async def _discover_legacy(client: ApiClient) -> Discovery:
    failed: dict[str, str] = {}
    group_versions: list[str] = []
    try:
        core = await client.request("GET", "/api")
        versions = list((core or {}).get("versions") or [])
        group_versions += versions[:1]
    except ApiError as e:
        failed["v1"] = e.message
    try:
        groups = await client.request("GET", "/apis")
        for group in (groups or {}).get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if not preferred and group.get("versions"):
                preferred = group["versions"][0].get("groupVersion")
            if preferred:
                group_versions.append(preferred)
    except ApiError as e:
        failed["apis"] = e.message
    lists = await asyncio.gather(*(_resource_list(client, gv) for gv in group_versions),
                                 return_exceptions=True)
    resources: list[ApiResource] = []
    for gv, result in zip(group_versions, lists, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, ApiError):
                raise result
            failed[gv] = result.message
            continue
        resources += result
    return Discovery(resources, failed)


async def _resource_list(client: ApiClient, group_version: str) -> list[ApiResource]:
    path = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    body = await client.request("GET", path) or {}
    group, _, version = group_version.rpartition("/")
    out = []
    for r in body.get("resources") or []:
        name = r.get("name") or ""
        if not name or "/" in name:  # subresources (pods/status, ...) are not collections
            continue
        resource = Resource(group, version, name, bool(r.get("namespaced")), r.get("kind") or "")
        out.append(ApiResource(resource, frozenset(r.get("verbs") or ())))
    return out
