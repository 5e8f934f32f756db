"""apimachinery types whose JSON form is not their protobuf shape.

On the wire these are small messages; in JSON each is a single value:

- Time {1: seconds, 2: nanos} -> RFC 3339 at second precision ("2024-05-01T10:00:00Z"), the
  nanos dropped as the real server drops them; MicroTime keeps six fractional digits.
- Duration {1: nanoseconds} -> Go's duration text ("1h0m0s", "1.5s", "300ms").
- Quantity {1: text} -> the text ("500m", "1Gi").
- IntOrString {1: type, 2: intVal, 3: strVal} -> an int or a string.
- RawExtension {1: raw}, FieldsV1 {1: raw} -> the embedded JSON document.

Each decoder returns ZERO for the Go zero value, so the caller can apply omitempty: Go writes a
zero Time as null and a zero pointer IntOrString as 0, and the decoder mirrors those choices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.api.protobuf.wire import LENGTH_DELIMITED, VARINT, WireError, as_int32, as_int64, iter_fields


class _Zero:
    """The Go zero value of a well-known type (omitted unless the field is a pointer)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ZERO"


ZERO = _Zero()

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, Go's time.Time{}


def _varint_field(data: bytes, number: int, what: str) -> dict[int, int]:
    """Collect the varint fields of a tiny message (last occurrence wins, as in protobuf)."""
    values: dict[int, int] = {}
    for field_number, wire_type, value in iter_fields(data):
        if field_number <= number:
            if wire_type != VARINT:
                raise WireError(f"{what}: field {field_number} must be a varint")
            values[field_number] = value  # type: ignore[assignment]
    return values


def _bytes_field(data: bytes, what: str) -> bytes | None:
    found: bytes | None = None
    for field_number, wire_type, value in iter_fields(data):
        if field_number == 1:
            if wire_type != LENGTH_DELIMITED:
                raise WireError(f"{what}: field 1 must be length-delimited")
            found = value  # type: ignore[assignment]
    return found


def _instant(data: bytes, what: str) -> tuple[datetime, int] | None:
    values = _varint_field(data, 2, what)
    seconds = as_int64(values.get(1, 0))
    nanos = as_int32(values.get(2, 0))
    if not data or (seconds == _GO_ZERO_TIME_SECONDS and nanos == 0):
        return None
    try:
        return _EPOCH + timedelta(seconds=seconds), nanos
    except (OverflowError, ValueError):
        raise WireError(f"{what}: {seconds} seconds is outside the supported time range") from None


def decode_time(data: bytes) -> Any:
    instant = _instant(data, "Time")
    if instant is None:
        return ZERO
    return _rfc3339_seconds(instant[0]) + "Z"


def decode_micro_time(data: bytes) -> Any:
    instant = _instant(data, "MicroTime")
    if instant is None:
        return ZERO
    moment, nanos = instant
    if not 0 <= nanos < 1_000_000_000:
        raise WireError(f"MicroTime: nanos {nanos} out of range")
    return _rfc3339_seconds(moment) + f".{nanos // 1000:06d}Z"


def _rfc3339_seconds(moment: datetime) -> str:
    # strftime("%Y") does not zero-pad years below 1000 on every platform.
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")


def go_duration_text(nanoseconds: int) -> str:
    """A duration as Go's time.Duration.String() writes it."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    rest = abs(nanoseconds)
    if rest < 1_000_000_000:
        if rest < 1_000:
            return f"{sign}{rest}ns"
        if rest < 1_000_000:
            return f"{sign}{_decimal(rest, 3)}\u00b5s"
        return f"{sign}{_decimal(rest, 6)}ms"
    text = _decimal(rest % 60_000_000_000, 9) + "s"
    minutes = rest // 60_000_000_000
    if minutes:
        text = f"{minutes % 60}m" + text
        hours = minutes // 60
        if hours:
            text = f"{hours}h" + text
    return sign + text


def _decimal(value: int, places: int) -> str:
    whole, fraction = divmod(value, 10**places)
    digits = f"{fraction:0{places}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def decode_duration(data: bytes) -> Any:
    nanoseconds = as_int64(_varint_field(data, 1, "Duration").get(1, 0))
    return ZERO if nanoseconds == 0 else go_duration_text(nanoseconds)


def decode_quantity(data: bytes) -> Any:
    raw = _bytes_field(data, "Quantity")
    text = _utf8(raw or b"", "Quantity")
    return text or "0"


def decode_int_or_string(data: bytes) -> Any:
    kind = 0
    int_value = 0
    str_value = ""
    for number, wire_type, value in iter_fields(data):
        if number in (1, 2) and wire_type != VARINT:
            raise WireError(f"IntOrString: field {number} must be a varint")
        if number == 3 and wire_type != LENGTH_DELIMITED:
            raise WireError("IntOrString: field 3 must be length-delimited")
        if number == 1:
            kind = as_int64(value)  # type: ignore[arg-type]
        elif number == 2:
            int_value = as_int32(value)  # type: ignore[arg-type]
        elif number == 3:
            str_value = _utf8(value, "IntOrString")  # type: ignore[arg-type]
    if kind == 1:
        return str_value
    if kind != 0:
        raise WireError(f"IntOrString: unknown type {kind}")
    return ZERO if int_value == 0 else int_value


def decode_embedded_json(data: bytes) -> Any:
    """RawExtension and FieldsV1: the raw bytes are a JSON document."""
    raw = _bytes_field(data, "embedded object")
    if not raw:
        return ZERO
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise WireError("an embedded object is not valid JSON") from None


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{what}: text is not valid UTF-8") from None


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "Time": decode_time,
    "MicroTime": decode_micro_time,
    "Duration": decode_duration,
    "Quantity": decode_quantity,
    "IntOrString": decode_int_or_string,
    "RawExtension": decode_embedded_json,
    "FieldsV1": decode_embedded_json,
}
