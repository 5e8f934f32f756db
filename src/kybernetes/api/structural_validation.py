"""Validation of custom resources against a CRD version's structural schema, worded as the real
apiserver words it.

Kubernetes validates a custom resource with kube-openapi's schema validator (a fork of
go-openapi's) and turns each result into a field error. The wording users see is the product of
both: the field path, the Go field-error type ("Invalid value", "Required value", "Unsupported
value", "Too long", "Too many", "Duplicate value") and, for most checks, the validator's own
sentence naming the path again "in body":

    spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"
    spec.size: Unsupported value: "huge": supported values: "small", "large"
    spec.name: Too long: may not be more than 8 bytes
    spec.items: Too many: 4: must have at most 3 items
    spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10
    spec.image: Required value

Paths join object keys with "." and array indexes as "[i]". After the schema checks come the
checks the schema language cannot say: embedded resources need apiVersion and kind, and lists
typed ``x-kubernetes-list-type: set|map`` must not repeat an item or a key.

``validate(schema, obj)`` takes the openAPIV3Schema of the version (a plain dict, as the CRD
holds it) and the whole object; it returns Causes, empty when valid. It never raises on odd
schemas: an unusable keyword is skipped (CRD validation rejects such schemas before they get
here).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import Cause
from .structural_formats import INT_RANGES, STRING_FORMATS, compiled_pattern
from .tables.custom import go_text

_NO_VALUE = object()


# -- Go-shaped values ----------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def go_value(value: Any) -> str:
    """A bad value as Go's field.Error prints it: %q for strings, %v for numbers and booleans,
    %#v for the rest (maps as ``map[string]interface {}{"k":"v"}``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_text(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return go_syntax(value)


