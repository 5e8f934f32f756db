"""Defaults for HPA behavior, LimitRange items, IngressClass parameters and EndpointSlice ports."""

from kybernetes.api.defaults import apply_defaults
from tests.api.api_validation_helpers import info_for


def test_hpa_behavior_filled_only_when_given():
    info = info_for("autoscaling", "horizontalpodautoscalers", "v2")
    plain = {"spec": {"maxReplicas": 3}}
    apply_defaults(info, plain)
    assert "behavior" not in plain["spec"] and plain["spec"]["minReplicas"] == 1
    given = {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}
    apply_defaults(info, given)
    assert given["spec"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]}}


def test_limit_range_default_request_prefers_default_over_min():
    obj = {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "min": {"cpu": "100m"}}]}}
    apply_defaults(info_for("", "limitranges"), obj)
    assert obj["spec"]["limits"][0]["defaultRequest"] == {"cpu": "500m"}


def test_ingress_class_scope_and_endpoint_slice_port():
    ic = {"spec": {"controller": "example.com/c", "parameters": {"kind": "K", "name": "n", "scope": "Namespace"}}}
    apply_defaults(info_for("networking.k8s.io", "ingressclasses"), ic)
    assert ic["spec"]["parameters"]["scope"] == "Namespace"
    es = {"ports": [{"port": 80, "name": "http", "protocol": "UDP"}]}
    apply_defaults(info_for("discovery.k8s.io", "endpointslices"), es)
    assert es["ports"] == [{"port": 80, "name": "http", "protocol": "UDP"}]
