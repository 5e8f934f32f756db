"""Parse the compact descriptor tables of ``messages/`` into field specs, once, on first use.

The notation is described in ``kybernetes.api.protobuf.messages``. Parsing is lazy and cached per
message, so importing the package costs nothing until a protobuf body arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kybernetes.api.protobuf.messages import KINDS, MESSAGES

SCALARS = frozenset({"s", "b", "bool", "i32", "i64", "u32", "u64", "f32", "f64"})
WELL_KNOWN = frozenset({"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension", "FieldsV1"})
_FLAGS = "*?!^"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    number: int
    json_name: str  # "" for an inline (embedded) struct
    type: str  # a scalar code, a well-known type, or a message name
    is_map: bool = False  # map<string, type>
    is_wrapper: bool = False  # a {1: repeated type} message that JSON shows as a list
    repeated: bool = False
    pointer: bool = False
    always: bool = False
    inline: bool = False

    @property
    def is_message(self) -> bool:
        return self.type not in SCALARS and self.type not in WELL_KNOWN


@dataclass(frozen=True, slots=True)
class MessageSpec:
    name: str
    fields: tuple[FieldSpec, ...]  # in Go struct order, which is the JSON order
    by_number: dict[int, FieldSpec]


class SchemaError(ValueError):
    """A malformed descriptor table entry (a bug in the tables, caught by the tests)."""


def parse_field(entry: str) -> FieldSpec:
    try:
        number_text, json_name, type_text = entry.split(":", 2)
        number = int(number_text)
    except ValueError:
        raise SchemaError(f"bad field entry {entry!r}") from None
    flags = ""
    while type_text and type_text[-1] in _FLAGS:
        flags = type_text[-1] + flags
        type_text = type_text[:-1]
    is_map = type_text.startswith("{") and type_text.endswith("}")
    if is_map:
        type_text = type_text[1:-1]
    is_wrapper = type_text.startswith("[") and type_text.endswith("]")
    if is_wrapper:
        type_text = type_text[1:-1]
    inline = "^" in flags
    if not type_text or (inline != (json_name == "-")) or not json_name:
        raise SchemaError(f"bad field entry {entry!r}")
    return FieldSpec(
        number=number,
        json_name="" if inline else json_name,
        type=type_text,
        is_map=is_map,
        is_wrapper=is_wrapper,
        repeated="*" in flags,
        pointer="?" in flags,
        always="!" in flags,
        inline=inline,
    )


@cache
def message_spec(name: str) -> MessageSpec:
    """The parsed spec of one message; KeyError if the tables do not define it."""
    fields = tuple(parse_field(entry) for entry in MESSAGES[name].split())
    by_number = {f.number: f for f in fields}
    if len(by_number) != len(fields):
        raise SchemaError(f"message {name} repeats a field number")
    return MessageSpec(name, fields, by_number)


def kind_message(api_version: str, kind: str) -> str | None:
    """The message name for a top-level kind, or None if it has no table."""
    return KINDS.get((api_version, kind))


def supported_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) that decode_object reads."""
    return sorted(KINDS)
