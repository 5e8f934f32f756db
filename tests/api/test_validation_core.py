"""Services, ConfigMaps, Secrets, Namespaces, Nodes and CRD names."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of


def svc(**spec):
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}


def test_valid_services():
    assert errors_of("", "services", svc()) == []
    assert errors_of("", "services", svc(clusterIP="None", ports=[])) == []
    assert errors_of("", "services", svc(type="ExternalName", externalName="db.example.com", ports=[])) == []


@pytest.mark.parametrize("spec,expected", [
    ({"ports": []}, [("spec.ports", "FieldValueRequired", "Required value")]),
    ({"type": "Magic"}, [("spec.type", "FieldValueNotSupported",
                          'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
                          '"LoadBalancer", "NodePort"')]),
    # targetPort defaults to port, so both are reported, as on a real server.
    ({"ports": [{"port": 0}]}, [("spec.ports[0].port", "FieldValueInvalid",
                                 "Invalid value: 0: must be between 1 and 65535, inclusive"),
                                ("spec.ports[0].targetPort", "FieldValueInvalid",
                                 "Invalid value: 0: must be between 1 and 65535, inclusive")]),
    ({"ports": [{"port": 80}, {"port": 443}]}, [("spec.ports[0].name", "FieldValueRequired", "Required value"),
                                                ("spec.ports[1].name", "FieldValueRequired", "Required value")]),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]},
     [("spec.ports[1].name", "FieldValueDuplicate", 'Duplicate value: "a"')]),
    ({"ports": [{"port": 80, "protocol": "ICMP"}]},
     [("spec.ports[0].protocol", "FieldValueNotSupported",
       'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"')]),
    ({"type": "ExternalName", "ports": []}, [("spec.externalName", "FieldValueRequired", "Required value")]),
    ({"clusterIP": "not-an-ip"}, [("spec.clusterIPs[0]", "FieldValueInvalid",
                                   'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
                                   '2001:db8::ffff)')]),
    ({"sessionAffinity": "Sticky"}, [("spec.sessionAffinity", "FieldValueNotSupported",
                                      'Unsupported value: "Sticky": supported values: "ClientIP", "None"')]),
    ({"ports": [{"port": 80, "targetPort": "Http_"}]}, [("spec.ports[0].targetPort", "FieldValueInvalid",
                                                        'Invalid value: "Http_": must contain only alpha-numeric '
                                                        'characters (a-z, 0-9), and hyphens (-)')]),
])
def test_service_errors(spec, expected):
    assert errors_of("", "services", svc(**spec)) == expected


def test_service_cluster_ip_kept():
    old = svc(clusterIP="10.96.0.10")
    errors_of("", "services", old)
    changed = copy.deepcopy(old)
    changed["spec"]["clusterIP"] = "10.96.0.11"
    assert errors_of("", "services", changed, old=old) == [
        ("spec.clusterIPs[0]", "FieldValueInvalid", 'Invalid value: []string{"10.96.0.11"}: may not change once set')]
    same = copy.deepcopy(old)
    same["spec"]["ports"][0]["port"] = 8080
    same["spec"]["ports"][0]["targetPort"] = 8080
    assert errors_of("", "services", same, old=old) == []


def cm(data=None, binary=None, **extra):
    obj = {"metadata": {"name": "c", "namespace": "default"}, **extra}
    if data is not None:
        obj["data"] = data
    if binary is not None:
        obj["binaryData"] = binary
    return obj


@pytest.mark.parametrize("data,expected", [
    ({"app.properties": "x", "KEY_1": "y", "a-b": ""}, []),
    ({"bad key": "x"}, [("data[bad key]", "FieldValueInvalid",
                         "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
                         "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                         "validation is '[-._a-zA-Z0-9]+')")]),
    ({"..": "x"}, [("data[..]", "FieldValueInvalid", "Invalid value: \"..\": must not be '..'")]),
    ({"..a": "x"}, [("data[..a]", "FieldValueInvalid", "Invalid value: \"..a\": must not start with '..'")]),
    ({"big": "x" * (1024 * 1024 + 1)}, [("data", "FieldValueTooLong",
                                         "Too long: may not be more than 1048576 bytes")]),
])
def test_configmap_keys_and_size(data, expected):
    assert errors_of("", "configmaps", cm(data)) == expected


def test_configmap_duplicate_with_binary_data():
    assert errors_of("", "configmaps", cm({"a": "1"}, {"a": "MQ=="})) == [
        ("data[a]", "FieldValueInvalid", 'Invalid value: "a": duplicate of key present in binaryData')]


def test_immutable_configmap_and_secret():
    old = cm({"a": "1"}, immutable=True)
    new = cm({"a": "2"}, immutable=True)
    assert errors_of("", "configmaps", new, old=old) == [
        ("data", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")]
    unset = cm({"a": "1"}, immutable=False)
    assert errors_of("", "configmaps", unset, old=old) == [
        ("immutable", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")]
    assert errors_of("", "configmaps", cm({"a": "2"}), old=cm({"a": "1"})) == []
    sold = {"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "MQ=="}, "immutable": True}
    snew = {**copy.deepcopy(sold), "data": {"a": "Mg=="}}
    assert errors_of("", "secrets", snew, old=sold)[0][:2] == ("data", "FieldValueForbidden")


def secret(data=None, type_=None, annotations=None):
    obj = {"metadata": {"name": "s", "namespace": "default", "annotations": annotations or {}}, "data": data or {}}
    if type_:
        obj["type"] = type_
    return obj


@pytest.mark.parametrize("obj,expected", [
    (secret({"password": "cGFzcw=="}), []),
    (secret({"p": "not base64!"}), [("data[p]", "FieldValueInvalid",
                                     'Invalid value: "<secret contents redacted>": illegal base64 data')]),
    (secret({"tls.crt": "eA=="}, "kubernetes.io/tls"), [("data[tls.key]", "FieldValueRequired", "Required value")]),
    (secret({}, "kubernetes.io/dockerconfigjson"),
     [("data[.dockerconfigjson]", "FieldValueRequired", "Required value")]),
    (secret({}, "kubernetes.io/service-account-token"),
     [("metadata.annotations[kubernetes.io/service-account.name]", "FieldValueRequired", "Required value")]),
    (secret({"bad key": "eA=="}), [("data[bad key]", "FieldValueInvalid", None)]),
])
def test_secrets(obj, expected):
    errs = errors_of("", "secrets", obj)
    assert [(f, r) for f, r, _ in errs] == [(f, r) for f, r, _ in expected]
    for (_, _, got), (_, _, want) in zip(errs, expected, strict=True):
        if want:
            assert got == want


def test_secret_type_immutable():
    old = secret({"a": "eA=="})
    errors_of("", "secrets", old)
    new = secret({"a": "eA=="}, "example.com/custom")
    assert errors_of("", "secrets", new, old=old) == [
        ("type", "FieldValueInvalid", 'Invalid value: "example.com/custom": field is immutable')]


def test_namespace_finalizers_and_name():
    ns = {"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes", "bad one"]}}
    assert [e[0] for e in errors_of("", "namespaces", ns)] == ["spec.finalizers[1]"]


def test_node_taints():
    node = {"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"},
                                                           {"key": "k2", "effect": "Never"}, {"effect": "NoExecute"}]}}
    errs = errors_of("", "nodes", node)
    assert errs == [
        ("spec.taints[1].effect", "FieldValueNotSupported",
         'Unsupported value: "Never": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"'),
        ("spec.taints[2].key", "FieldValueRequired", "Required value"),
    ]


def test_crd_name_must_be_plural_dot_group():
    crd = {"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True}]}}
    assert errors_of("apiextensions.k8s.io", "customresourcedefinitions", crd) == []
    crd["metadata"]["name"] = "gadgets.example.com"
    assert errors_of("apiextensions.k8s.io", "customresourcedefinitions", crd) == [
        ("metadata.name", "FieldValueInvalid", 'Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group')]
