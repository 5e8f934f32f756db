"""Validation of scheduling and disruption policy: PriorityClass, PodDisruptionBudget and
HorizontalPodAutoscaler.

A priority above the user ceiling, or a 'system-' class that is not one of the two the cluster
defines, would let any user outrank the control plane. A disruption budget gives one of
minAvailable and maxUnavailable, never both. An autoscaler names its target, keeps
minReplicas <= maxReplicas, and gives each metric exactly the source its type announces.
"""

from __future__ import annotations

from typing import Any

from .errors import Cause
from .field_errors import forbidden, go_repr, immutable, invalid, not_supported, path_segment_errors, required
from .quantity import QuantityError, parse_quantity
from .validation_workloads import _percent_or_int, validate_label_selector

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
UNHEALTHY_POD_EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")
METRIC_SOURCE_TYPES = ("Object", "Pods", "Resource", "External", "ContainerResource")
_SOURCE_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
                  "ContainerResource": "containerResource"}
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
SELECT_POLICIES = ("Max", "Min", "Disabled")
SCALING_POLICY_TYPES = ("Pods", "Percent")
MAX_STABILIZATION_WINDOW = 3600
MAX_PERIOD_SECONDS = 1800


def _system_class_error(name: str, value: Any, global_default: Any) -> str:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def validate_priority_class(obj: dict[str, Any]) -> list[Cause]:
    name = (obj.get("metadata") or {}).get("name") or ""
    value = obj.get("value", 0)
    causes: list[Cause] = []
    if isinstance(value, bool) or not isinstance(value, int):
        return [invalid("value", value, "must be an integer")]
    if name.startswith("system-"):
        error = _system_class_error(name, value, obj.get("globalDefault"))
        if error:
            causes.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved "
                                                     f"for system use only. error: {error}"))
    elif value > HIGHEST_USER_PRIORITY:
        causes.append(forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        causes.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return causes


def validate_priority_class_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = []
    if obj.get("value", 0) != old.get("value", 0):
        causes.append(forbidden("value", "may not be changed in an update."))
    if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
        causes.append(immutable("preemptionPolicy", obj.get("preemptionPolicy")))
    return causes


def validate_pod_disruption_budget(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for field in ("minAvailable", "maxUnavailable"):
        if spec.get(field) is not None:
            causes += _percent_or_int(spec[field], f"spec.{field}")
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        causes.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
    return causes


def _object_reference(ref: Any, path: str) -> list[Cause]:
    ref = ref if isinstance(ref, dict) else {}
    causes = []
    for field in ("kind", "name"):
        value = ref.get(field) or ""
        if not value:
            causes.append(required(f"{path}.{field}"))
        else:
            causes += [invalid(f"{path}.{field}", value, m) for m in path_segment_errors(str(value))]
    return causes


def _positive_quantity(value: Any, path: str) -> list[Cause]:
    try:
        qty = parse_quantity(value)
    except QuantityError as e:
        return [invalid(path, value, str(e))]
    return [] if qty.value > 0 else [invalid(path, str(qty), "must be positive")]


def _metric_target(target: Any, path: str) -> list[Cause]:
    target = target if isinstance(target, dict) else {}
    causes = []
    kind = target.get("type") or ""
    if not kind:
        causes.append(required(f"{path}.type", "must specify a metric target type"))
    if kind not in TARGET_TYPES:
        causes.append(invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))
    for field in ("value", "averageValue"):
        if target.get(field) is not None:
            causes += _positive_quantity(target[field], f"{path}.{field}")
    utilization = target.get("averageUtilization")
    if utilization is not None and (not isinstance(utilization, int) or utilization < 1):
        causes.append(invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return causes


def _metric_name(source: dict[str, Any], path: str) -> list[Cause]:
    metric = source.get("metric") if isinstance(source.get("metric"), dict) else {}
    if not metric.get("name"):
        return [required(f"{path}.metric.name", "must specify a metric name")]
    return validate_label_selector(metric["selector"], f"{path}.metric.selector") if metric.get("selector") else []


def _metric_source(kind: str, source: dict[str, Any], path: str) -> list[Cause]:
    target = source.get("target") if isinstance(source.get("target"), dict) else {}
    causes = _metric_target(target, f"{path}.target")
    if kind in ("Resource", "ContainerResource"):
        if not source.get("name"):
            causes.append(required(f"{path}.name", "must specify a resource name"))
        if kind == "ContainerResource" and not source.get("container"):
            causes.append(required(f"{path}.container", "must specify a container"))
        if target.get("averageUtilization") is None and target.get("averageValue") is None:
            causes.append(required(f"{path}.target.averageUtilization",
                                   "must set either a target raw value or a target utilization"))
        elif target.get("averageUtilization") is not None and target.get("averageValue") is not None:
            causes.append(forbidden(f"{path}.target.averageValue",
                                    "may not set both a target raw value and a target utilization"))
        return causes
    causes += _metric_name(source, path)
    if kind == "Pods" and target.get("averageValue") is None:
        causes.append(required(f"{path}.target.averageValue", "must specify a positive target averageValue"))
    if kind == "Object":
        causes += _object_reference(source.get("describedObject"), f"{path}.describedObject")
        if target.get("value") is None and target.get("averageValue") is None:
            causes.append(required(f"{path}.target.averageValue", "must set either a target value or averageValue"))
    if kind == "External":
        if target.get("value") is None and target.get("averageValue") is None:
            causes.append(required(f"{path}.target.averageValue",
                                   "must set either a target value for metric or a per-pod target"))
        elif target.get("value") is not None and target.get("averageValue") is not None:
            causes.append(forbidden(f"{path}.target.value",
                                    "may not set both a target value for metric and a per-pod target"))
    return causes


def _metric(metric: Any, path: str) -> list[Cause]:
    if not isinstance(metric, dict):
        return [invalid(path, metric, "must be an object")]
    causes = []
    kind = metric.get("type") or ""
    if not kind:
        causes.append(required(f"{path}.type", "must specify a metric source type"))
    present = [f for f in _SOURCE_FIELDS.values() if metric.get(f) is not None]
    expected = _SOURCE_FIELDS.get(kind)
    if expected is None:
        causes.append(not_supported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    elif metric.get(expected) is None:
        causes.append(required(f"{path}.{expected}", "must populate information for the given metric source"))
    if len(present) != 1:
        causes += [forbidden(f"{path}.{f}", "must populate the given metric source only") for f in present if f != expected]
    if expected is not None and isinstance(metric.get(expected), dict):
        causes += _metric_source(kind, metric[expected], f"{path}.{expected}")
    return causes


def _scaling_rules(rules: Any, path: str) -> list[Cause]:
    if rules is None:
        return []
    rules = rules if isinstance(rules, dict) else {}
    causes = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        causes.append(invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
    elif isinstance(window, int) and window > MAX_STABILIZATION_WINDOW:
        causes.append(invalid(f"{path}.stabilizationWindowSeconds", window,
                              f"must be less than or equal to {MAX_STABILIZATION_WINDOW}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        causes.append(not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES))
    policies = rules.get("policies") or []
    if not policies:
        causes.append(required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        p = f"{path}.policies[{i}]"
        policy = policy if isinstance(policy, dict) else {}
        if policy.get("type") not in SCALING_POLICY_TYPES:
            causes.append(not_supported(f"{p}.type", policy.get("type") or "", SCALING_POLICY_TYPES))
        value, period = policy.get("value", 0), policy.get("periodSeconds", 0)
        if not isinstance(value, int) or value <= 0:
            causes.append(invalid(f"{p}.value", value, "must be greater than zero"))
        if not isinstance(period, int) or period <= 0:
            causes.append(invalid(f"{p}.periodSeconds", period, "must be greater than zero"))
        elif period > MAX_PERIOD_SECONDS:
            causes.append(invalid(f"{p}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return causes


def validate_horizontal_pod_autoscaler(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    if low is not None and (not isinstance(low, int) or low < 1):
        causes.append(invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    if not isinstance(high, int) or high < 1:
        causes.append(invalid("spec.maxReplicas", high, "must be greater than 0"))
    if isinstance(low, int) and isinstance(high, int) and high < low:
        causes.append(invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
    causes += _object_reference(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    for i, metric in enumerate(spec.get("metrics") or []):
        causes += _metric(metric, f"spec.metrics[{i}]")
    cpu = spec.get("targetCPUUtilizationPercentage")  # autoscaling/v1
    if cpu is not None and (not isinstance(cpu, int) or cpu < 1):
        causes.append(invalid("spec.targetCPUUtilizationPercentage", cpu, "must be greater than 0"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        causes += _scaling_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp")
        causes += _scaling_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")
    elif behavior is not None:
        causes.append(invalid("spec.behavior", go_repr(behavior), "must be an object"))
    return causes


VALIDATORS = {
    ("scheduling.k8s.io", "priorityclasses"): (validate_priority_class, validate_priority_class_update),
    ("policy", "poddisruptionbudgets"): (validate_pod_disruption_budget, None),
    ("autoscaling", "horizontalpodautoscalers"): (validate_horizontal_pod_autoscaler, None),
}
