"""Resource quantities: exact values, the real format error, canonical text."""

from fractions import Fraction

import pytest

from kybernetes.api.quantity import (
    FORMAT_ERROR,
    QuantityError,
    canonical_quantity,
    is_quantity,
    parse_quantity,
)


@pytest.mark.parametrize("text,value", [
    ("100m", Fraction(1, 10)),
    ("0.5", Fraction(1, 2)),
    (".5", Fraction(1, 2)),
    ("1.", Fraction(1)),
    ("1Gi", Fraction(2**30)),
    ("1.5Gi", Fraction(3 * 2**29)),
    ("1e3", Fraction(1000)),
    ("1E3", Fraction(1000)),
    ("12e-3", Fraction(12, 1000)),
    ("1k", Fraction(1000)),
    ("1M", Fraction(10**6)),
    ("2Ki", Fraction(2048)),
    ("1n", Fraction(1, 10**9)),
    ("1u", Fraction(1, 10**6)),
    ("-1", Fraction(-1)),
    ("+1", Fraction(1)),
    (3, Fraction(3)),
    (0.25, Fraction(1, 4)),
    ("0.0000000001", Fraction(1, 10**9)),  # rounded up to nano precision
])
def test_parse(text, value):
    assert parse_quantity(text).value == value


@pytest.mark.parametrize("text", ["", "abc", "1ki", "1.2.3", "--1", "e3", "1 Gi", "1Gib", True, None, "1e"])
def test_malformed(text):
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert str(err.value) == FORMAT_ERROR
    assert not is_quantity(text)


@pytest.mark.parametrize("text,canonical", [
    ("0.5", "500m"),
    ("1000", "1k"),
    ("1024", "1024"),
    ("1e3", "1e3"),
    ("1.5Gi", "1536Mi"),
    ("1024Ki", "1Mi"),
    ("100m", "100m"),
    ("0", "0"),
    ("0.1", "100m"),
    ("512Mi", "512Mi"),
    ("-1", "-1"),
    ("1000m", "1"),
])
def test_canonical(text, canonical):
    assert canonical_quantity(text) == canonical


def test_compare_and_arithmetic():
    assert parse_quantity("500m") < parse_quantity("1")
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert parse_quantity("0.1") + parse_quantity("0.2") == parse_quantity("300m")
    assert parse_quantity("250m").milli == 250
    assert int(parse_quantity("1.5")) == 2
