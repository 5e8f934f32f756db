"""Is a CRD version's openAPIV3Schema structural? The checks the real server makes on a CRD's
schema before accepting the CRD (422 otherwise), with its field paths:

    spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].type:
        Required value: must not be empty for specified object fields

A structural schema names a type at every level (except where x-kubernetes-int-or-string or
x-kubernetes-preserve-unknown-fields say "anything"), is an object at the root, gives arrays an
``items`` schema, never mixes ``properties`` with ``additionalProperties``, and uses the
x-kubernetes extensions consistently. Defaults must themselves be valid values.
"""

from __future__ import annotations

from typing import Any

from .errors import Cause
from .field_errors import forbidden, invalid, not_supported, required
from .structural_formats import compiled_pattern
from .structural_validation import validate as validate_value

TYPES = ("array", "boolean", "integer", "number", "object", "string")
LIST_TYPES = ("atomic", "map", "set")


def check_schema(schema: Any, path: str) -> list[Cause]:
    """Every way ``schema`` (the openAPIV3Schema at ``path``) is not a structural schema."""
    if not isinstance(schema, dict):
        return [invalid(path, schema, "must be an object")]
    causes: list[Cause] = []
    declared = schema.get("type")
    if declared not in (None, "") and declared != "object":
        causes.append(invalid(f"{path}.type", declared, "must be object at the root"))
    elif declared in (None, "") and not schema.get("x-kubernetes-preserve-unknown-fields"):
        causes.append(required(f"{path}.type", "must not be empty at the root"))
    if schema.get("x-kubernetes-int-or-string"):
        causes.append(forbidden(f"{path}.x-kubernetes-int-or-string", "must be false at the root"))
    if schema.get("x-kubernetes-embedded-resource"):
        causes.append(forbidden(f"{path}.x-kubernetes-embedded-resource", "must be false at the root"))
    causes += _check_metadata(schema, path)
    causes += _check_node(schema, path, "object fields", root=True)
    return causes


def _check_metadata(schema: dict[str, Any], path: str) -> list[Cause]:
    props = schema.get("properties")
    meta = props.get("metadata") if isinstance(props, dict) else None
    if not isinstance(meta, dict):
        return []
    meta_path = f"{path}.properties[metadata]"
    causes = []
    if meta.get("type") not in (None, "object"):
        causes.append(invalid(f"{meta_path}.type", meta.get("type"), "must be object"))
    inner = meta.get("properties")
    if isinstance(inner, dict):
        for key in inner:
            if key not in ("name", "generateName"):
                causes.append(forbidden(
                    meta_path, "must not specify anything other than name and generateName, but "
                               "metadata is implicitly specified"))
                break
    return causes


def _check_node(schema: dict[str, Any], path: str, where: str, *, root: bool = False) -> list[Cause]:
    causes: list[Cause] = []
    declared = schema.get("type")
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if "$ref" in schema:
        causes.append(forbidden(f"{path}.$ref", "$ref is not supported"))
    if declared in (None, ""):
        if not root and not int_or_string and not preserve:
            causes.append(required(f"{path}.type", f"must not be empty for specified {where}"))
    elif not isinstance(declared, str) or declared not in TYPES:
        causes.append(not_supported(f"{path}.type", declared, TYPES))
    elif int_or_string:
        causes.append(forbidden(f"{path}.type", "must be empty if x-kubernetes-int-or-string is true"))
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if props is not None and not isinstance(props, dict):
        causes.append(invalid(f"{path}.properties", props, "must be an object"))
        props = None
    if props and extra not in (None, True):
        causes.append(forbidden(f"{path}.additionalProperties",
                                "additionalProperties and properties are mutual exclusive"))
    if extra is False:
        causes.append(forbidden(f"{path}.additionalProperties", "additionalProperties cannot be set to false"))
    if (props or isinstance(extra, dict)) and declared not in (None, "", "object"):
        causes.append(invalid(f"{path}.type", declared, "must be object if properties are specified"))
    if schema.get("uniqueItems") is True:
        causes.append(forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the "
                                                        "runtime complexity becomes quadratic"))
    pattern = schema.get("pattern")
    if pattern is not None and (not isinstance(pattern, str) or compiled_pattern(pattern) is None):
        causes.append(invalid(f"{path}.pattern", pattern, "must be a valid regular expression"))
    causes += _check_list_type(schema, path, declared)
    if declared == "array" and not isinstance(schema.get("items"), dict):
        causes.append(required(f"{path}.items", "must be specified"))
    for key, prop in (props or {}).items():
        sub_path = f"{path}.properties[{key}]"
        if not isinstance(prop, dict):
            causes.append(invalid(sub_path, prop, "must be an object"))
            continue
        causes += _check_node(prop, sub_path, "object fields")
    if isinstance(extra, dict):
        causes += _check_node(extra, f"{path}.additionalProperties", "object fields")
    items = schema.get("items")
    if isinstance(items, dict):
        causes += _check_node(items, f"{path}.items", "array items")
    if "default" in schema and not root:
        causes += _check_default(schema, path)
    return causes


def _check_list_type(schema: dict[str, Any], path: str, declared: Any) -> list[Cause]:
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys")
    causes: list[Cause] = []
    if list_type is None:
        if keys:
            causes.append(forbidden(f"{path}.x-kubernetes-list-map-keys",
                                    "must be empty if x-kubernetes-list-type is not map"))
        return causes
    if declared != "array":
        causes.append(invalid(f"{path}.x-kubernetes-list-type", list_type, "must only be used if type is array"))
    if list_type not in LIST_TYPES:
        causes.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, LIST_TYPES))
    elif list_type == "map":
        if not isinstance(keys, list) or not keys:
            causes.append(required(f"{path}.x-kubernetes-list-map-keys",
                                   "must not be empty if x-kubernetes-list-type is map"))
        items = schema.get("items")
        if isinstance(items, dict) and items.get("type") not in (None, "object"):
            causes.append(invalid(f"{path}.items.type", items.get("type"),
                                  "must be object if parent array's x-kubernetes-list-type is map"))
    elif keys:
        causes.append(forbidden(f"{path}.x-kubernetes-list-map-keys",
                                "must be empty if x-kubernetes-list-type is not map"))
    return causes


def _check_default(schema: dict[str, Any], path: str) -> list[Cause]:
    """A default must be a valid value of its own schema (required fields aside: a default may
    be completed by its children's defaults)."""
    value = schema["default"]
    if value is None and not schema.get("nullable"):
        return [forbidden(f"{path}.default", "must not be null for non-nullable schemas")]
    causes = []
    for cause in validate_value(schema, value):
        if cause.reason == "FieldValueRequired":
            continue
        field = f"{path}.default" + (f".{cause.field}" if cause.field and not cause.field.startswith("[")
                                     else cause.field)
        causes.append(Cause(cause.reason, cause.message, field))
    return causes
