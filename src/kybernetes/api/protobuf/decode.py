"""Turn a Kubernetes protobuf request body into the JSON object it stands for.

    body = b"k8s\\x00" + Unknown{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
                                 4: contentType}
    raw  = the object's own message (ConfigMap, Deployment, ...), field numbers as in k8s.io/api

The envelope names the kind, the kind names a descriptor table (``messages/``), and the table
drives a walk of ``raw`` with the schema-less reader in ``wire``. The output is what Go's
encoding/json would write for the same object: JSON names, omitempty applied (Go's protobuf
encoder writes every non-pointer field, so zero values arrive and must be dropped again), pointer
fields kept even when zero (``replicas: 0``), bytes as base64, well-known types in their JSON form.

Unknown field numbers are skipped, so newer clients still decode. Anything malformed is a 400,
a kind without a table (CRDs, rare kinds) a 415: never a decoder traceback.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from kybernetes.api.errors import ApiError, bad_request
from kybernetes.api.protobuf.schema import SCALARS, WELL_KNOWN, FieldSpec, kind_message, message_spec
from kybernetes.api.protobuf.wellknown import DECODERS, ZERO
from kybernetes.api.protobuf.wire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    WIRE_TYPE_NAMES,
    WireError,
    as_int32,
    as_int64,
    as_uint32,
    iter_fields,
    iter_packed_varints,
)

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_MAX_DEPTH = 64

_SCALAR_WIRE = {"s": LENGTH_DELIMITED, "b": LENGTH_DELIMITED, "bool": VARINT, "i32": VARINT, "i64": VARINT,
                "u32": VARINT, "u64": VARINT, "f64": FIXED64, "f32": FIXED32}
_SCALAR_ZERO: dict[str, Any] = {"s": "", "b": "", "bool": False, "i32": 0, "i64": 0, "u32": 0, "u64": 0,
                                "f64": 0.0, "f32": 0.0}
# What Go's encoding/json writes for the zero value of a well-known type that is not omitted.
_WELL_KNOWN_ZERO: dict[str, Any] = {"Time": None, "MicroTime": None, "Duration": "0s", "IntOrString": 0,
                                    "Quantity": "0", "RawExtension": None, "FieldsV1": None}


class FieldError(WireError):
    """A wire error with the JSON path of the field it happened in (built up on the way out)."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path

    def within(self, segment: str) -> FieldError:
        joined = segment if not self.path else (
            segment + self.path if self.path.startswith("[") else f"{segment}.{self.path}")
        return FieldError(self.problem, joined)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


def decode_object(body: bytes) -> dict[str, Any]:
    """The Kubernetes JSON object a ``application/vnd.kubernetes.protobuf`` body carries."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise bad_request("the protobuf body must be bytes")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise bad_request("the request body is not a Kubernetes protobuf object (it does not start with the "
                          "'k8s\\x00' prefix)")
    try:
        api_version, kind, raw, encoding, content_type = _read_envelope(body[len(MAGIC):])
    except WireError as e:
        raise bad_request(f"the protobuf envelope (runtime.Unknown) is malformed: {e}") from None
    if not api_version or not kind:
        raise bad_request("the protobuf envelope does not name the object's apiVersion and kind")
    if encoding:
        raise _unsupported(f"content encoding {encoding!r} inside a protobuf body is not supported")
    if content_type == "application/json":
        obj = _decode_json_raw(raw)
    elif content_type in ("", PROTOBUF):
        obj = _decode_raw(raw, api_version, kind)
    else:
        raise _unsupported(f"a protobuf envelope holding {content_type!r} is not supported")
    return {"kind": kind, "apiVersion": api_version, **obj}


def decode_message(raw: bytes, message: str) -> dict[str, Any]:
    """Decode one message by table name (for callers that already know the type)."""
    return _message(raw, message, 0)


def _unsupported(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def _read_envelope(data: bytes) -> tuple[str, str, bytes, str, str]:
    api_version = kind = encoding = content_type = ""
    raw = b""
    for number, wire_type, value in iter_fields(data):
        if number > 4:
            continue
        if wire_type != LENGTH_DELIMITED:
            raise WireError(f"field {number} must be length-delimited")
        assert isinstance(value, bytes)
        if number == 1:
            for sub_number, sub_type, sub_value in iter_fields(value):
                if sub_number in (1, 2):
                    if sub_type != LENGTH_DELIMITED:
                        raise WireError(f"typeMeta field {sub_number} must be length-delimited")
                    text = _text(sub_value)  # type: ignore[arg-type]
                    api_version, kind = (text, kind) if sub_number == 1 else (api_version, text)
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _text(value)
        else:
            content_type = _text(value)
    return api_version, kind, raw, encoding, content_type


def _decode_raw(raw: bytes, api_version: str, kind: str) -> dict[str, Any]:
    message = kind_message(api_version, kind)
    if message is None:
        raise _unsupported(f"{kind} in {api_version} cannot be sent as {PROTOBUF}; send it as "
                           "application/json")
    try:
        return _message(raw, message, 0)
    except WireError as e:
        raise bad_request(f"the protobuf body of the {kind} is malformed: {e}") from None


def _decode_json_raw(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_request("the JSON object inside the protobuf envelope is not valid JSON") from None
    if not isinstance(obj, dict):
        raise bad_request("the JSON inside the protobuf envelope is not an object")
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return obj


def _message(data: bytes, name: str, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise FieldError("messages nested too deeply")
    spec = message_spec(name)
    values: dict[int, Any] = {}
    for number, wire_type, value in iter_fields(data):
        field = spec.by_number.get(number)
        if field is None:
            continue  # a field this table does not know: skip it, as protobuf readers do
        try:
            _collect(field, wire_type, value, values, depth)
        except WireError as e:  # an inline struct adds no segment: JSON shows its fields in place
            raise _located(e, "" if field.inline else field.json_name) from None
    out: dict[str, Any] = {}
    for field in spec.fields:
        if field.number not in values:
            continue
        value = values[field.number]
        if field.inline:
            out.update(value)
        elif _kept(field, value):
            out[field.json_name] = _WELL_KNOWN_ZERO[field.type] if value is ZERO else value
    return out


def _collect(field: FieldSpec, wire_type: int, value: int | bytes, values: dict[int, Any], depth: int) -> None:
    if field.is_map:
        key, item = _map_entry(field, _expect_bytes(wire_type, value), depth)
        values.setdefault(field.number, {})[key] = item
    elif field.repeated:
        items = values.setdefault(field.number, [])
        if wire_type == LENGTH_DELIMITED and _SCALAR_WIRE.get(field.type, LENGTH_DELIMITED) != LENGTH_DELIMITED:
            assert isinstance(value, bytes)
            items.extend(_packed(field.type, value))
        else:
            try:
                items.append(_element(field, wire_type, value, depth))
            except WireError as e:
                raise _located(e, f"[{len(items)}]") from None
    else:
        values[field.number] = _value(field.type, field.is_wrapper, wire_type, value, depth)


def _located(error: WireError, segment: str) -> FieldError:
    if not isinstance(error, FieldError):
        error = FieldError(str(error))
    return error.within(segment) if segment else error


def _kept(field: FieldSpec, value: Any) -> bool:
    """Go's omitempty, as far as the wire lets us see it."""
    if field.is_map or field.repeated:
        return bool(value)
    if value is ZERO:
        return (field.pointer or field.always) and _WELL_KNOWN_ZERO[field.type] is not None
    if field.pointer or field.always or field.is_message:
        return True  # a present pointer, a field without omitempty, or a struct (never omitted)
    if field.is_wrapper:
        return bool(value)
    return value not in ("", 0, False)


