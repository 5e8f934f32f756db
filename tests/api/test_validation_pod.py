"""Pod validation: containers, ports, resources, volumes, and what a pod update may change."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of


def pod(**spec):
    base = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    base.update(spec)
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": base}


def container(**fields):
    return {"name": "app", "image": "nginx:1.27", **fields}


def test_valid_pod():
    assert errors_of("", "pods", pod()) == []


@pytest.mark.parametrize("spec,expected", [
    ({"containers": []}, [("spec.containers", "FieldValueRequired", "Required value")]),
    ({"containers": [{"name": "app"}]}, [("spec.containers[0].image", "FieldValueRequired", "Required value")]),
    ({"containers": [{"image": "x"}]}, [("spec.containers[0].name", "FieldValueRequired", "Required value")]),
    ({"containers": [container(), container()]},
     [("spec.containers[1].name", "FieldValueDuplicate", 'Duplicate value: "app"')]),
    ({"initContainers": [container()]},
     [("spec.containers[0].name", "FieldValueDuplicate", 'Duplicate value: "app"')]),
    ({"containers": [container(name="App")]},
     [("spec.containers[0].name", "FieldValueInvalid",
       "Invalid value: \"App\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
       "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
       "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]),
    ({"containers": [container(image=" nginx")]},
     [("spec.containers[0].image", "FieldValueInvalid",
       'Invalid value: " nginx": must not have leading or trailing whitespace')]),
    ({"restartPolicy": "Sometimes"},
     [("spec.restartPolicy", "FieldValueNotSupported",
       'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')]),
    ({"dnsPolicy": "Weird"},
     [("spec.dnsPolicy", "FieldValueNotSupported",
       'Unsupported value: "Weird": supported values: "ClusterFirst", "ClusterFirstWithHostNet", '
       '"Default", "None"')]),
    ({"activeDeadlineSeconds": 0},
     [("spec.activeDeadlineSeconds", "FieldValueInvalid",
       "Invalid value: 0: must be between 1 and 2147483647, inclusive")]),
])
def test_spec_errors(spec, expected):
    assert errors_of("", "pods", pod(**spec)) == expected


@pytest.mark.parametrize("ports,expected", [
    ([{"containerPort": 80}], []),
    ([{"containerPort": 0}], [("spec.containers[0].ports[0].containerPort", "FieldValueRequired",
                               "Required value")]),
    ([{"containerPort": 70000}], [("spec.containers[0].ports[0].containerPort", "FieldValueInvalid",
                                   "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    ([{"containerPort": 80, "protocol": "HTTP"}],
     [("spec.containers[0].ports[0].protocol", "FieldValueNotSupported",
       'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')]),
    ([{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}],
     [("spec.containers[0].ports[1].name", "FieldValueDuplicate", 'Duplicate value: "http"')]),
    ([{"containerPort": 80, "name": "a-very-long-port-name"}],
     [("spec.containers[0].ports[0].name", "FieldValueInvalid",
       'Invalid value: "a-very-long-port-name": must be no more than 15 characters')]),
    ([{"containerPort": 80, "hostPort": 99999}],
     [("spec.containers[0].ports[0].hostPort", "FieldValueInvalid",
       "Invalid value: 99999: must be between 1 and 65535, inclusive")]),
])
def test_ports(ports, expected):
    assert errors_of("", "pods", pod(containers=[container(ports=ports)])) == expected


@pytest.mark.parametrize("resources,expected", [
    ({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}, []),
    ({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
     [("spec.containers[0].resources.requests", "FieldValueInvalid",
       'Invalid value: "2": must be less than or equal to cpu limit of 1')]),
    ({"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}},
     [("spec.containers[0].resources.requests", "FieldValueInvalid",
       'Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi')]),
    ({"limits": {"cpu": "lots"}},
     [("spec.containers[0].resources.limits[cpu]", "FieldValueInvalid",
       "Invalid value: \"lots\": quantities must match the regular expression "
       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]),
    ({"requests": {"cpu": "-1"}},
     [("spec.containers[0].resources.requests[cpu]", "FieldValueInvalid",
       'Invalid value: "-1": must be greater than or equal to 0')]),
    ({"requests": {"gpu": "1"}},
     [("spec.containers[0].resources.requests[gpu]", "FieldValueInvalid",
       'Invalid value: "gpu": must be a standard resource for containers')]),
    ({"limits": {"nvidia.com/gpu": "1", "hugepages-2Mi": "2Mi", "ephemeral-storage": "1Gi"}}, []),
])
def test_resources(resources, expected):
    assert errors_of("", "pods", pod(containers=[container(resources=resources)])) == expected


def test_volumes_and_mounts():
    spec = {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}},
                        {"name": "two", "emptyDir": {}, "hostPath": {"path": "/x"}}],
            "containers": [container(volumeMounts=[{"name": "data", "mountPath": "/d"},
                                                   {"name": "nope", "mountPath": "/n"},
                                                   {"name": "data"}])]}
    errs = errors_of("", "pods", pod(**spec))
    assert ("spec.volumes[1].name", "FieldValueDuplicate", 'Duplicate value: "data"') in errs
    assert ("spec.volumes[2].hostPath", "FieldValueForbidden",
            "Forbidden: may not specify more than 1 volume type") in errs
    assert ("spec.containers[0].volumeMounts[1].name", "FieldValueNotFound", 'Not found: "nope"') in errs
    assert ("spec.containers[0].volumeMounts[2].mountPath", "FieldValueRequired", "Required value") in errs


def test_env_names():
    errs = errors_of("", "pods", pod(containers=[container(env=[{"name": "A.b-c"}, {"name": "X=Y"}, {}])]))
    assert [e[0] for e in errs] == ["spec.containers[0].env[1].name", "spec.containers[0].env[2].name"]


def test_node_selector_labels_checked():
    errs = errors_of("", "pods", pod(nodeSelector={"bad key": "x"}))
    assert errs[0][0] == "spec.nodeSelector"


def stored_pod():
    p = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    errors_of("", "pods", p)  # defaults it
    return p


def test_update_image_allowed():
    old = stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert errors_of("", "pods", new, old=old) == []


def test_update_other_fields_forbidden():
    old = stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    errs = errors_of("", "pods", new, old=old)
    assert len(errs) == 1 and errs[0][0] == "spec" and errs[0][1] == "FieldValueForbidden"
    assert errs[0][2].startswith("Forbidden: pod updates may not change fields other than "
                                 "`spec.containers[*].image`,")


def test_update_tolerations_only_added():
    old = stored_pod()
    added = copy.deepcopy(old)
    added["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert errors_of("", "pods", added, old=old) == []
    removed = copy.deepcopy(old)
    removed["spec"]["tolerations"] = []
    assert errors_of("", "pods", removed, old=old)[0][0] == "spec"


def test_update_active_deadline():
    old = stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 100
    assert errors_of("", "pods", new, old=old) == []
    old2, newer = copy.deepcopy(new), copy.deepcopy(new)
    newer["spec"]["activeDeadlineSeconds"] = 200
    assert errors_of("", "pods", newer, old=old2) == [
        ("spec.activeDeadlineSeconds", "FieldValueInvalid",
         "Invalid value: 200: must be less than or equal to previous value")]
