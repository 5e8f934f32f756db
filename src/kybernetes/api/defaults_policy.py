"""Defaults the real server adds to autoscaling, LimitRange, IngressClass and EndpointSlice objects.

An HPA that states any behavior gets the full scale-up and scale-down rules filled in (the
controller and ``kubectl describe`` read them), a Container LimitRange item gets default limits
from its max and default requests from its default limit (or min), an IngressClass parameters
reference is cluster-scoped unless it says otherwise, and an EndpointSlice port has a name ("")
and protocol (TCP).
"""

from __future__ import annotations

import copy
from typing import Any


def _scale_up_policies() -> list[dict[str, Any]]:
    return [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]


def _scale_down_policies() -> list[dict[str, Any]]:
    return [{"type": "Percent", "value": 100, "periodSeconds": 15}]


def _scaling_rules(rules: Any, window: int, policies: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(rules, dict):
        return {"stabilizationWindowSeconds": window, "selectPolicy": "Max", "policies": policies}
    if not rules.get("policies"):
        rules["policies"] = policies
    rules.setdefault("stabilizationWindowSeconds", window)
    rules.setdefault("selectPolicy", "Max")
    return rules


def default_hpa_behavior(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    behavior = spec.get("behavior") if isinstance(spec, dict) else None
    if not isinstance(behavior, dict):
        return
    behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), 0, _scale_up_policies())
    behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), 300, _scale_down_policies())


def default_limit_range(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    for item in (spec.get("limits") or []) if isinstance(spec, dict) else []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        request = dict(item.get("defaultRequest") or {})
        for source, target in ((item.get("max"), default), (default, request), (item.get("min"), request)):
            for key, value in (source or {}).items():
                target.setdefault(key, copy.deepcopy(value))
        if default:
            item["default"] = default
        if request:
            item["defaultRequest"] = request


def default_ingress_class(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    params = spec.get("parameters") if isinstance(spec, dict) else None
    if isinstance(params, dict) and params.get("scope") is None:
        params["scope"] = "Cluster"


def default_endpoint_slice_ports(obj: dict[str, Any]) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")
