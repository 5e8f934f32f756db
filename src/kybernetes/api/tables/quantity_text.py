"""Resource quantities printed in canonical form, as resource.Quantity.String() prints them.

Several printers show quantities (PV capacity, quota usage, HPA targets). The real server parses
them and prints the canonical form: "1.5Gi" stays "1536Mi", "2000m" becomes "2", "1000" becomes
"1k" in decimal notation. This is a deliberately small, self-contained re-implementation of that
one rule (the full arithmetic lives elsewhere in kybernetes.api).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_NUMBER = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)(.*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {power: suffix for suffix, power in _BINARY.items()}


def _parse(text: str) -> tuple[Fraction, str] | None:
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    sign, digits, suffix = match.groups()
    value = Fraction(digits)
    if sign == "-":
        value = -value
    if suffix in _BINARY:
        return value * 1024 ** _BINARY[suffix], "binary"
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix], "decimal"
    if suffix[:1] in ("e", "E") and re.fullmatch(r"[+-]?\d+", suffix[1:]):
        return value * Fraction(10) ** int(suffix[1:]), "exponent"
    return None


def _round_up_to_nano(value: Fraction) -> Fraction:
    # Quantities never keep more precision than 1n; finer values round away from zero.
    scaled = value * 10**9
    if scaled.denominator == 1:
        return value
    whole = (
        -((-scaled.numerator) // scaled.denominator) if value > 0 else scaled.numerator // scaled.denominator
    )
    return Fraction(whole, 10**9)


def _decimal_text(value: Fraction, style: str) -> str:
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    exponent = -9
    mantissa = magnitude * 10**9  # an integer after rounding to nano
    while mantissa.denominator == 1 and mantissa % 1000 == 0 and exponent < 18:
        mantissa /= 1000
        exponent += 3
    number = f"{sign}{int(mantissa)}"
    if style == "exponent":
        return number if exponent == 0 else f"{number}e{exponent}"
    return number + _DECIMAL_SUFFIX[exponent]


def canonical_quantity(value: Any) -> str:
    """The canonical text of a quantity given as a string or number; the input as text if unparseable."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return str(value)
    parsed = _parse(str(value)) if isinstance(value, str) else (Fraction(value), "decimal")
    if parsed is None:
        return str(value)
    amount, style = parsed
    amount = _round_up_to_nano(amount)
    if amount == 0:
        return "0"
    if style == "binary":
        if -1024 < amount < 1024 or amount.denominator != 1:
            style = "decimal"  # small or fractional binary amounts print in decimal, losing nothing
        else:
            power, number = 0, int(amount)
            while number % 1024 == 0 and power < 6:
                number //= 1024
                power += 1
            return f"{number}{_BINARY_SUFFIX.get(power, '')}"
    return _decimal_text(amount, style)
