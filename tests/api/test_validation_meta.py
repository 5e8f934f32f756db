"""Object metadata validation for every kind: names, namespaces, labels, annotations."""

import pytest

from tests.api.api_validation_helpers import errors_of

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                 "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def cm(name="cfg", namespace="default", **meta):
    return {"metadata": {"name": name, "namespace": namespace, **meta}}


def test_valid_configmap():
    assert errors_of("", "configmaps", cm()) == []


@pytest.mark.parametrize("group,resource,name,namespace,expected", [
    ("", "configmaps", "Bad_Name", "default",
     [("metadata.name", "FieldValueInvalid", f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}')]),
    ("", "configmaps", "a.b-c", "default", []),
    ("", "namespaces", "a.b", "",
     [("metadata.name", "FieldValueInvalid", f'Invalid value: "a.b": {LABEL_MSG}')]),
    ("", "services", "1abc", "default",
     [("metadata.name", "FieldValueInvalid", f'Invalid value: "1abc": {DNS1035_MSG}')]),
    ("rbac.authorization.k8s.io", "clusterroles", "system:controller:x", "", []),
    ("rbac.authorization.k8s.io", "clusterroles", "a/b", "",
     [("metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")]),
    ("", "configmaps", "x" * 254, "default",
     [("metadata.name", "FieldValueInvalid", f'Invalid value: "{"x" * 254}": must be no more than 253 characters')]),
])
def test_names(group, resource, name, namespace, expected):
    obj = {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}
    if resource == "services":
        obj["spec"] = {"ports": [{"port": 80}]}
    found = [e for e in errors_of(group, resource, obj) if e[0] == "metadata.name"]
    assert found == expected


def test_name_required_unless_generate_name():
    assert errors_of("", "configmaps", {"metadata": {"namespace": "d"}}) == [
        ("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]
    assert errors_of("", "configmaps", {"metadata": {"generateName": "web-", "namespace": "d"}}) == []
    bad = errors_of("", "configmaps", {"metadata": {"generateName": "Web-", "namespace": "d"}})
    assert bad[0][0] == "metadata.generateName"


def test_namespace_by_scope():
    assert errors_of("", "configmaps", {"metadata": {"name": "a"}}) == [
        ("metadata.namespace", "FieldValueRequired", "Required value")]
    assert errors_of("", "nodes", {"metadata": {"name": "n", "namespace": "default"}}) == [
        ("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")]


def test_labels():
    errs = errors_of("", "configmaps", cm(labels={"ok": "v", "bad key": "v", "k": "bad value"}))
    fields = [(f, r) for f, r, _ in errs]
    assert fields == [("metadata.labels", "FieldValueInvalid"), ("metadata.labels", "FieldValueInvalid")]
    assert errs[0][2].startswith('Invalid value: "bad key": name part must consist of')
    assert errs[1][2].startswith('Invalid value: "bad value": a valid label must be an empty string')
    long_value = errors_of("", "configmaps", cm(labels={"k": "v" * 64}))
    assert long_value[0][2].startswith('Invalid value: "' + "v" * 64 + '": must be no more than 63 characters')
    assert errors_of("", "configmaps", cm(labels={"example.com/x": "", "a.b/c_d": "X.y-z"})) == []


def test_annotations():
    assert errors_of("", "configmaps", cm(annotations={"Example.com/Key": "anything at all"})) == []
    errs = errors_of("", "configmaps", cm(annotations={"a": "x" * (256 * 1024)}))
    assert errs == [("metadata.annotations", "FieldValueTooLong", "Too long: may not be more than 262144 bytes")]
    errs = errors_of("", "configmaps", cm(annotations={"/x": "1"}))
    assert errs[0][2] == 'Invalid value: "/x": prefix part must be non-empty'


def test_finalizers_and_owner_references():
    errs = errors_of("", "configmaps", cm(finalizers=["example.com/ok", "bad finalizer"]))
    assert [e[0] for e in errs] == ["metadata.finalizers[1]"]
    errs = errors_of("", "configmaps", cm(ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p"}]))
    assert errs == [("metadata.ownerReferences[0].uid", "FieldValueInvalid",
                     'Invalid value: "": uid must not be empty')]


def test_identity_is_immutable_on_update():
    old = cm(uid="u1")
    new = cm(name="other", uid="u2")
    errs = errors_of("", "configmaps", new, old=old)
    assert ("metadata.name", "FieldValueInvalid", 'Invalid value: "other": field is immutable') in errs
    assert ("metadata.uid", "FieldValueInvalid", 'Invalid value: "u2": field is immutable') in errs


def test_non_object_is_invalid_not_a_crash():
    from kybernetes.api.validation import validate_create
    from tests.api.api_validation_helpers import info_for

    assert validate_create(info_for("", "pods"), ["x"])[0].reason == "FieldValueInvalid"
    assert errors_of("", "pods", {"metadata": "x"}, default=False) == [
        ("metadata", "FieldValueInvalid", 'Invalid value: "x": must be an object')]
    assert errors_of("", "configmaps", {"metadata": {"name": 5, "namespace": "d"}})[0] == (
        "metadata.name", "FieldValueInvalid", "Invalid value: 5: must be a string")
    assert errors_of("", "configmaps", {"metadata": {"name": "a", "namespace": "d", "labels": {"a": 1}}})[0][0] == (
        "metadata.labels")


def test_invalid_error_message_shape():
    from kybernetes.api.errors import invalid
    from kybernetes.api.validation import validate_create
    from tests.api.api_validation_helpers import info_for

    causes = validate_create(info_for("", "configmaps"), {"metadata": {"name": "Bad_Name", "namespace": "d"}})
    err = invalid("ConfigMap", "Bad_Name", causes)
    assert err.message == f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'
