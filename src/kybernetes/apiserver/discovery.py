"""Discovery: /version, /api, /apis, /api/v1, /apis/{group}[/{version}].

kubectl learns every resource it can talk about from these documents, so their shape matters
more than their size: a resource without ``kind`` or ``verbs`` is invisible, one without
``shortNames`` breaks ``get po``, one without ``categories: [all]`` is missing from ``get all``.

Two forms are served, as the real server does:

- the legacy documents (APIVersions, APIGroupList, APIGroup, APIResourceList), which make a client
  fetch /api/v1 and every /apis/G/V one by one;
- aggregated discovery (APIGroupDiscoveryList, apidiscovery.k8s.io v2 or v2beta1), answered on
  /api and /apis when the Accept header asks for it. The client only believes it when the
  response Content-Type names that exact media type, so it is echoed back verbatim.

Every document is rendered to bytes once and cached under ``registry.generation``: registering a
CRD bumps the generation and the next request re-renders. Aggregated documents carry an ETag
(a hash of the bytes) and honour If-None-Match, as the real server does.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kybernetes import KUBERNETES_VERSION, __version__
from kybernetes.api.registry import Registry, ResourceInfo

DISCOVERY_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")

# Where the real aggregator puts each built-in group in /apis (its group priority; ties go by
# name). Groups not listed here (custom resources) come after every built-in group, by name, as
# CRD groups do with their priority of 1000.
_GROUP_PRIORITY = {
    "apiregistration.k8s.io": 17800,
    "apps": 17800,
    "events.k8s.io": 17750,
    "authentication.k8s.io": 17700,
    "authorization.k8s.io": 17600,
    "autoscaling": 17500,
    "batch": 17400,
    "certificates.k8s.io": 17300,
    "networking.k8s.io": 17200,
    "policy": 17100,
    "rbac.authorization.k8s.io": 17000,
    "storage.k8s.io": 16800,
    "admissionregistration.k8s.io": 16700,
    "apiextensions.k8s.io": 16700,
    "scheduling.k8s.io": 16600,
    "coordination.k8s.io": 16500,
    "node.k8s.io": 16300,
    "discovery.k8s.io": 16200,
    "flowcontrol.apiserver.k8s.io": 16100,
    "internal.apiserver.k8s.io": 16000,
    "resource.k8s.io": 15900,
    "storagemigration.k8s.io": 15800,
    "metrics.k8s.io": 1100,
}
_CUSTOM_GROUP_PRIORITY = 1000

BUILD_DATE = "2025-11-11T00:00:00Z"


def version_info() -> dict[str, str]:
    """The /version document. Clients (and kubectl dispatchers) read major/minor/gitVersion."""
    release = KUBERNETES_VERSION.lstrip("v").split("-")[0].split("+")[0]
    major, minor = release.split(".")[:2]
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(max(int(minor) - 1, 0)),
        "gitVersion": KUBERNETES_VERSION,
        # No upstream commit was built here; name ours so nobody mistakes it for one.
        "gitCommit": hashlib.sha1(f"kybernetes {__version__}".encode()).hexdigest(),
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{platform.system().lower()}/{arch}",
    }


def storage_version_hash(info: ResourceInfo) -> str:
    """A stable digest of the storage group/version/kind, shaped like the real one."""
    gvk = f"{info.group}/{info.storage_version or info.version}/{info.kind}"
    return base64.b64encode(hashlib.sha256(gvk.encode()).digest()[:8]).decode()


def ordered_groups(registry: Registry) -> list[tuple[str, list[str]]]:
    """(group, versions preferred first) for every named group, in the real /apis order."""
    groups = [(g.name, list(g.versions)) for g in registry.groups() if g.name and g.versions]
    groups.sort(key=lambda gv: (-_GROUP_PRIORITY.get(gv[0], _CUSTOM_GROUP_PRIORITY), gv[0]))
    return groups


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": group,
        "versions": [_group_version(group, v) for v in versions],
        "preferredVersion": _group_version(group, versions[0]),
    }


def api_group_list(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [api_group(g, vs) for g, vs in ordered_groups(registry)],
    }


def _sorted_resources(registry: Registry, group: str, version: str) -> list[ResourceInfo]:
    return sorted(registry.resources(group, version), key=lambda r: r.resource)


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any]:
    """The legacy per-version document: resources by name, each followed by its subresources."""
    resources: list[dict[str, Any]] = []
    for info in _sorted_resources(registry, group, version):
        entry: dict[str, Any] = {
            "name": info.resource,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": list(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        if info.verbs:
            entry["storageVersionHash"] = storage_version_hash(info)
        resources.append(entry)
        for sub in sorted(info.subresources, key=lambda s: s.name):
            sub_entry: dict[str, Any] = {
                "name": f"{info.resource}/{sub.name}",
                "singularName": "",
                "namespaced": info.namespaced,
            }
            # The real server names the group/version only when it differs from the parent's.
            if (sub.group, sub.version) != (info.group, info.version):
                sub_entry["group"] = sub.group
                sub_entry["version"] = sub.version
            sub_entry["kind"] = sub.kind
            sub_entry["verbs"] = list(sub.verbs)
            resources.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _discovery_resource(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.resource,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": list(sub.verbs),
            }
            for sub in sorted(info.subresources, key=lambda s: s.name)
        ]
    return entry


def _discovery_group(registry: Registry, group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": group, "creationTimestamp": None},
        "versions": [
            {
                "version": v,
                "resources": [_discovery_resource(r) for r in _sorted_resources(registry, group, v)],
                "freshness": "Current",
            }
            for v in versions
        ],
    }


def aggregated_discovery(registry: Registry, *, core: bool, version: str = "v2") -> dict[str, Any]:
    """APIGroupDiscoveryList: the core group alone for /api, every named group for /apis."""
    if core:
        core_group = registry.group("")
        groups = [("", list(core_group.versions))] if core_group and core_group.versions else []
    else:
        groups = ordered_groups(registry)
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": [_discovery_group(registry, g, vs) for g, vs in groups],
    }


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for f in fields[1:]:
            key, _, value = f.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        out.append((fields[0].lower(), params))
    return out


def wants_aggregated(accept: str) -> str | None:
    """The apidiscovery version asked for in JSON (v2 or v2beta1), in the client's order."""
    for media_type, params in _media_ranges(accept):
        if media_type != "application/json":
            continue  # protobuf aggregated discovery is not served; the client falls back to JSON
        if params.get("g") == DISCOVERY_GROUP and params.get("as") == AGGREGATED_KIND:
            if params.get("v") in AGGREGATED_VERSIONS:
                return params["v"]
    return None


