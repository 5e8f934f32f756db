"""Custom resource validation against structural schemas, worded like kube-apiserver."""

from __future__ import annotations

import pytest

from kybernetes.api.structural_validation import go_syntax, validate


def messages(schema, obj) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate(schema, obj)]


def obj_schema(**props) -> dict:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


@pytest.mark.parametrize(("prop", "value", "expected"), [
    ({"type": "integer"}, "3", 'spec.x: Invalid value: "string": spec.x in body must be of type integer: "string"'),
    ({"type": "integer"}, 1.5, 'spec.x: Invalid value: "number": spec.x in body must be of type integer: "number"'),
    ({"type": "string"}, True, 'spec.x: Invalid value: "boolean": spec.x in body must be of type string: "boolean"'),
    ({"type": "object"}, [1], 'spec.x: Invalid value: "array": spec.x in body must be of type object: "array"'),
    ({"type": "string"}, None, 'spec.x: Invalid value: "null": spec.x in body must be of type string: "null"'),
    ({"type": "integer", "maximum": 5}, 6, "spec.x: Invalid value: 6: spec.x in body should be less than or equal to 5"),
    ({"type": "integer", "maximum": 5, "exclusiveMaximum": True}, 5,
     "spec.x: Invalid value: 5: spec.x in body should be less than 5"),
    ({"type": "number", "minimum": 0.5}, 0.25,
     "spec.x: Invalid value: 0.25: spec.x in body should be greater than or equal to 0.5"),
    ({"type": "integer", "minimum": 1, "exclusiveMinimum": True}, 1,
     "spec.x: Invalid value: 1: spec.x in body should be greater than 1"),
    ({"type": "integer", "multipleOf": 3}, 4, "spec.x: Invalid value: 4: spec.x in body should be a multiple of 3"),
    ({"type": "string", "maxLength": 2}, "abc", "spec.x: Too long: may not be more than 2 bytes"),
    ({"type": "string", "minLength": 4}, "abc",
     'spec.x: Invalid value: "abc": spec.x in body should be at least 4 chars long'),
    ({"type": "string", "pattern": "^a+$"}, "ab", "spec.x: Invalid value: \"ab\": spec.x in body should match '^a+$'"),
    ({"type": "string", "enum": ["a", "b"]}, "c", 'spec.x: Unsupported value: "c": supported values: "a", "b"'),
    ({"type": "integer", "enum": [1, 2]}, 3, 'spec.x: Unsupported value: 3: supported values: "1", "2"'),
    ({"type": "array", "items": {"type": "string"}, "maxItems": 1}, ["a", "b"],
     "spec.x: Too many: 2: must have at most 1 item"),
    ({"type": "array", "items": {"type": "string"}, "minItems": 2}, ["a"],
     "spec.x: Invalid value: 1: spec.x in body should have at least 2 items"),
    ({"type": "array", "items": {"type": "integer"}}, [1, "b"],
     'spec.x[1]: Invalid value: "string": spec.x[1] in body must be of type integer: "string"'),
    ({"type": "string", "format": "date-time"}, "yesterday",
     'spec.x: Invalid value: "yesterday": spec.x in body must be of type date-time: "yesterday"'),
    ({"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}, "spec.x: Too many: 2: must have at most 1 item"),
])
def test_single_keyword_messages(prop, value, expected):
    assert messages(obj_schema(x=prop), {"spec": {"x": value}}) == [expected]


def test_valid_values_pass():
    schema = obj_schema(
        n={"type": "integer", "minimum": 0, "maximum": 10}, f={"type": "number"}, s={"type": "string", "enum": ["a"]},
        port={"x-kubernetes-int-or-string": True}, maybe={"type": "string", "nullable": True},
        anything={"x-kubernetes-preserve-unknown-fields": True},
        when={"type": "string", "format": "date-time"})
    obj = {"spec": {"n": 10, "f": 2, "s": "a", "port": "http", "maybe": None, "anything": {"x": [1]},
                    "when": "2024-05-01T10:00:00Z"}}
    assert validate(schema, obj) == []
    assert validate(schema, {"spec": {"n": 3.0}}) == []  # an integral float is an integer
    assert validate(schema, {"spec": {"port": 8080}}) == []


def test_int_or_string_rejects_other_types():
    assert messages(obj_schema(p={"x-kubernetes-int-or-string": True}), {"spec": {"p": True}}) == [
        'spec.p: Invalid value: "boolean": spec.p in body must be of type integer,string: "boolean"']


def test_required_fields_and_nesting():
    schema = {"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["image"],
        "properties": {"image": {"type": "string"},
                       "ports": {"type": "array", "items": {"type": "object", "required": ["port"],
                                                            "properties": {"port": {"type": "integer"}}}}}}}}
    assert messages(schema, {}) == ["spec: Required value"]
    assert messages(schema, {"spec": {"ports": [{}]}}) == [
        "spec.ports[0].port: Required value", "spec.image: Required value"]
    causes = validate(schema, {"spec": {"image": "x", "ports": [{}]}})
    assert [(c.reason, c.field) for c in causes] == [("FieldValueRequired", "spec.ports[0].port")]


def test_additional_properties_schema_checks_map_values():
    schema = obj_schema(labels={"type": "object", "additionalProperties": {"type": "string"}})
    assert messages(schema, {"spec": {"labels": {"a": "x", "b": 2}}}) == [
        'spec.labels.b: Invalid value: "integer": spec.labels.b in body must be of type string: "integer"']


def test_list_type_set_and_map_duplicates():
    schema = obj_schema(
        tags={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        ports={"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
               "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                          "port": {"type": "integer"}}}})
    obj = {"spec": {"tags": ["a", "b", "a"], "ports": [{"name": "h", "port": 1}, {"name": "h", "port": 2}]}}
    assert messages(schema, obj) == [
        'spec.tags[2]: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"h"}',
    ]


def test_embedded_resource_needs_api_version_and_kind():
    schema = obj_schema(template={"type": "object", "x-kubernetes-embedded-resource": True,
                                  "x-kubernetes-preserve-unknown-fields": True})
    assert messages(schema, {"spec": {"template": {"metadata": {}}}}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
    ]
    assert validate(schema, {"spec": {"template": {"apiVersion": "v1", "kind": "Pod"}}}) == []


def test_combinators():
    schema = obj_schema(x={"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]},
                        y={"type": "string", "not": {"enum": ["bad"]}})
    assert validate(schema, {"spec": {"x": 11, "y": "ok"}}) == []
    assert messages(schema, {"spec": {"x": 5, "y": "bad"}}) == [
        'spec.x: Invalid value: "": "spec.x" must validate at least one schema (anyOf)',
        'spec.y: Invalid value: "": "spec.y" must not validate the schema (not)',
    ]


def test_go_syntax_of_maps_sorts_keys():
    assert go_syntax({"b": 1, "a": "x"}) == 'map[string]interface {}{"a":"x", "b":1}'


def test_odd_schemas_do_not_crash():
    assert validate(None, {"a": 1}) == []
    assert validate({"type": "object", "properties": {"a": "not a schema"}}, {"a": 1}) == []
    assert validate(obj_schema(x={"type": "string", "pattern": "("}), {"spec": {"x": "a"}}) == []
