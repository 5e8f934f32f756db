"""Server-side field validation: ``?fieldValidation=Strict|Warn|Ignore``.

kubectl finds the fieldValidation parameter in /openapi/v3, skips its own schema check and
sends ``fieldValidation=Strict`` on apply, create, replace and edit. The server then refuses a
body with unknown fields (checked against the official schema of the kind) or, for JSON, with
a field given twice: 400 BadRequest ``strict decoding error: unknown field "spec.foo"``. Warn
(the default when the parameter is absent) lets the write through with one Warning header per
field; Ignore checks nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api.errors import bad_request
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.structural_pruning import unknown_fields as custom_unknown_fields
from kybernetes.apiserver.openapi_schemas import SchemasUnavailableError, schema_for, unknown_fields
from kybernetes.apiserver.warnings import add_warning

_DIRECTIVES = {"strict": "Strict", "warn": "Warn", "ignore": "Ignore"}


def directive(request: web.Request) -> str:
    value = request.query.get("fieldValidation", "")
    if not value:
        return "Warn"
    try:
        return _DIRECTIVES[value.lower()]
    except KeyError:
        raise bad_request(
            f"fieldValidation parameter unsupported: {value}; "
            "supported values are Strict, Warn and Ignore") from None


class _Pairs(dict):
    """A decoded JSON object that remembers which of its keys appeared more than once."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.duplicates = []
    for key, value in pairs:
        if key in out and key not in out.duplicates:
            out.duplicates.append(key)
        out[key] = value
    return out


# Every JSON string, and whether a colon follows it (then it is an object key). Matching every
# string from its opening quote keeps the scan aligned: outside strings JSON has no quotes.
# (Written as runs of plain characters between escapes, which the regex engine takes in one go.)
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"\s*(:?)', re.DOTALL)


def _key_count(raw: bytes) -> int:
    return _STRINGS.findall(raw).count(b":")


def duplicate_fields(raw: bytes) -> list[str]:
    """Paths of keys given twice in a JSON body (the fast decoder keeps the last silently)."""
    try:
        compact = orjson.dumps(orjson.loads(raw))
        # What clients that write compact JSON send (orjson, Go, kubectl): the body is its decoded
        # form written out again byte for byte, so no key was dropped and none can repeat.
        if compact == raw:
            return []
        # The usual case, cheaply: as many keys in the body as in its decoded form written out
        # again means no object repeats a key (a repeated key is dropped by decoding).
        if _key_count(raw) == _key_count(compact):
            return []
    except orjson.JSONDecodeError:
        pass
    try:
        tree = json.loads(raw, object_pairs_hook=_pairs_hook)
    except ValueError:
        return []
    found: list[str] = []
    _walk_duplicates(tree, "", found)
    return found


def _walk_duplicates(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, _Pairs):
        for key in value.duplicates:
            found.append(f"{path}.{key}" if path else key)
        for key, item in value.items():
            _walk_duplicates(item, f"{path}.{key}" if path else key, found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk_duplicates(item, f"{path}[{i}]", found)


def check_fields(request: web.Request, info: ResourceInfo, obj: dict[str, Any],
                 raw: bytes | None = None, is_json: bool = True) -> None:
    """Apply the request's fieldValidation directive to a decoded body (pruning unknown fields
    when the directive lets the write through)."""
    mode = directive(request)
    if getattr(info, "crd_name", ""):
        _check_custom_fields(request, info, obj, raw, is_json, mode)
        return
    try:
        schema = schema_for(info.group, info.version, info.kind)
    except SchemasUnavailableError:
        schema = None
    if mode == "Ignore":
        if schema is not None:
            prune_unknown(schema, obj)
        return
    problems = []
    if raw is not None and is_json:
        problems += [f'duplicate field "{p}"' for p in duplicate_fields(raw)]
    if schema is not None:
        problems += [f'unknown field "{p}"' for p in unknown_fields(schema, obj)]
    if not problems:
        return
    if mode == "Strict":
        raise bad_request("strict decoding error: " + ", ".join(problems))
    for text in problems:
        add_warning(request, text)
    if schema is not None:
        # Like the real server's typed decoding, fields a built-in kind does not have are dropped.
        prune_unknown(schema, obj)


def _check_custom_fields(request: web.Request, info: ResourceInfo, obj: dict[str, Any], raw: bytes | None,
                         is_json: bool, mode: str) -> None:
    """A custom resource: unknown fields are those its CRD's structural schema prunes (the object
    store prunes them on every write, whatever the directive)."""
    if mode == "Ignore":
        return
    problems = []
    if raw is not None and is_json:
        problems += [f'duplicate field "{p}"' for p in duplicate_fields(raw)]
    problems += [f'unknown field "{p}"' for p in custom_unknown_fields(getattr(info, "schema", None), obj)]
    if problems and mode == "Strict":
        raise bad_request("strict decoding error: " + ", ".join(problems))
    for text in problems:
        add_warning(request, text)


def prune_unknown(schema: dict[str, Any], value: Any) -> None:
    """Remove, in place, the fields of ``value`` that ``schema`` does not declare."""
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(value):
            if isinstance(props, dict) and key in props:
                prune_unknown(props[key], value[key])
            elif isinstance(extra, dict):
                prune_unknown(extra, value[key])
            elif isinstance(props, dict) and extra is None:
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                prune_unknown(items, item)
