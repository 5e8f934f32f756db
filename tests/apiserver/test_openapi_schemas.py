"""The schema library: finding the installed release, normalizing to OpenAPI 3.0, resolving."""

from __future__ import annotations

import orjson
import pytest

from kybernetes.apiserver.openapi_schemas import (
    SchemaLibrary,
    SchemasUnavailableError,
    default_library,
    normalize,
    pick_schema_dir,
    schema_for,
    unknown_fields,
)


def make_release(root, name: str, definitions: dict | None = None) -> None:
    folder = root / name
    folder.mkdir()
    (folder / "_definitions.json").write_bytes(orjson.dumps({"$defs": definitions or {}}))


def test_pick_prefers_the_served_minor_then_the_newest(tmp_path):
    for name in ("v1.35.0-local", "v1.36.0-local", "v1.36.0-local-strict", "v1.37.0-local", "v1.9.0-local"):
        make_release(tmp_path, name)
    (tmp_path / "v1.38.0-local").mkdir()  # no _definitions.json: not a candidate
    assert pick_schema_dir(tmp_path, "v1.36.2").name == "v1.36.0-local"
    assert pick_schema_dir(tmp_path, "v1.40.1").name == "v1.37.0-local"
    assert pick_schema_dir(tmp_path, "junk").name == "v1.37.0-local"


def test_no_release_is_a_clear_error(tmp_path):
    with pytest.raises(SchemasUnavailableError, match="_definitions.json"):
        pick_schema_dir(tmp_path)
    make_release(tmp_path, "v1.30.0-local")
    (tmp_path / "v1.30.0-local" / "_definitions.json").write_text("{not json")
    with pytest.raises(SchemasUnavailableError, match="cannot read"):
        SchemaLibrary.load(tmp_path)


def test_normalize_speaks_openapi_3_0():
    raw = {
        "type": ["object", "null"],
        "properties": {
            "type": {"type": ["string", "null"], "description": "a property named type"},
            "$ref": {"type": "string"},
            "port": {"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]},
            "size": {"oneOf": [{"type": ["string", "null"]}, {"type": ["number", "null"]}]},
            "meta": {"$ref": "#/$defs/io.k8s.Meta", "description": "with a sibling"},
            "bare": {"$ref": "#/$defs/io.k8s.Meta"},
            "tags": {"type": ["array", "null"], "items": {"$ref": "#/$defs/io.k8s.Tag"}},
            "labels": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        },
    }
    out = normalize(raw)
    assert out["type"] == "object"
    props = out["properties"]
    assert props["type"] == {"type": "string", "description": "a property named type"}
    assert props["$ref"] == {"type": "string"}
    assert props["port"] == {"type": "string", "format": "int-or-string"}
    assert props["size"] == {"type": "string"}
    assert props["meta"] == {"allOf": [{"$ref": "#/components/schemas/io.k8s.Meta"}], "description": "with a sibling"}
    assert props["bare"] == {"$ref": "#/components/schemas/io.k8s.Meta"}
    assert props["tags"]["items"] == {"$ref": "#/components/schemas/io.k8s.Tag"}
    assert props["labels"]["additionalProperties"] == {"type": "string"}
    assert raw["type"] == ["object", "null"]  # the source is left alone


def test_closure_and_resolution_on_a_small_library():
    lib = SchemaLibrary({
        "a.Kind": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "g", "version": "v1", "kind": "Kind"}],
                   "properties": {"apiVersion": {"type": "string", "enum": ["g/v1"]},
                                  "spec": {"$ref": "#/$defs/a.Spec", "description": "d",
                                           "x-kubernetes-patch-strategy": "retainKeys"}}},
        "a.Spec": {"type": "object", "properties": {"child": {"$ref": "#/$defs/a.Spec"}}},
        "a.Unused": {"type": "string"},
    }, "test")
    assert lib.name_for("g", "v1", "Kind") == "a.Kind"
    assert set(lib.closure(["a.Kind"])) == {"a.Kind", "a.Spec"}
    assert "enum" not in lib.definition("a.Kind")["properties"]["apiVersion"]
    kind = lib.resolved("a.Kind")
    spec = kind["properties"]["spec"]
    assert spec["x-kubernetes-patch-strategy"] == "retainKeys"  # kept from the referring property
    assert spec["properties"]["child"] is lib.resolved("a.Spec")  # a cycle, shared
    assert spec["properties"]["child"]["properties"]["child"] is lib.resolved("a.Spec")
    assert lib.resolved("nope") is None


def test_schema_for_built_in_kinds():
    pod = schema_for("", "v1", "Pod")
    containers = pod["properties"]["spec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"]["properties"]["image"]["type"] == "string"
    strategy = schema_for("apps", "v1", "Deployment")["properties"]["spec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert "rollingUpdate" in strategy["properties"]
    assert schema_for("apps", "v1", "NoSuchKind") is None
    assert schema_for("", "v1", "Pod") is pod  # cached
    assert default_library().source.startswith("v1.")


def test_unknown_fields_names_each_undeclared_field():
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "extra": 1,
        "metadata": {"name": "web", "labels": {"any": "key"}, "annotations": {"a": "b"}},
        "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                 "template": {"spec": {"containers": [
                     {"name": "c", "image": "nginx", "imagePullPolice": "Always",
                      "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "bad": 2}]}]}}},
    }
    assert unknown_fields(schema_for("apps", "v1", "Deployment"), deployment) == [
        "extra",
        "spec.template.spec.containers[0].imagePullPolice",
        "spec.template.spec.containers[0].ports[0].bad",
    ]
    assert unknown_fields(schema_for("", "v1", "ConfigMap"), {"data": {"k": "v"}}) == []
    crd_version = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"a": {"type": "string", "oops": True}}}}}]}}
    assert unknown_fields(schema_for("apiextensions.k8s.io", "v1", "CustomResourceDefinition"), crd_version) == [
        "spec.versions[0].schema.openAPIV3Schema.properties.a.oops"]
    assert unknown_fields(None, {"anything": 1}) == []
