"""Money parses and prints exactly, rejects what it cannot represent, rounds by the named rule."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.errors import InvalidEvent
from settlement.money import (
    MAX_LINE_MINOR,
    floor_minor,
    format_amount,
    half_even_minor,
    parse_amount,
)


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12.30", "CNY", 1230), ("0.01", "CNY", 1), ("7", "CNY", 700), ("1000", "JPY", 1000),
    ("1.234", "KWD", 1234),
])
def test_parses_decimal_strings_into_minor_units(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(("value", "reason"), [
    ("1.234", "minor digits"), ("-1.00", "non-negative"), ("abc", "non-negative"),
    (12.3, "decimal string"), ("1e3", "non-negative"),
])
def test_rejects_what_it_cannot_represent_exactly(value, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse_amount(value, "CNY", "lines[0].amount")


def test_unknown_currency_is_named():
    with pytest.raises(InvalidEvent, match="unknown currency"):
        parse_amount("1.00", "XXX")


@given(st.integers(min_value=0, max_value=10**15))
def test_format_then_parse_round_trips_up_to_the_stated_limit(minor):
    text = format_amount(minor, "CNY")
    if minor <= MAX_LINE_MINOR:
        assert parse_amount(text, "CNY") == minor
    else:
        with pytest.raises(InvalidEvent, match="at most 10000000000.00 CNY"):
            parse_amount(text, "CNY")
    assert parse_amount(text, "CNY", max_minor=10**15) == minor


def test_negative_amounts_print_with_a_sign():
    assert format_amount(-5, "CNY") == "-0.05"


@given(st.fractions(min_value=0, max_value=10**9))
def test_floor_never_exceeds_the_exact_amount(value):
    assert floor_minor(value) <= value < floor_minor(value) + 1


@pytest.mark.parametrize(("value", "expected"), [
    (Fraction(5, 2), 2), (Fraction(7, 2), 4), (Fraction(251, 100), 3), (Fraction(249, 100), 2),
])
def test_half_even_rounds_ties_to_even(value, expected):
    assert half_even_minor(value) == expected


@given(st.fractions(min_value=0, max_value=10**6), st.fractions(min_value=0, max_value=10**6))
def test_both_roundings_are_monotone(a, b):
    low, high = sorted((a, b))
    assert floor_minor(low) <= floor_minor(high)
    assert half_even_minor(low) <= half_even_minor(high)
