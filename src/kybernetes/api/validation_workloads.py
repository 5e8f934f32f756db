"""Validation of workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets,
ReplicationControllers, Jobs and CronJobs.

The rules every controller relies on: a selector that is present, well formed and matches the
template's labels (or the controller would adopt nothing, or everything), non-negative counts, a
restart policy the controller can honour, and selectors (plus a Job's template) that never change
after creation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .cron import CronError, load_time_zone, schedule_errors
from .errors import Cause
from .field_errors import forbidden, go_repr, immutable, invalid, not_supported, required
from .selectors import label_selector_from_spec
from .validation_meta import validate_labels
from .validation_pod import validate_pod_template

_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def go_label_selector(selector: Any) -> str:
    """A LabelSelector printed as Go prints one in field errors (%#v)."""
    if not isinstance(selector, dict):
        return go_repr(selector)
    labels = selector.get("matchLabels")
    labels_text = go_repr(labels) if labels else "map[string]string(nil)"
    exprs = selector.get("matchExpressions")
    if exprs:
        items = ", ".join(
            f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key", ""))}, '
            f'Operator:{json.dumps(e.get("operator", ""))}, Values:{go_repr(list(e.get("values") or []))}}}'
            for e in exprs if isinstance(e, dict))
        exprs_text = f"[]v1.LabelSelectorRequirement{{{items}}}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}"


def _selector_invalid(path: str, selector: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_label_selector(selector)}: {detail}", path)


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    if not isinstance(selector, dict):
        return [invalid(path, selector, "must be an object")]
    causes = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            causes.append(invalid(p, expr, "must be an object"))
            continue
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            causes.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            causes.append(forbidden(f"{p}.values",
                                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif op not in _SELECTOR_OPERATORS:
            causes.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
        causes += validate_labels({expr.get("key", ""): "x"}, f"{p}.key") if "key" in expr else [required(f"{p}.key")]
    return causes


def _selects_template(selector: dict[str, Any], template: Any, path: str) -> list[Cause]:
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    try:
        matches = label_selector_from_spec(selector).matches(labels or {})
    except Exception:  # malformed selectors are reported by validate_label_selector
        return []
    if matches:
        return []
    return [invalid(f"{path}.template.metadata.labels", labels or {}, "`selector` does not match template `labels`")]


def _non_negative(spec: dict[str, Any], field: str, path: str) -> list[Cause]:
    value = spec.get(field)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [invalid(f"{path}.{field}", value, "must be greater than or equal to 0")]
    return []


def _restart_policy(template: Any, path: str, allowed: tuple[str, ...]) -> list[Cause]:
    spec = (template or {}).get("spec") if isinstance(template, dict) else None
    policy = (spec or {}).get("restartPolicy") if isinstance(spec, dict) else None
    if policy is None or policy in allowed:
        return []
    return [not_supported(f"{path}.template.spec.restartPolicy", policy, allowed)]


def _selector_and_template(spec: dict[str, Any], path: str, restart: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    selector = spec.get("selector")
    if selector is None:
        causes.append(required(f"{path}.selector"))
    else:
        causes += validate_label_selector(selector, f"{path}.selector")
        if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(_selector_invalid(f"{path}.selector", selector, "empty selector is invalid for deployment"))
        elif isinstance(selector, dict) and not causes:
            causes += _selects_template(selector, spec.get("template"), path)
    causes += validate_pod_template(spec.get("template"), f"{path}.template")
    causes += _restart_policy(spec.get("template"), path, restart)
    return causes


def _percent_or_int(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+)%", value)
        if not m:
            return [invalid(path, value, "a valid percent string must be a numeric string followed by an "
                                         "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                                         "'[0-9]+%')")]
        if int(m.group(1)) > 100:
            return [invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def _is_zero(value: Any) -> bool:
    return value in (0, "0%")


def validate_deployment(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative(spec, "replicas", "spec") + _non_negative(spec, "revisionHistoryLimit", "spec")
    causes += _non_negative(spec, "minReadySeconds", "spec")
    causes += _selector_and_template(spec, "spec", ("Always",))
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in ("Recreate", "RollingUpdate"):
        causes.append(not_supported("spec.strategy.type", kind, ("Recreate", "RollingUpdate")))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        causes.append(forbidden("spec.strategy.rollingUpdate",
                                "may not be specified when strategy `type` is 'Recreate'"))
    elif isinstance(rolling, dict):
        p = "spec.strategy.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        if unavailable is not None:
            causes += _percent_or_int(unavailable, f"{p}.maxUnavailable")
        if surge is not None:
            causes += _percent_or_int(surge, f"{p}.maxSurge")
        if _is_zero(unavailable) and _is_zero(surge):
            causes.append(invalid(f"{p}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return causes


def validate_replicaset(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative(spec, "replicas", "spec") + _non_negative(spec, "minReadySeconds", "spec")
    return causes + _selector_and_template(spec, "spec", ("Always",))


def validate_statefulset(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative(spec, "replicas", "spec") + _non_negative(spec, "revisionHistoryLimit", "spec")
    causes += _selector_and_template(spec, "spec", ("Always",))
    policy = spec.get("podManagementPolicy")
    if policy is not None and policy not in ("OrderedReady", "Parallel"):
        causes.append(not_supported("spec.podManagementPolicy", policy, ("OrderedReady", "Parallel")))
    kind = (spec.get("updateStrategy") or {}).get("type")
    if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
        causes.append(not_supported("spec.updateStrategy.type", kind, ("OnDelete", "RollingUpdate")))
    return causes


def validate_daemonset(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative(spec, "revisionHistoryLimit", "spec") + _non_negative(spec, "minReadySeconds", "spec")
    causes += _selector_and_template(spec, "spec", ("Always",))
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in ("OnDelete", "RollingUpdate"):
        causes.append(not_supported("spec.updateStrategy.type", kind, ("OnDelete", "RollingUpdate")))
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict):
        p = "spec.updateStrategy.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        for name, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
            if value is not None:
                causes += _percent_or_int(value, f"{p}.{name}")
        if _is_zero(unavailable) and _is_zero(surge if surge is not None else 0):
            causes.append(invalid(f"{p}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    return causes


def validate_replication_controller(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative(spec, "replicas", "spec")
    selector = spec.get("selector")
    if not selector:
        causes.append(required("spec.selector"))
    else:
        causes += validate_labels(selector, "spec.selector")
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            causes.append(invalid("spec.template.metadata.labels", labels,
                                  "`selector` does not match template `labels`"))
    if spec.get("template") is not None:
        causes += validate_pod_template(spec.get("template"), "spec.template")
        causes += _restart_policy(spec.get("template"), "spec", ("Always",))
    return causes


def validate_job_spec(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "backoffLimit"):
        causes += _non_negative(spec, field, path)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline, "must be greater than 0"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
    selector = spec.get("selector")
    if selector is not None:
        causes += validate_label_selector(selector, f"{path}.selector")
        if isinstance(selector, dict) and not causes:
            causes += _selects_template(selector, spec.get("template"), path)
    causes += validate_pod_template(spec.get("template"), f"{path}.template")
    template_spec = (spec.get("template") or {}).get("spec") if isinstance(spec.get("template"), dict) else None
    policy = (template_spec or {}).get("restartPolicy") if isinstance(template_spec, dict) else None
    if policy not in ("OnFailure", "Never"):
        causes.append(not_supported(f"{path}.template.spec.restartPolicy", policy or "", ("OnFailure", "Never")))
    return causes


def validate_job(obj: dict[str, Any]) -> list[Cause]:
    return validate_job_spec(obj.get("spec"), "spec")


def cron_schedule_errors(schedule: str) -> list[str]:
    """Kubernetes' reasons to refuse a schedule (the same parser the CronJob controller runs)."""
    return schedule_errors(schedule.strip())


def validate_cronjob(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if len(name) > 52:
        # The controller appends "-<11 digits>" to name Jobs, which must stay within 63 characters.
        causes.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(required("spec.schedule"))
    else:
        causes += [invalid("spec.schedule", schedule, m) for m in cron_schedule_errors(str(schedule))]
    if spec.get("timeZone") is not None:
        try:
            load_time_zone(spec.get("timeZone"))
        except CronError as e:
            causes.append(invalid("spec.timeZone", spec.get("timeZone"), str(e)))
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        causes.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += _non_negative(spec, field, "spec")
    template = spec.get("jobTemplate")
    if not isinstance(template, dict):
        causes.append(required("spec.jobTemplate"))
    else:
        causes += validate_job_spec(template.get("spec"), "spec.jobTemplate.spec")
    return causes


def _selector_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new_sel = (obj.get("spec") or {}).get("selector")
    old_sel = (old.get("spec") or {}).get("selector")
    if new_sel != old_sel:
        return [Cause("FieldValueInvalid", f"Invalid value: {go_label_selector(new_sel)}: field is immutable",
                      "spec.selector")]
    return []


_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                        "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_statefulset_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new_spec = {k: v for k, v in (obj.get("spec") or {}).items() if k not in _STATEFULSET_MUTABLE}
    old_spec = {k: v for k, v in (old.get("spec") or {}).items() if k not in _STATEFULSET_MUTABLE}
    if new_spec != old_spec:
        return [forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                  "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
    return []


def validate_job_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = _selector_immutable(obj, old)
    new_spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    if new_spec.get("template") != old_spec.get("template"):
        causes.append(immutable("spec.template", new_spec.get("template")))
    if new_spec.get("completions") != old_spec.get("completions") and new_spec.get("completionMode") != "Indexed":
        causes.append(immutable("spec.completions", new_spec.get("completions")))
    if new_spec.get("completionMode") != old_spec.get("completionMode"):
        causes.append(immutable("spec.completionMode", new_spec.get("completionMode")))
    return causes


VALIDATORS = {
    ("apps", "deployments"): (validate_deployment, _selector_immutable),
    ("apps", "replicasets"): (validate_replicaset, _selector_immutable),
    ("apps", "daemonsets"): (validate_daemonset, _selector_immutable),
    ("apps", "statefulsets"): (validate_statefulset, validate_statefulset_update),
    ("", "replicationcontrollers"): (validate_replication_controller, None),
    ("batch", "jobs"): (validate_job, validate_job_update),
    ("batch", "cronjobs"): (validate_cronjob, None),
}
