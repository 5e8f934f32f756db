"""autoscaling: horizontalpodautoscalers, following printHorizontalPodAutoscaler and
formatHPAMetrics in kubernetes pkg/printers/internalversion/printers.go.

TARGETS lists up to two metrics as "current/target" ("cpu: 12%/80%", "memory: 100Mi/200Mi",
"<unknown>/500m (avg)"), then "+ N more...". The real server prints the internal (v2-shaped)
object; an autoscaling/v1 object's targetCPUUtilizationPercentage and
currentCPUUtilizationPercentage become a cpu Resource metric, as the real conversion does.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    meta_name,
    name_column,
    opt_int,
)
from kybernetes.api.tables.quantity_text import canonical_quantity


def _v2_metrics(spec: dict, status: dict) -> tuple[list, list]:
    """spec.metrics and status.currentMetrics, converting the autoscaling/v1 cpu fields."""
    if "metrics" in spec or "targetCPUUtilizationPercentage" not in spec:
        return as_list(spec.get("metrics")), as_list(status.get("currentMetrics"))
    target = {"type": "Utilization", "averageUtilization": spec.get("targetCPUUtilizationPercentage")}
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    current = status.get("currentCPUUtilizationPercentage")
    statuses = []
    if current is not None:
        statuses = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
        ]
    return metrics, statuses


def _status_of(statuses: list, index: int, key: str) -> dict | None:
    if index < len(statuses):
        value = as_dict(statuses[index]).get(key)
        if isinstance(value, dict):
            return value
    return None


def _quantity(value: object) -> str:
    return canonical_quantity(value)  # an unset *Quantity prints "<nil>", as in Go


def _value_or_average(source: dict, current: dict | None) -> str:
    """External and Object metrics: "(avg)" form when the target is an average value."""
    target = as_dict(source.get("target"))
    now = as_dict(as_dict(current).get("current"))
    if target.get("averageValue") is not None:
        shown = "<unknown>"
        if current is not None and now.get("averageValue") is not None:
            shown = _quantity(now["averageValue"])
        return f"{shown}/{_quantity(target['averageValue'])} (avg)"
    shown = "<unknown>" if current is None else _quantity(now.get("value"))
    return f"{shown}/{_quantity(target.get('value'))}"


def _resource_metric(source: dict, current: dict | None) -> str:
    name, target = as_str(source.get("name")), as_dict(source.get("target"))
    now = as_dict(as_dict(current).get("current"))
    if target.get("averageValue") is not None:
        shown = "<unknown>" if current is None else _quantity(now.get("averageValue"))
        return f"{name}: {shown}/{_quantity(target['averageValue'])}"
    shown = "<unknown>"
    if current is not None and opt_int(now.get("averageUtilization")) is not None:
        shown = f"{as_int(now['averageUtilization'])}%"
    wanted = opt_int(target.get("averageUtilization"))
    return f"{name}: {shown}/{'<auto>' if wanted is None else f'{wanted}%'}"


def format_metrics(specs: list, statuses: list) -> str:
    if not specs:
        return "<none>"
    shown: list[str] = []
    for index, spec in enumerate(specs):
        spec = as_dict(spec)
        kind = spec.get("type")
        if kind == "External":
            shown.append(
                _value_or_average(as_dict(spec.get("external")), _status_of(statuses, index, "external"))
            )
        elif kind == "Pods":
            pods, current = as_dict(spec.get("pods")), _status_of(statuses, index, "pods")
            now = (
                "<unknown>"
                if current is None
                else _quantity(as_dict(current.get("current")).get("averageValue"))
            )
            shown.append(f"{now}/{_quantity(as_dict(pods.get('target')).get('averageValue'))}")
        elif kind == "Object":
            shown.append(
                _value_or_average(as_dict(spec.get("object")), _status_of(statuses, index, "object"))
            )
        elif kind == "Resource":
            shown.append(
                _resource_metric(as_dict(spec.get("resource")), _status_of(statuses, index, "resource"))
            )
        elif kind == "ContainerResource":
            source = as_dict(spec.get("containerResource"))
            shown.append(_resource_metric(source, _status_of(statuses, index, "containerResource")))
        else:
            shown.append("<unknown type>")
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def hpa_cells(hpa: dict, now: dt.datetime) -> list:
    spec, status = as_dict(hpa.get("spec")), as_dict(hpa.get("status"))
    ref = as_dict(spec.get("scaleTargetRef"))
    minimum = opt_int(spec.get("minReplicas"))
    return [
        meta_name(hpa),
        f"{as_str(ref.get('kind'))}/{as_str(ref.get('name'))}",
        format_metrics(*_v2_metrics(spec, status)),
        "<unset>" if minimum is None else str(minimum),
        as_int(spec.get("maxReplicas")),
        as_int(status.get("currentReplicas")),
        age(hpa, now),
    ]


TABLES = {
    ("autoscaling", "horizontalpodautoscalers"): TableSpec(
        (
            name_column(),
            column("Reference", "The scaled object (kind/name)."),
            column("Targets", "Current and target values of each metric."),
            column("MinPods", "Lower limit of replicas."),
            column("MaxPods", "Upper limit of replicas."),
            column("Replicas", "Current number of replicas."),
            age_column(),
        ),
        hpa_cells,
    ),
}
