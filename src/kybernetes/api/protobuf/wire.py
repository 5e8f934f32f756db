"""The protobuf wire format, read without a schema.

A message is a run of (tag, value) records: the tag is a varint holding ``field_number << 3 |
wire_type``, and the wire type says how long the value is (varint, fixed 8 bytes, length-delimited,
fixed 4 bytes). That is all a reader needs to walk any message, and skipping unknown fields falls
out of it: the caller just ignores numbers it has no table entry for. Interpretation (signedness,
strings, nested messages) belongs to the caller, which knows the field's type.

Kubernetes never uses groups (wire types 3 and 4); they are rejected as malformed.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

WIRE_TYPE_NAMES = {VARINT: "varint", FIXED64: "fixed64", LENGTH_DELIMITED: "length-delimited", FIXED32: "fixed32"}

_MAX_VARINT_BYTES = 10
_MAX_FIELD_NUMBER = (1 << 29) - 1


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = 0
    shift = 0
    end = min(len(data), pos + _MAX_VARINT_BYTES)
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    if pos >= len(data):
        raise WireError("truncated varint")
    raise WireError("varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for every record of one message.

    The value is an int for varint and fixed-width records (unsigned, as stored) and the bytes
    for length-delimited ones.
    """
    pos = 0
    size = len(data)
    while pos < size:
        tag, pos = read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number > _MAX_FIELD_NUMBER:
            raise WireError(f"invalid field number {number}")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield number, wire_type, value
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if length > size - pos:
                raise WireError(f"field {number}: length {length} runs past the end of the message")
            yield number, wire_type, data[pos:pos + length]
            pos += length
        elif wire_type == FIXED64:
            if pos + 8 > size:
                raise WireError(f"field {number}: truncated fixed64")
            yield number, wire_type, int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > size:
                raise WireError(f"field {number}: truncated fixed32")
            yield number, wire_type, int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"field {number}: unsupported wire type {wire_type}")


def iter_packed_varints(data: bytes) -> Iterator[int]:
    """The varints of a packed repeated scalar field."""
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        yield value


def as_int64(value: int) -> int:
    """A varint read as a two's complement int64."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def as_int32(value: int) -> int:
    """A varint read as an int32 (negative int32s are sign-extended to 10 bytes on the wire)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def as_uint32(value: int) -> int:
    return value & 0xFFFFFFFF
