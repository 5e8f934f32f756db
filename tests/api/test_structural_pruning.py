"""Pruning unknown fields, schema defaults and null handling for custom resources."""

from __future__ import annotations

from kybernetes.api.structural_pruning import apply_defaults, normalize, prune, prune_nulls, unknown_fields

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "size": {"type": "integer", "default": 3},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "weight": {"type": "integer", "default": 1}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                "nested": {"type": "object", "default": {},
                           "properties": {"level": {"type": "string", "default": "info"}}},
                "maybe": {"type": "string", "nullable": True},
                "gone": {"type": "string"},
            },
        },
    },
}


def test_prune_removes_unknown_fields_and_reports_paths():
    obj = {
        "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "bogus": 1},
        "top": 1,
        "spec": {"name": "n", "extra": True,
                 "free": {"whatever": {"deep": 1}, "known": {"a": "ok", "b": "pruned"}},
                 "labels": {"any": "thing"},
                 "items": [{"id": "1", "junk": 2}],
                 "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "zzz": 1},
                              "spec": {"x": "y", "z": 1}, "other": 2}},
    }
    pruned = prune(SCHEMA, obj)
    assert sorted(pruned) == sorted([
        "metadata.bogus", "top", "spec.extra", "spec.free.known.b", "spec.items[0].junk",
        "spec.template.metadata.zzz", "spec.template.spec.z", "spec.template.other"])
    assert obj["spec"]["free"]["whatever"] == {"deep": 1}
    assert obj["spec"]["labels"] == {"any": "thing"}
    assert obj["spec"]["template"]["apiVersion"] == "v1" and obj["apiVersion"] == "x/v1"


def test_unknown_fields_leaves_the_object_alone():
    obj = {"spec": {"extra": 1}}
    assert unknown_fields(SCHEMA, obj) == ["spec.extra"]
    assert obj == {"spec": {"extra": 1}}


def test_no_schema_prunes_nothing():
    obj = {"spec": {"anything": 1}}
    assert prune(None, obj) == [] and obj == {"spec": {"anything": 1}}


def test_defaults_fill_missing_fields_top_down():
    obj = {"spec": {"items": [{"id": "a"}, {"id": "b", "weight": 5}]}}
    apply_defaults(SCHEMA, obj)
    assert obj["spec"]["size"] == 3
    assert obj["spec"]["nested"] == {"level": "info"}  # the default object gets its own defaults
    assert [i["weight"] for i in obj["spec"]["items"]] == [1, 5]


def test_defaults_replace_disallowed_nulls_and_nulls_without_default_go():
    obj = {"spec": {"size": None, "maybe": None, "gone": None}}
    normalize(SCHEMA, obj)
    assert obj["spec"]["size"] == 3
    assert obj["spec"]["maybe"] is None
    assert "gone" not in obj["spec"]


def test_prune_nulls_keeps_nulls_where_anything_goes():
    schema = {"type": "object", "properties": {"any": {"x-kubernetes-preserve-unknown-fields": True}}}
    obj = {"any": None}
    prune_nulls(schema, obj)
    assert obj == {"any": None}


def test_wrong_types_are_left_for_validation():
    obj = {"spec": "not an object"}
    assert normalize(SCHEMA, obj) == []
    assert obj == {"spec": "not an object"}
