"""Request bodies: read (bounded), decode (JSON or YAML), and check against the URL.

The real server refuses bodies over 3 MiB before decoding them, answers 415 for a format it does
not read, and 400 when the object in the body names a different group/version, kind, namespace
or name than the URL it was sent to. Every failure here is a typed ApiError with a message a
person can act on, never a decoder traceback.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api.errors import ApiError, bad_request, request_entity_too_large, unsupported_media_type
from kybernetes.api.protobuf import PROTOBUF, decode_object
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.negotiation import parse_media_type

MAX_BODY_BYTES = 3 * 1024 * 1024

JSON_TYPES = frozenset({"application/json", ""})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_large() -> ApiError:
    return request_entity_too_large(f"limit is {MAX_BODY_BYTES}")


async def read_raw(request: web.Request) -> bytes:
    """The body bytes, refusing more than MAX_BODY_BYTES without reading them all."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large()
    data = await request.content.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise _too_large()
    return data


def content_type(request: web.Request) -> str:
    return parse_media_type(request.headers.get("Content-Type", "")).type


def decode_json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise bad_request(f"the request body is not valid JSON: {e}") from None


def decode_yaml(data: bytes) -> Any:
    try:
        return yaml.load(data, Loader=_YamlLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f"line {where.line + 1}: " if where is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise bad_request(f"the request body is not valid YAML: {line}{problem}") from None


def decode_document(data: bytes, ctype: str) -> Any:
    if ctype in JSON_TYPES or ctype.endswith("+json"):
        return decode_json(data)
    if ctype in YAML_TYPES or ctype.endswith("+yaml"):
        return decode_yaml(data)
    raise unsupported_media_type(ctype)


async def read_object(request: web.Request) -> dict[str, Any]:
    """Decode a create/update body into an object (a JSON object, not a list or scalar)."""
    obj, _raw, _is_json = await read_object_and_raw(request)
    return obj


async def read_object_and_raw(request: web.Request) -> tuple[dict[str, Any], bytes, bool]:
    """The decoded object, the bytes it came from, and whether they were JSON (field
    validation looks for keys given twice in the raw JSON)."""
    ctype = content_type(request)
    if ctype == PROTOBUF:
        # kubectl >= 1.32 sends typed creates (create deployment|configmap|..., auth can-i) as
        # protobuf and treats a 415 as fatal; we decode them to the same JSON object.
        return decode_object(await read_raw(request)), b"", False
    if ctype not in JSON_TYPES and ctype not in YAML_TYPES:
        raise unsupported_media_type(request.headers.get("Content-Type", ""))
    data = await read_raw(request)
    if not data.strip():
        raise bad_request("the request body is empty; an object was expected")
    obj = decode_document(data, ctype)
    if not isinstance(obj, dict):
        raise bad_request(f"the request body must be an object, not {type(obj).__name__}")
    return obj, data, ctype in JSON_TYPES


async def read_optional_object(request: web.Request) -> dict[str, Any] | None:
    """A body that may be absent (DeleteOptions)."""
    data = await read_raw(request)
    if not data.strip():
        return None
    ctype = content_type(request)
    if ctype not in JSON_TYPES and ctype not in YAML_TYPES:
        raise unsupported_media_type(request.headers.get("Content-Type", ""))
    obj = decode_document(data, ctype)
    if not isinstance(obj, dict):
        raise bad_request(f"the request body must be an object, not {type(obj).__name__}")
    return obj


def check_type_meta(info: ResourceInfo, obj: dict[str, Any], expected_kind: str | None = None,
                    expected_group_version: str | None = None) -> None:
    """apiVersion/kind in the body must name what the URL names (either may be left out)."""
    gv = expected_group_version or info.group_version
    kind = expected_kind or info.kind
    api_version = obj.get("apiVersion")
    if api_version not in (None, ""):
        if not isinstance(api_version, str) or api_version != gv:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({gv})"
            )
    data_kind = obj.get("kind")
    if data_kind not in (None, "") and data_kind != kind:
        raise bad_request(f"the kind in the data ({data_kind}) does not match the expected kind ({kind})")
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise bad_request("metadata must be an object")


def object_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The body's metadata, created when absent; ``"metadata": null`` counts as absent and any
    other non-object is a 400 (never a crash further in)."""
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request(f"metadata must be an object, not {type(meta).__name__}")
    return meta


def check_namespace(info: ResourceInfo, obj: dict[str, Any], namespace: str | None) -> None:
    """Fill the namespace from the URL; a different one in the body is a 400, as upstream."""
    meta = object_metadata(obj)
    if not info.namespaced:
        meta.pop("namespace", None)
        return
    body_ns = meta.get("namespace")
    if body_ns in (None, ""):
        meta["namespace"] = namespace
    elif body_ns != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def check_name(obj: dict[str, Any], name: str) -> None:
    meta = object_metadata(obj)
    body_name = meta.get("name")
    if body_name in (None, ""):
        meta["name"] = name
    elif body_name != name:
        raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
