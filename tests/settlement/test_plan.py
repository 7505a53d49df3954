"""Plans parse into exact versions; anything that could overpay or break compliance is refused."""

from __future__ import annotations

from fractions import Fraction

import pytest

from settlement.errors import PlanError
from settlement.plan import PlanBook, parse_plan_text
from tests.conftest import DEFAULT_PLAN
from tests.settlement.helpers import at


def test_the_example_plan_parses_exactly():
    version, = parse_plan_text(DEFAULT_PLAN)
    assert version.default_rates.levels == (Fraction(1, 10), Fraction(1, 20), Fraction(1, 50))
    assert version.rates_for("electronics").platform_take_rate == Fraction(1, 50)
    assert version.rates_for("food").platform_take_rate == Fraction(1, 20)
    assert version.payout_minimum_minor == 10_000 and version.review_limit_minor == 1_000_000
    assert version.attribution.first == Fraction(3, 5)


@pytest.mark.parametrize(("change", "message"), [
    (('levels: ["0.10", "0.05", "0.02"]', 'levels: ["0.1", "0.05", "0.02", "0.01"]'), "at most 3"),
    (('platform_take_rate: "0.05"', 'platform_take_rate: "0.95"'), "exceed 1"),
    (('platform_take_rate: "0.05"', "platform_take_rate: 0.05"), "platform_take_rate"),
    (("hold_days: 7", "hold_days: -1"), "hold_days"),
    (("currency: CNY", "currency: XXX"), "unknown currency"),
    (('payout_minimum: "100.00"', 'payout_minimum: "1.001"'), "minor digits"),
    (("lookback_days: 30", "lookback_days: 30, extra: 1"), "extra"),
    (("effective_from: 2026-01-01T00:00:00Z", "effective_from: 2026-01-01T00:00:00"), "offset"),
])
def test_invalid_plans_are_refused_naming_the_field(change, message):
    text = DEFAULT_PLAN.replace(*change)
    assert text != DEFAULT_PLAN
    with pytest.raises(PlanError, match=message):
        parse_plan_text(text)


def test_versions_are_chosen_by_payment_time():
    later = DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z").replace(
        '"0.10", "0.05"', '"0.12", "0.05"')
    book = PlanBook(parse_plan_text(DEFAULT_PLAN + "\n---\n" + later))
    assert book.version_at(at("2026-05-31T23:59:59Z")).default_rates.levels[0] == Fraction(1, 10)
    assert book.version_at(at("2026-06-01T00:00:00Z")).default_rates.levels[0] == Fraction(3, 25)
    with pytest.raises(PlanError, match="no plan version"):
        book.version_at(at("2025-12-31T00:00:00Z"))


def test_a_version_given_twice_with_other_content_is_an_error():
    changed = DEFAULT_PLAN.replace("hold_days: 7", "hold_days: 8")
    with pytest.raises(PlanError, match="given twice"):
        parse_plan_text(DEFAULT_PLAN + "\n---\n" + changed)
