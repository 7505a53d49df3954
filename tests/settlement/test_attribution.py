"""Each attribution model credits the right promoters, in shares that always sum to one."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from settlement.attribution import TouchRecord, attribute
from settlement.plan import AttributionRule
from tests.settlement.helpers import at

PAID = at("2026-03-31T12:00:00Z")


def touches(*spec: tuple[str, float]) -> list[TouchRecord]:
    """(promoter, days before payment) pairs."""
    return [TouchRecord(p, PAID - timedelta(days=d), i) for i, (p, d) in enumerate(spec)]


def rule(model: str, **kw) -> AttributionRule:
    return AttributionRule(model, kw.pop("lookback_days", 30), **kw)


def test_first_and_last_click():
    seen = touches(("A", 5), ("B", 3), ("C", 1))
    assert attribute(seen, PAID, rule("first_click")) == {"A": 1}
    assert attribute(seen, PAID, rule("last_click")) == {"C": 1}


def test_linear_gives_equal_shares_and_sums_repeat_touches():
    seen = touches(("A", 5), ("B", 3), ("A", 1))
    assert attribute(seen, PAID, rule("linear")) == {"A": Fraction(2, 3), "B": Fraction(1, 3)}


def test_position_model_of_the_brief():
    mixed = rule("position", first=Fraction(3, 5), last=Fraction(2, 5))
    assert attribute(touches(("A", 2)), PAID, mixed) == {"A": 1}
    assert attribute(touches(("A", 2), ("B", 1)), PAID, mixed) == {"A": Fraction(3, 5),
                                                                   "B": Fraction(2, 5)}
    u_shape = rule("position", first=Fraction(2, 5), last=Fraction(2, 5))
    assert attribute(touches(("A", 2), ("B", 1)), PAID, u_shape) == {"A": Fraction(1, 2),
                                                                     "B": Fraction(1, 2)}
    assert attribute(touches(("A", 4), ("B", 3), ("C", 2), ("D", 1)), PAID, u_shape) == {
        "A": Fraction(2, 5), "B": Fraction(1, 10), "C": Fraction(1, 10), "D": Fraction(2, 5)}


def test_window_excludes_its_start_and_includes_payment_time():
    seen = touches(("old", 30), ("edge", 0))
    assert attribute(seen, PAID, rule("first_click")) == {"edge": 1}


def test_binding_credits_only_when_no_touch_counts():
    assert attribute(touches(("A", 40)), PAID, rule("linear"), bound_promoter="Z") == {"Z": 1}
    assert attribute(touches(("A", 4)), PAID, rule("linear"), bound_promoter="Z") == {"A": 1}
    assert attribute([], PAID, rule("linear")) == {}


def test_time_decay_halves_weight_each_half_life():
    shares = attribute(touches(("A", 7), ("B", 0)), PAID,
                       rule("time_decay", half_life_days=Fraction(7)))
    assert shares["B"] == 2 * shares["A"]
    assert sum(shares.values()) == 1


@given(
    st.lists(st.tuples(st.sampled_from("ABCDE"), st.floats(0, 29.9)), min_size=1, max_size=12),
    st.sampled_from(["first_click", "last_click", "linear", "time_decay", "position"]),
)
def test_shares_always_sum_to_exactly_one(spec, model):
    shares = attribute(touches(*spec), PAID, rule(model, half_life_days=Fraction(3),
                                                  first=Fraction(3, 10), last=Fraction(1, 2)))
    assert sum(shares.values()) == 1
    assert all(share > 0 for share in shares.values())
