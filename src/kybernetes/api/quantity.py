"""Resource quantities ("100m", "1Gi", "1e3", "0.5"): exact parsing, comparison, canonical form.

Values are exact Fractions, so "0.1" + "0.2" == "300m" holds and requests/limits compare without
float error. As in Kubernetes, precision below 1n (10^-9) is rounded up, and the canonical text a
server stores keeps the family of the input suffix (binary, decimal SI, or exponent) in its
shortest exact form: "0.5" -> "500m", "1536Mi" stays, "1.5Gi" -> "1536Mi", "1000" -> "1k".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

QUANTITY_REGEX_TEXT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX_TEXT}'"

_NUMBER = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)(.*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_EXPONENT = re.compile(r"^[eE]([+-]?\d+)$")
_NANO = Fraction(1, 10**9)

BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity (message worded as the real server words it)."""


@dataclass(frozen=True, slots=True, order=False)
class Quantity:
    value: Fraction
    format: str = DECIMAL_SI

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    @property
    def milli(self) -> int:
        """The value in thousandths, rounded up (CPU millicores)."""
        return math.ceil(self.value * 1000)

    def __int__(self) -> int:
        """The value rounded up to a whole number (bytes)."""
        return math.ceil(self.value)

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)


def parse_quantity(text: Any) -> Quantity:
    """Parse a quantity given as a string (or a JSON number); raise QuantityError if malformed."""
    if isinstance(text, bool):
        raise QuantityError(FORMAT_ERROR)
    if isinstance(text, int):
        return Quantity(Fraction(text), DECIMAL_SI)
    if isinstance(text, float):
        return parse_quantity(repr(text))
    if not isinstance(text, str) or not text:
        raise QuantityError(FORMAT_ERROR)
    m = _NUMBER.match(text)
    if not m:
        raise QuantityError(FORMAT_ERROR)
    sign, digits, suffix = m.groups()
    number = Fraction(digits if not digits.endswith(".") else digits[:-1])
    if suffix in _BINARY:
        value, fmt = number * 1024 ** _BINARY[suffix], BINARY_SI
    elif suffix in _DECIMAL:
        value, fmt = number * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
    else:
        e = _EXPONENT.match(suffix)
        if not e:
            raise QuantityError(FORMAT_ERROR)
        value, fmt = number * Fraction(10) ** int(e.group(1)), DECIMAL_EXPONENT
    if sign == "-":
        value = -value
    # Kubernetes keeps nano precision at most, rounding away from zero below it.
    scaled = value / _NANO
    if scaled.denominator != 1:
        value = Fraction(math.ceil(scaled) if value > 0 else math.floor(scaled)) * _NANO
    return Quantity(value, fmt)


def is_quantity(text: Any) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


def format_quantity(value: Fraction, fmt: str = DECIMAL_SI) -> str:
    """The canonical text for a value in the given suffix family."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if fmt == BINARY_SI and magnitude >= 1024 and magnitude.denominator == 1:
        n, power = int(magnitude), 0
        while power < 6 and n % 1024 == 0:
            n //= 1024
            power += 1
        suffix = {v: k for k, v in _BINARY.items()}.get(power, "")
        return f"{sign}{n}{suffix}"
    # Decimal: the largest exponent (a multiple of 3, from -9) that leaves an integer mantissa.
    exponent = -9
    mantissa = magnitude * 10**9
    mantissa = Fraction(math.ceil(mantissa))
    while mantissa % 1000 == 0 and (fmt == DECIMAL_EXPONENT or exponent < 18):
        mantissa /= 1000
        exponent += 3
    n = int(mantissa)
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{n}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{n}{_DECIMAL_SUFFIX[exponent]}"


def canonical_quantity(text: Any) -> str:
    """The text a real server stores for this quantity (e.g. "0.5" -> "500m")."""
    q = parse_quantity(text)
    return format_quantity(q.value, q.format)
