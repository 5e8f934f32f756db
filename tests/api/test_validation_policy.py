"""PriorityClass, PodDisruptionBudget and HorizontalPodAutoscaler validation."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of


@pytest.mark.parametrize("obj,expected", [
    ({"metadata": {"name": "high"}, "value": 1000}, []),
    ({"metadata": {"name": "huge"}, "value": 1_000_000_001},
     [("value", "FieldValueForbidden", "Forbidden: maximum allowed value of a user defined priority is 1000000000")]),
    ({"metadata": {"name": "system-mine"}, "value": 5},
     [("metadata.name", "FieldValueForbidden", "Forbidden: priority class names with 'system-' prefix are reserved "
       "for system use only. error: system-mine is not a known system priority class")]),
    ({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000}, []),
    ({"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "Always"},
     [("preemptionPolicy", "FieldValueNotSupported",
       'Unsupported value: "Always": supported values: "Never", "PreemptLowerPriority"')]),
])
def test_priority_class(obj, expected):
    assert errors_of("scheduling.k8s.io", "priorityclasses", obj) == expected


def test_priority_class_default_and_update():
    old = {"metadata": {"name": "p"}, "value": 10}
    errors_of("scheduling.k8s.io", "priorityclasses", old)
    assert old["preemptionPolicy"] == "PreemptLowerPriority"
    new = copy.deepcopy(old)
    new["value"] = 11
    assert errors_of("scheduling.k8s.io", "priorityclasses", new, old=old) == [
        ("value", "FieldValueForbidden", "Forbidden: may not be changed in an update.")]


def pdb(**spec):
    return {"metadata": {"name": "b", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


@pytest.mark.parametrize("obj,expected", [
    (pdb(minAvailable=1), []),
    (pdb(maxUnavailable="50%"), []),
    (pdb(minAvailable="150%"), [("spec.minAvailable", "FieldValueInvalid",
                                 'Invalid value: "150%": must not be greater than 100%')]),
    (pdb(maxUnavailable=-1), [("spec.maxUnavailable", "FieldValueInvalid",
                               "Invalid value: -1: must be greater than or equal to 0")]),
    (pdb(unhealthyPodEvictionPolicy="Never"),
     [("spec.unhealthyPodEvictionPolicy", "FieldValueNotSupported",
       'Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"')]),
])
def test_pod_disruption_budget(obj, expected):
    assert errors_of("policy", "poddisruptionbudgets", obj) == expected


def test_pdb_min_and_max_together():
    errs = errors_of("policy", "poddisruptionbudgets", pdb(minAvailable=1, maxUnavailable=1))
    assert [e[:2] for e in errs] == [("spec", "FieldValueInvalid")]
    assert errs[0][2].endswith("minAvailable and maxUnavailable cannot be both set")


def hpa(**spec):
    body = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}
    body.update(spec)
    return {"metadata": {"name": "h", "namespace": "default"}, "spec": body}


M = "spec.metrics[0]"


@pytest.mark.parametrize("obj,expected", [
    (hpa(), []),
    (hpa(minReplicas=3, maxReplicas=2),
     [("spec.maxReplicas", "FieldValueInvalid", "Invalid value: 2: must be greater than or equal to `minReplicas`")]),
    (hpa(minReplicas=0), [("spec.minReplicas", "FieldValueInvalid", "Invalid value: 0: must be greater than or "
                                                                    "equal to 1")]),
    (hpa(maxReplicas=0), [("spec.maxReplicas", "FieldValueInvalid", "Invalid value: 0: must be greater than 0"),
                          ("spec.maxReplicas", "FieldValueInvalid",
                           "Invalid value: 0: must be greater than or equal to `minReplicas`")]),
    (hpa(scaleTargetRef={}), [("spec.scaleTargetRef.kind", "FieldValueRequired", "Required value"),
                              ("spec.scaleTargetRef.name", "FieldValueRequired", "Required value")]),
    (hpa(metrics=[{"type": "Pods", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                         "averageUtilization": 50}}}]),
     [(f"{M}.pods", "FieldValueRequired", "Required value: must populate information for the given metric source")]),
    (hpa(metrics=[{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                                   "averageValue": "10"}},
                   "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}}}]),
     [(f"{M}.external", "FieldValueForbidden", "Forbidden: must populate the given metric source only")]),
    (hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]),
     [(f"{M}.resource.target.averageUtilization", "FieldValueRequired",
       "Required value: must set either a target raw value or a target utilization")]),
    (hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Most",
                                                                            "averageUtilization": 0}}}]),
     [(f"{M}.resource.target.type", "FieldValueInvalid",
       'Invalid value: "Most": must be either Utilization, Value, or AverageValue'),
      (f"{M}.resource.target.averageUtilization", "FieldValueInvalid", "Invalid value: 0: must be greater than 0")]),
    (hpa(metrics=[{"type": "Magic"}]),
     [(f"{M}.type", "FieldValueNotSupported", 'Unsupported value: "Magic": supported values: "Object", "Pods", '
                                              '"Resource", "External", "ContainerResource"')]),
    (hpa(metrics=[{"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value"}}}]),
     [(f"{M}.external.target.averageValue", "FieldValueRequired",
       "Required value: must set either a target value for metric or a per-pod target")]),
    (hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Random"}}),
     [("spec.behavior.scaleDown.stabilizationWindowSeconds", "FieldValueInvalid",
       "Invalid value: 4000: must be less than or equal to 3600"),
      ("spec.behavior.scaleDown.selectPolicy", "FieldValueNotSupported",
       'Unsupported value: "Random": supported values: "Max", "Min", "Disabled"')]),
])
def test_horizontal_pod_autoscaler(obj, expected):
    assert errors_of("autoscaling", "horizontalpodautoscalers", obj, version="v2") == expected


def test_hpa_v1_target():
    obj = hpa(targetCPUUtilizationPercentage=0)
    assert errors_of("autoscaling", "horizontalpodautoscalers", obj, version="v1") == [
        ("spec.targetCPUUtilizationPercentage", "FieldValueInvalid", "Invalid value: 0: must be greater than 0")]
