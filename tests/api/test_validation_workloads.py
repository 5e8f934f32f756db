"""Workload validation: selectors that match templates, counts, restart policies, immutability."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of


def template(labels=None, **spec):
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def workload(kind_spec=None, **spec):
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template()}
    body.update(kind_spec or {})
    body.update(spec)
    return {"metadata": {"name": "w", "namespace": "default"}, "spec": body}


@pytest.mark.parametrize("resource", ["deployments", "replicasets", "statefulsets", "daemonsets"])
def test_valid_apps_workloads(resource):
    assert errors_of("apps", resource, workload()) == []


@pytest.mark.parametrize("resource", ["deployments", "replicasets", "statefulsets", "daemonsets"])
def test_selector_required_and_must_match(resource):
    missing = workload()
    del missing["spec"]["selector"]
    assert ("spec.selector", "FieldValueRequired", "Required value") in errors_of("apps", resource, missing)
    mismatch = workload(template=template({"app": "other"}))
    assert errors_of("apps", resource, mismatch) == [
        ("spec.template.metadata.labels", "FieldValueInvalid",
         'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`')]


def test_empty_selector_and_bad_expression():
    errs = errors_of("apps", "deployments", workload(selector={}))
    assert errs == [("spec.selector", "FieldValueInvalid",
                     "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
                     "deployment")]
    errs = errors_of("apps", "deployments", workload(selector={"matchExpressions": [
        {"key": "app", "operator": "In", "values": []}]}))
    assert errs == [("spec.selector.matchExpressions[0].values", "FieldValueRequired",
                     "Required value: must be specified when `operator` is 'In' or 'NotIn'")]


def test_deployment_rules():
    assert errors_of("apps", "deployments", workload(replicas=-1)) == [
        ("spec.replicas", "FieldValueInvalid", "Invalid value: -1: must be greater than or equal to 0")]
    errs = errors_of("apps", "deployments", workload(template=template(restartPolicy="Never")))
    assert errs == [("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                     'Unsupported value: "Never": supported values: "Always"')]
    errs = errors_of("apps", "deployments", workload(strategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 0, "maxSurge": 0}}))
    assert errs == [("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                     "Invalid value: 0: may not be 0 when `maxSurge` is 0")]
    errs = errors_of("apps", "deployments", workload(strategy={"type": "Recreate", "rollingUpdate": {}}))
    assert errs[0][:2] == ("spec.strategy.rollingUpdate", "FieldValueForbidden")
    errs = errors_of("apps", "deployments", workload(strategy={"type": "Canary"}))
    assert errs == [("spec.strategy.type", "FieldValueNotSupported",
                     'Unsupported value: "Canary": supported values: "Recreate", "RollingUpdate"')]
    errs = errors_of("apps", "deployments", workload(strategy={"rollingUpdate": {"maxSurge": "150%"}}))
    assert errs == [("spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid",
                     'Invalid value: "150%": must not be greater than 100%')]


def test_template_pod_spec_is_validated_with_template_paths():
    errs = errors_of("apps", "deployments", workload(template=template(containers=[{"name": "c"}])))
    assert errs == [("spec.template.spec.containers[0].image", "FieldValueRequired", "Required value")]


def test_selector_immutable_on_update():
    old = workload()
    errors_of("apps", "deployments", old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    errs = errors_of("apps", "deployments", new, old=old)
    assert errs == [("spec.selector", "FieldValueInvalid",
                     'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, '
                     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")]
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert errors_of("apps", "deployments", scaled, old=old) == []


def test_statefulset_update_limits():
    old = workload(serviceName="web")
    errors_of("apps", "statefulsets", old)
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    errs = errors_of("apps", "statefulsets", new, old=old)
    assert errs[0][:2] == ("spec", "FieldValueForbidden")
    ok = copy.deepcopy(old)
    ok["spec"]["replicas"] = 3
    ok["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert errors_of("apps", "statefulsets", ok, old=old) == []


def test_daemonset_and_statefulset_enums():
    errs = errors_of("apps", "daemonsets", workload(updateStrategy={"type": "Sometimes"}))
    assert errs == [("spec.updateStrategy.type", "FieldValueNotSupported",
                     'Unsupported value: "Sometimes": supported values: "OnDelete", "RollingUpdate"')]
    errs = errors_of("apps", "statefulsets", workload(podManagementPolicy="Random"))
    assert errs[0][0] == "spec.podManagementPolicy"


def test_replication_controller():
    rc = {"metadata": {"name": "rc", "namespace": "d"},
          "spec": {"selector": {"app": "web"}, "template": template({"app": "other"})}}
    assert errors_of("", "replicationcontrollers", rc)[0][0] == "spec.template.metadata.labels"
    good = {"metadata": {"name": "rc", "namespace": "d"}, "spec": {"template": template()}}
    assert errors_of("", "replicationcontrollers", good) == []


def job(**spec):
    return {"metadata": {"name": "pi", "namespace": "default"},
            "spec": {"template": template(restartPolicy="Never"), **spec}}


def test_job_rules():
    assert errors_of("batch", "jobs", job()) == []
    errs = errors_of("batch", "jobs", job(template=template()))
    assert errs == [("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                     'Unsupported value: "Always": supported values: "OnFailure", "Never"')]
    errs = errors_of("batch", "jobs", job(parallelism=-1, backoffLimit=-2))
    assert [e[0] for e in errs] == ["spec.parallelism", "spec.backoffLimit"]
    errs = errors_of("batch", "jobs", job(completionMode="Indexed", parallelism=2))
    assert errs == [("spec.completions", "FieldValueRequired", "Required value: when completion mode is Indexed")]


def test_job_template_and_selector_immutable():
    from kybernetes.api.defaults import default_job_selector

    old = job()
    errors_of("batch", "jobs", old)
    default_job_selector(old, "uid-1")
    assert errors_of("batch", "jobs", old, default=False) == []
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
    errs = errors_of("batch", "jobs", new, old=old)
    assert [e[0] for e in errs] == ["spec.template"]
    assert errs[0][2].endswith("field is immutable")


def cronjob(name="nightly", **spec):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}},
                     **spec}}


@pytest.mark.parametrize("schedule,ok", [
    ("0 3 * * *", True), ("*/5 * * * *", True), ("@hourly", True), ("0 0 1,15 * MON-FRI", True),
    ("every day", False), ("* * * *", False), ("TZ=UTC 0 * * * *", False),
])
def test_cron_schedules(schedule, ok):
    errs = errors_of("batch", "cronjobs", cronjob(schedule=schedule))
    assert (errs == []) is ok
    if not ok:
        assert errs[0][0] == "spec.schedule"


def test_cronjob_rules():
    errs = errors_of("batch", "cronjobs", cronjob(name="x" * 53))
    assert ("metadata.name", "FieldValueInvalid", f'Invalid value: "{"x" * 53}": must be no more than 52 characters') in errs
    errs = errors_of("batch", "cronjobs", cronjob(concurrencyPolicy="Sometimes"))
    assert errs[0][0] == "spec.concurrencyPolicy"
    bad = cronjob()
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert errors_of("batch", "cronjobs", bad)[0][0] == "spec.jobTemplate.spec.template.spec.restartPolicy"
    missing = cronjob()
    del missing["spec"]["schedule"]
    assert errors_of("batch", "cronjobs", missing) == [("spec.schedule", "FieldValueRequired", "Required value")]