def aggregated_content_type(version: str) -> str:
    return f"application/json;g={DISCOVERY_GROUP};v={version};as={AGGREGATED_KIND}"


class DiscoveryDocuments:
    """Rendered discovery documents, cached as bytes until the registry changes."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._generation = -1
        self._cache: dict[tuple, tuple[bytes, str]] = {}

    def render(self, key: tuple, build: Callable[[], dict[str, Any]]) -> tuple[bytes, str]:
        """(body, etag) for ``key``; ``build`` runs only when not cached for this generation."""
        if self._generation != self.registry.generation:
            self._cache.clear()
            self._generation = self.registry.generation
        hit = self._cache.get(key)
        if hit is None:
            body = orjson.dumps(build())
            etag = '"' + hashlib.sha256(body).hexdigest()[:32].upper() + '"'
            hit = self._cache[key] = (body, etag)
        return hit


def _not_found() -> web.Response:
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {}, "code": 404,
    }
    return web.Response(status=404, body=orjson.dumps(status), content_type="application/json")


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


def _aggregated(request: web.Request, body: bytes, etag: str, version: str) -> web.Response:
    headers = {"Content-Type": aggregated_content_type(version), "Vary": "Accept", "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers={"ETag": etag, "Vary": "Accept"})
    return web.Response(body=body, headers=headers)


def _server_address(request: web.Request) -> str:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if sockname:
        host, port = sockname[0], sockname[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return request.host


def setup_discovery(app: web.Application, registry: Registry) -> None:
    """Register the discovery routes (before the REST catch-all routes)."""
    docs = DiscoveryDocuments(registry)
    version_body = orjson.dumps(version_info())

    async def get_version(request: web.Request) -> web.Response:
        return _json(version_body)

    async def get_api(request: web.Request) -> web.Response:
        agg = wants_aggregated(request.headers.get("Accept", ""))
        if agg:
            body, etag = docs.render(("api", agg), lambda: aggregated_discovery(registry, core=True, version=agg))
            return _aggregated(request, body, etag, agg)
        core = registry.group("")
        versions = list(core.versions) if core else []
        doc = {
            "kind": "APIVersions",
            "versions": versions,
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": _server_address(request)}
            ],
        }
        return _json(orjson.dumps(doc))

    async def get_apis(request: web.Request) -> web.Response:
        agg = wants_aggregated(request.headers.get("Accept", ""))
        if agg:
            body, etag = docs.render(("apis", agg), lambda: aggregated_discovery(registry, core=False, version=agg))
            return _aggregated(request, body, etag, agg)
        body, _ = docs.render(("apis",), lambda: api_group_list(registry))
        return _json(body)

    async def get_core_version(request: web.Request) -> web.Response:
        version = request.match_info["version"]
        core = registry.group("")
        if core is None or version not in core.versions:
            return _not_found()
        body, _ = docs.render(("api", "", version), lambda: api_resource_list(registry, "", version))
        return _json(body)

    async def get_group(request: web.Request) -> web.Response:
        group = request.match_info["group"]
        info = registry.group(group)
        if not group or info is None or not info.versions:
            return _not_found()
        body, _ = docs.render(("group", group), lambda: {
            "kind": "APIGroup", "apiVersion": "v1", **api_group(group, list(info.versions))})
        return _json(body)

    async def get_group_version(request: web.Request) -> web.Response:
        group, version = request.match_info["group"], request.match_info["version"]
        info = registry.group(group)
        if not group or info is None or version not in info.versions:
            return _not_found()
        body, _ = docs.render(("gv", group, version), lambda: api_resource_list(registry, group, version))
        return _json(body)

    app.router.add_get("/version", get_version)
    app.router.add_get("/version/", get_version)
    app.router.add_get("/api", get_api)
    app.router.add_get("/api/", get_api)
    app.router.add_get("/apis", get_apis)
    app.router.add_get("/apis/", get_apis)
    app.router.add_get("/api/{version}", get_core_version)
    app.router.add_get("/api/{version}/", get_core_version)
    app.router.add_get("/apis/{group}", get_group)
    app.router.add_get("/apis/{group}/", get_group)
    app.router.add_get("/apis/{group}/{version}", get_group_version)
    app.router.add_get("/apis/{group}/{version}/", get_group_version)