def go_syntax(value: Any) -> str:
    """Go's %#v of a decoded JSON value held in interface{} (maps print with sorted keys)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool | int | float):
        return go_text(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_syntax(v) for v in value) + "}"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}:{go_syntax(v)}"
                          for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        return "map[string]interface {}{" + inner + "}"
    return str(value)


def _bound(limit: Any, value: Any) -> str:
    """A numeric limit as the validator prints it: as an integer when checking an integer."""
    if isinstance(value, int) and isinstance(limit, int | float) and float(limit).is_integer():
        return str(int(limit))
    return go_text(float(limit)) if isinstance(limit, int | float) else str(limit)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- causes --------------------------------------------------------------------------------------


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_value(value)}: {detail}", path)


def _type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueTypeInvalid", f"Invalid value: {go_value(value)}: {detail}", path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def _not_supported(path: str, value: Any, allowed: list[Any]) -> Cause:
    shown = ", ".join(json.dumps(a if isinstance(a, str) else json.dumps(a, separators=(",", ":")))
                      for a in allowed)
    return Cause("FieldValueNotSupported", f"Unsupported value: {go_value(value)}: supported values: {shown}",
                 path)


def _too_long(path: str, limit: int) -> Cause:
    unit = "byte" if limit == 1 else "bytes"
    return Cause("FieldValueTooLong", f"Too long: may not be more than {limit} {unit}", path)


def _too_many(path: str, actual: int, limit: int) -> Cause:
    unit = "item" if limit == 1 else "items"
    return Cause("FieldValueTooMany", f"Too many: {actual}: must have at most {limit} {unit}", path)


def _duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {go_value(value)}", path)


# -- types and formats ---------------------------------------------------------------------------


def schema_types(schema: dict[str, Any]) -> list[str]:
    """The types a value may have: x-kubernetes-int-or-string means integer or string."""
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    return []


def type_matches(types: list[str], value: Any) -> bool:
    actual = json_type(value)
    if actual in types:
        return True
    if actual == "number" and "integer" in types and float(value).is_integer():
        return True
    return actual == "integer" and "number" in types


# -- the schema walk -----------------------------------------------------------------------------


class _Walk:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, cause: Cause) -> None:
        self.causes.append(cause)

    def value(self, schema: Any, value: Any, path: str) -> None:
        if not isinstance(schema, dict):
            return
        types = schema_types(schema)
        if value is None:
            if types and "null" not in types and not schema.get("nullable"):
                self.add(_type_invalid(path, "null",
                                       f"{path} in body must be of type {','.join(types)}: \"null\""))
            self._enum(schema, value, path)
            return
        if types and not type_matches(types, value):
            actual = json_type(value)
            self.add(_type_invalid(path, actual, f"{path} in body must be of type {','.join(types)}: \"{actual}\""))
        self._combinators(schema, value, path)
        if isinstance(value, str):
            self._string(schema, value, path)
        if _is_number(value):
            self._number(schema, value, path)
        if isinstance(value, list):
            self._array(schema, value, path)
        self._enum(schema, value, path)
        if isinstance(value, dict):
            self._object(schema, value, path)

    def _string(self, schema: dict[str, Any], value: str, path: str) -> None:
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(value) > max_length:
            self.add(_too_long(path, max_length))
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            self.add(_invalid(path, value, f"{path} in body should be at least {min_length} chars long"))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            compiled = compiled_pattern(pattern)
            if compiled is not None and not compiled.search(value):
                self.add(_invalid(path, value, f"{path} in body should match '{pattern}'"))
        fmt = schema.get("format")
        check = STRING_FORMATS.get(fmt) if isinstance(fmt, str) else None
        if check is not None and not check(value):
            self.add(_type_invalid(path, value, f"{path} in body must be of type {fmt}: {json.dumps(value)}"))

    def _number(self, schema: dict[str, Any], value: int | float, path: str) -> None:
        fmt = schema.get("format")
        if isinstance(value, int) and fmt in INT_RANGES:
            low, high = INT_RANGES[fmt]
            if not low <= value <= high:
                self.add(_invalid(path, value, f"Checked value must be of type {fmt} with format {fmt} in {path}"))
        multiple = schema.get("multipleOf")
        if _is_number(multiple) and multiple > 0:
            quotient = value / multiple
            if not float(quotient).is_integer():
                self.add(_invalid(path, value, f"{path} in body should be a multiple of {_bound(multiple, value)}"))
        maximum = schema.get("maximum")
        if _is_number(maximum):
            exclusive = bool(schema.get("exclusiveMaximum"))
            if value > maximum or (exclusive and value == maximum):
                relation = "less than" if exclusive else "less than or equal to"
                self.add(_invalid(path, value, f"{path} in body should be {relation} {_bound(maximum, value)}"))
        minimum = schema.get("minimum")
        if _is_number(minimum):
            exclusive = bool(schema.get("exclusiveMinimum"))
            if value < minimum or (exclusive and value == minimum):
                relation = "greater than" if exclusive else "greater than or equal to"
                self.add(_invalid(path, value, f"{path} in body should be {relation} {_bound(minimum, value)}"))

    def _array(self, schema: dict[str, Any], value: list, path: str) -> None:
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                self.value(items, item, f"{path}[{i}]")
        min_items = schema.get("minItems")
        if isinstance(min_items, int) and len(value) < min_items:
            self.add(_invalid(path, len(value), f"{path} in body should have at least {min_items} items"))
        max_items = schema.get("maxItems")
        if isinstance(max_items, int) and len(value) > max_items:
            self.add(_too_many(path, len(value), max_items))
        if schema.get("uniqueItems") and _has_duplicates(value):
            self.add(_invalid(path, "", f"{path} in body shouldn't contain duplicates"))

    def _enum(self, schema: dict[str, Any], value: Any, path: str) -> None:
        allowed = schema.get("enum")
        if not isinstance(allowed, list) or not allowed:
            return
        if any(_json_equal(value, a) for a in allowed):
            return
        self.add(_not_supported(path, value, allowed))

    def _object(self, schema: dict[str, Any], value: dict, path: str) -> None:
        count = len(value)
        max_props = schema.get("maxProperties")
        if isinstance(max_props, int) and count > max_props:
            self.add(_too_many(path, count, max_props))
            return
        min_props = schema.get("minProperties")
        if isinstance(min_props, int) and count < min_props:
            self.add(_invalid(path, count, f"{path} in body should have at least {min_props} properties"))
            return
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                continue
            if extra is False:
                self.add(_invalid(path, key, f"{path}.{key} in body is a forbidden property"))
            elif isinstance(extra, dict):
                self.value(extra, item, _child(path, key))
        for key, prop in props.items():
            if key in value:
                self.value(prop, value[key], _child(path, key))
        for key in schema.get("required") or ():
            if isinstance(key, str) and key not in value:
                self.add(_required(_child(path, key)))

    def _combinators(self, schema: dict[str, Any], value: Any, path: str) -> None:
        shown = path or "."
        for sub in schema.get("allOf") or ():
            before = len(self.causes)
            self.value(sub, value, path)
            if len(self.causes) > before:
                self.add(_invalid(path, "", f'"{shown}" must validate all the schemas (allOf)'))
                break
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and any_of and not any(_passes(s, value) for s in any_of):
            self.add(_invalid(path, "", f'"{shown}" must validate at least one schema (anyOf)'))
        one_of = schema.get("oneOf")
        if isinstance(one_of, list) and one_of and sum(_passes(s, value) for s in one_of) != 1:
            self.add(_invalid(path, "", f'"{shown}" must validate one and only one schema (oneOf)'))
        negated = schema.get("not")
        if isinstance(negated, dict) and _passes(negated, value):
            self.add(_invalid(path, "", f'"{shown}" must not validate the schema (not)'))


def _passes(schema: Any, value: Any) -> bool:
    walk = _Walk()
    walk.value(schema, value, "")
    return not walk.causes


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _has_duplicates(items: list) -> bool:
    seen = set()
    for item in items:
        key = _canonical(item)
        if key in seen:
            return True
        seen.add(key)
    return False


# -- after the schema: embedded resources and list types --------------------------------------


def _embedded_and_lists(schema: Any, value: Any, path: str, causes: list[Cause]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            causes += _embedded_resource(value, path)
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                _embedded_and_lists(sub, item, _child(path, key), causes)
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            causes += _set_duplicates(value, path)
        elif list_type == "map":
            keys = [k for k in schema.get("x-kubernetes-list-map-keys") or () if isinstance(k, str)]
            causes += _map_duplicates(value, keys, path)
        items = schema.get("items")
        for i, item in enumerate(value):
            _embedded_and_lists(items, item, f"{path}[{i}]", causes)


def _embedded_resource(value: dict, path: str) -> list[Cause]:
    causes = []
    for key in ("apiVersion", "kind"):
        if key not in value or value[key] in (None, ""):
            causes.append(_required(_child(path, key), "must not be empty"))
        elif not isinstance(value[key], str):
            causes.append(_invalid(_child(path, key), value[key], "must be a string"))
    metadata = value.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        causes.append(_invalid(_child(path, "metadata"), metadata, "must be an object"))
    return causes


def _set_duplicates(items: list, path: str) -> list[Cause]:
    causes, seen = [], set()
    for i, item in enumerate(items):
        key = _canonical(item)
        if key in seen:
            causes.append(_duplicate(f"{path}[{i}]", item))
        seen.add(key)
    return causes


def _map_duplicates(items: list, keys: list[str], path: str) -> list[Cause]:
    causes, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key_values = {k: item[k] for k in keys if k in item}
        canonical = _canonical(key_values)
        if canonical in seen:
            causes.append(_duplicate(f"{path}[{i}]", key_values))
        seen.add(canonical)
    return causes


def validate(schema: dict[str, Any] | None, obj: Any) -> list[Cause]:
    """Every way ``obj`` breaks ``schema`` (a CRD version's openAPIV3Schema), as Causes."""
    if not isinstance(schema, dict):
        return []
    walk = _Walk()
    walk.value(schema, obj, "")
    causes = walk.causes
    _embedded_and_lists(schema, obj, "", causes)
    return causes
