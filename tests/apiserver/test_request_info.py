"""URL -> RequestInfo, as Kubernetes' RequestInfoFactory splits it."""

from __future__ import annotations

import pytest

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.errors import ApiError
from kybernetes.apiserver.request_info import parse_request_info, resolve_resource

CASES = [
    # method, path, query, (verb, group, version, namespace, resource, name, subresource)
    ("GET", "/api/v1/pods", {}, ("list", "", "v1", None, "pods", "", "")),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "v1", None, "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns1/pods", {}, ("list", "", "v1", "ns1", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns1/pods/p1", {}, ("get", "", "v1", "ns1", "pods", "p1", "")),
    ("GET", "/api/v1/namespaces/ns1/pods/p1/status", {}, ("get", "", "v1", "ns1", "pods", "p1", "status")),
    ("PUT", "/api/v1/namespaces/ns1/pods/p1/status", {}, ("update", "", "v1", "ns1", "pods", "p1", "status")),
    ("POST", "/api/v1/namespaces/ns1/pods/p1/binding", {},
     ("create", "", "v1", "ns1", "pods", "p1", "binding")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "v1", None, "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "v1", None, "namespaces", "ns1", "")),
    ("PUT", "/api/v1/namespaces/ns1/status", {}, ("update", "", "v1", None, "namespaces", "ns1", "status")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", {},
     ("update", "", "v1", None, "namespaces", "ns1", "finalize")),
    ("DELETE", "/api/v1/namespaces/ns1", {}, ("delete", "", "v1", None, "namespaces", "ns1", "")),
    ("DELETE", "/api/v1/namespaces/ns1/pods", {}, ("deletecollection", "", "v1", "ns1", "pods", "", "")),
    ("PATCH", "/apis/apps/v1/namespaces/ns1/deployments/d/scale", {},
     ("patch", "apps", "v1", "ns1", "deployments", "d", "scale")),
    ("POST", "/apis/apps/v1/namespaces/ns1/deployments", {},
     ("create", "apps", "v1", "ns1", "deployments", "", "")),
    ("GET", "/api/v1/watch/pods", {}, ("watch", "", "v1", None, "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns1/pods", {}, ("watch", "", "v1", "ns1", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns1/pods/p1", {}, ("watch", "", "v1", "ns1", "pods", "p1", "")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", {},
     ("get", "rbac.authorization.k8s.io", "v1", None, "clusterroles", "admin", "")),
]


@pytest.mark.parametrize("method,path,query,expected", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_parse(method, path, query, expected):
    ri = parse_request_info(method, path, query)
    assert ri.is_resource_request
    assert (ri.verb, ri.group, ri.version, ri.namespace, ri.resource, ri.name, ri.subresource) == expected


@pytest.mark.parametrize("path", ["/", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1",
                                  "/healthz", "/version", "/openapi/v3"])
def test_non_resource_paths(path):
    assert not parse_request_info("GET", path, {}).is_resource_request


def test_resolve_known_and_unknown():
    registry = builtin_registry()
    info = resolve_resource(registry, parse_request_info("GET", "/api/v1/namespaces/a/pods/p/status", {}))
    assert info.kind == "Pod"
    for path in ("/api/v1/widgets", "/apis/apps/v9/deployments", "/api/v1/namespaces/a/configmaps/c/status",
                 "/apis/v1/pods"):
        with pytest.raises(ApiError) as e:
            resolve_resource(registry, parse_request_info("GET", path, {}))
        assert e.value.code == 404
        assert e.value.message == "the server could not find the requested resource"
