"""Which CRD schemas are structural, with the real server's field paths."""

from __future__ import annotations

from kybernetes.api.structural_schema import check_schema

P = "spec.versions[0].schema.openAPIV3Schema"


def problems(schema) -> list[str]:
    return [f"{c.field}: {c.message}" for c in check_schema(schema, P)]


def test_a_structural_schema_passes():
    schema = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        "spec": {"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "raw": {"x-kubernetes-preserve-unknown-fields": True},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "replicas": {"type": "integer", "default": 1},
        }}}}
    assert problems(schema) == []


def test_types_are_required_below_the_root():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": {}}},
                                               "list": {"type": "array", "items": {"minimum": 1}}}}
    assert problems(schema) == [
        f"{P}.properties[spec].properties[x].type: Required value: must not be empty for specified object fields",
        f"{P}.properties[list].items.type: Required value: must not be empty for specified array items",
    ]


def test_root_must_be_an_object():
    assert problems({"type": "string"}) == [f'{P}.type: Invalid value: "string": must be object at the root']


def test_bad_combinations_are_refused():
    schema = {"type": "object", "properties": {
        "a": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "string"}},
        "b": {"type": "array"},
        "c": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map"},
        "d": {"type": "integer", "default": "one"},
        "e": {"type": "strng"},
    }}
    found = problems(schema)
    assert f"{P}.properties[a].additionalProperties: Forbidden: additionalProperties and properties are " \
           "mutual exclusive" in found
    assert f"{P}.properties[b].items: Required value: must be specified" in found
    assert f"{P}.properties[c].x-kubernetes-list-map-keys: Required value: must not be empty if " \
           "x-kubernetes-list-type is map" in found
    assert any(p.startswith(f"{P}.properties[d].default: Invalid value") for p in found)
    assert any(p.startswith(f"{P}.properties[e].type: Unsupported value: \"strng\"") for p in found)


def test_metadata_may_only_constrain_name_and_generate_name():
    schema = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "labels": {"type": "object"}}}}}
    assert problems(schema) == [
        f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
        "but metadata is implicitly specified"]
