"""Resource paths, as Kubernetes routes them."""

from __future__ import annotations

import pytest

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.client.resource import DEPLOYMENTS, LEASES, NODES, PODS, Resource


def test_paths():
    assert PODS.path() == "/api/v1/pods"
    assert PODS.path("ns1") == "/api/v1/namespaces/ns1/pods"
    assert PODS.path("ns1", "p", "status") == "/api/v1/namespaces/ns1/pods/p/status"
    assert DEPLOYMENTS.path("d", "web", "scale") == "/apis/apps/v1/namespaces/d/deployments/web/scale"
    assert NODES.path("ignored", "n1") == "/api/v1/nodes/n1"
    assert LEASES.path("kube-system", "x") == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x"
    assert LEASES.api_version == "coordination.k8s.io/v1" and PODS.api_version == "v1"


def test_bad_segments_are_refused():
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError):
            PODS.path("default", bad)
    with pytest.raises(ValueError):
        PODS.path("default", None, "status")


def test_built_in_constants_agree_with_the_registry():
    from kybernetes.client import resource as module

    registry = builtin_registry()
    constants = [v for v in vars(module).values() if isinstance(v, Resource)]
    assert len(constants) > 20
    for r in constants:
        info = registry.get(r.group, r.version, r.resource)
        assert info is not None, r
        assert (info.kind, info.namespaced) == (r.kind, r.namespaced), r
        assert Resource.from_info(info) == r