def _element(field: FieldSpec, wire_type: int, value: int | bytes, depth: int) -> Any:
    item = _value(field.type, field.is_wrapper, wire_type, value, depth)
    return _WELL_KNOWN_ZERO[field.type] if item is ZERO else item


def _map_entry(field: FieldSpec, data: bytes, depth: int) -> tuple[str, Any]:
    key = ""
    item: Any = _MISSING
    for number, wire_type, value in iter_fields(data):
        if number == 1:
            key = _text(_expect_bytes(wire_type, value))
        elif number == 2:
            item = value, wire_type
    try:
        if item is _MISSING:
            return key, _zero_of(field)
        return key, _element(field, item[1], item[0], depth)
    except WireError as e:
        raise _located(e, f"[{key}]") from None


_MISSING = object()


def _zero_of(field: FieldSpec) -> Any:
    if field.is_wrapper:
        return []
    if field.type in SCALARS:
        return _SCALAR_ZERO[field.type]
    if field.type in WELL_KNOWN:
        return _WELL_KNOWN_ZERO[field.type]
    return {}


def _value(type_name: str, is_wrapper: bool, wire_type: int, value: int | bytes, depth: int) -> Any:
    if is_wrapper:
        items: list[Any] = []
        for number, item_type, item in iter_fields(_expect_bytes(wire_type, value)):
            if number == 1:
                items.append(_value(type_name, False, item_type, item, depth + 1))
        return items
    expected = _SCALAR_WIRE.get(type_name)
    if expected is None:
        data = _expect_bytes(wire_type, value)
        if type_name in WELL_KNOWN:
            return DECODERS[type_name](data)
        return _message(data, type_name, depth + 1)
    if wire_type != expected:
        raise WireError(f"expected a {WIRE_TYPE_NAMES[expected]} value, got {WIRE_TYPE_NAMES[wire_type]}")
    return _scalar(type_name, value)


def _scalar(type_name: str, value: int | bytes) -> Any:
    if type_name == "s":
        return _text(value)  # type: ignore[arg-type]
    if type_name == "b":
        return base64.b64encode(value).decode("ascii")  # type: ignore[arg-type]
    assert isinstance(value, int)
    if type_name == "bool":
        return value != 0
    if type_name == "i32":
        return as_int32(value)
    if type_name == "i64":
        return as_int64(value)
    if type_name == "u32":
        return as_uint32(value)
    if type_name == "u64":
        return value
    if type_name == "f64":
        return struct.unpack("<d", value.to_bytes(8, "little"))[0]
    return struct.unpack("<f", value.to_bytes(4, "little"))[0]


def _packed(type_name: str, data: bytes) -> list[Any]:
    if type_name in ("f64", "f32"):
        width = 8 if type_name == "f64" else 4
        if len(data) % width:
            raise WireError("packed fixed-width values have a ragged length")
        return [_scalar(type_name, int.from_bytes(data[i:i + width], "little"))
                for i in range(0, len(data), width)]
    return [_scalar(type_name, item) for item in iter_packed_varints(data)]


def _expect_bytes(wire_type: int, value: int | bytes) -> bytes:
    if wire_type != LENGTH_DELIMITED:
        raise WireError(f"expected a length-delimited value, got {WIRE_TYPE_NAMES[wire_type]}")
    assert isinstance(value, bytes)
    return value


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("text is not valid UTF-8") from None
