"""The schema-less wire reader, and the small encoder the other protobuf tests build bodies with."""

from __future__ import annotations

import struct

import pytest

from kybernetes.api.protobuf.wire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    WireError,
    as_int32,
    as_int64,
    iter_fields,
    iter_packed_varints,
    read_varint,
)

# --- a tiny protobuf encoder for tests (independent of the decoder's tables) ---------------------


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative ints go out as 10-byte two's complement, as Go writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vint(number: int, value: int | bool) -> bytes:
    """A varint field (int32, int64, bool)."""
    return varint(number << 3 | VARINT) + varint(int(value))


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field: string, bytes, or an already encoded message."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | LENGTH_DELIMITED) + varint(len(data)) + data


def msg(number: int, *parts: bytes) -> bytes:
    """A nested message field made of the given encoded fields."""
    return ld(number, b"".join(parts))


def entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map<string, X> entry; ``value`` is a string or an encoded message body."""
    return msg(number, ld(1, key), ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes, content_type: str = "", encoding: str = "") -> bytes:
    """b"k8s\\x00" + runtime.Unknown, as kubectl sends it."""
    unknown = msg(1, ld(1, api_version), ld(2, kind)) + ld(2, raw) + ld(3, encoding) + ld(4, content_type)
    return b"k8s\x00" + unknown


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**63 - 1, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    assert read_varint(varint(value) + b"\xff", 0) == (value, len(varint(value)))


def test_negative_numbers_are_ten_byte_twos_complement() -> None:
    encoded = varint(-5)
    assert len(encoded) == 10
    value, _ = read_varint(encoded, 0)
    assert as_int64(value) == -5
    assert as_int32(value) == -5
    assert as_int32(read_varint(varint(2**31 - 1), 0)[0]) == 2**31 - 1


def test_iter_fields_yields_every_wire_type() -> None:
    data = (vint(1, 150) + ld(2, "hi") + varint(3 << 3 | FIXED64) + struct.pack("<d", 1.5)
            + varint(4 << 3 | FIXED32) + struct.pack("<I", 7))
    fields = list(iter_fields(data))
    assert fields[0] == (1, VARINT, 150)
    assert fields[1] == (2, LENGTH_DELIMITED, b"hi")
    assert fields[2][:2] == (3, FIXED64)
    assert struct.unpack("<d", fields[2][2].to_bytes(8, "little"))[0] == 1.5
    assert fields[3] == (4, FIXED32, 7)


def test_packed_varints() -> None:
    assert list(iter_packed_varints(varint(1) + varint(300) + varint(2))) == [1, 300, 2]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x08", "truncated varint"),
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x12\x05ab", "runs past the end"),
        (b"\x00\x01", "invalid field number 0"),
        (b"\x0b", "unsupported wire type 3"),
        (b"\x09\x01\x02", "truncated fixed64"),
        (b"\x0d\x01", "truncated fixed32"),
    ],
)
def test_malformed_bytes_raise_wire_error(data: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        list(iter_fields(data))


def test_encoder_envelope_shape() -> None:
    body = envelope("v1", "ConfigMap", b"")
    assert body.startswith(b"k8s\x00\x0a")
    (number, _, type_meta), *_ = iter_fields(body[4:])
    assert number == 1
    assert list(iter_fields(type_meta)) == [(1, LENGTH_DELIMITED, b"v1"), (2, LENGTH_DELIMITED, b"ConfigMap")]
