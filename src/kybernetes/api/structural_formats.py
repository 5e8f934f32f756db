"""String formats and patterns of custom resource schemas, checked as kube-apiserver checks them.

``format`` on a string field is enforced only for the formats the real server knows (date-time,
date, byte, ipv4, ipv6, cidr, uuid*, hostname, email, duration, mac, bsonobjectid); any other
format is documentation. ``pattern`` is an ECMA-ish regular expression matched anywhere in the
value (compiled once; one that does not compile is refused when the CRD is validated).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from datetime import date, datetime

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DURATION = re.compile(r"^[-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$|^0$")


def _valid_date_time(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        return False
    return True


def _valid_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _valid_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _valid_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def _valid_uuid(text: str, version: int | None = None) -> bool:
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return False
    return version is None or parsed.version == version


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


# The string formats kube-apiserver checks for custom resources; the rest are not checked.
STRING_FORMATS = {
    "date-time": _valid_date_time,
    "datetime": _valid_date_time,
    "date": _valid_date,
    "byte": _valid_base64,
    "ipv4": lambda t: _valid_ip(t, 4),
    "ipv6": lambda t: _valid_ip(t, 6),
    "cidr": _valid_cidr,
    "uuid": _valid_uuid,
    "uuid3": lambda t: _valid_uuid(t, 3),
    "uuid4": lambda t: _valid_uuid(t, 4),
    "uuid5": lambda t: _valid_uuid(t, 5),
    "hostname": lambda t: bool(_HOSTNAME.match(t)),
    "email": lambda t: bool(_EMAIL.match(t)),
    "duration": lambda t: bool(_DURATION.match(t)),
    "mac": lambda t: bool(re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", t)),
    "bsonobjectid": lambda t: bool(re.fullmatch(r"[0-9a-fA-F]{24}", t)),
}

INT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}

_pattern_cache: dict[str, re.Pattern | None] = {}


def compiled_pattern(pattern: str) -> re.Pattern | None:
    """The pattern as a Python regex (None when it does not compile)."""
    if pattern not in _pattern_cache:
        try:
            _pattern_cache[pattern] = re.compile(pattern)
        except re.error:
            _pattern_cache[pattern] = None
    return _pattern_cache[pattern]
