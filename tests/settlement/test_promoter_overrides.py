"""A promoter override is that promoter's level-1 base rate: a category's own levels win over
it, it wins over the plan's `levels`, it never touches levels 2-3, and a plan without it is
unchanged."""

from __future__ import annotations

from fractions import Fraction

import pytest

from settlement.errors import PlanError
from settlement.plan import PlanBook, parse_plan_text
from settlement.splits import Allocation, allocate, resolve_beneficiaries
from tests.conftest import DEFAULT_PLAN
from tests.settlement.helpers import balances, promoter, settle

BASE = parse_plan_text(DEFAULT_PLAN)[0]
WITH_OVERRIDE = DEFAULT_PLAN + 'promoter_overrides: {P0: "0.12", Q0: "0.50"}\n'
PLAN = parse_plan_text(WITH_OVERRIDE)[0]


def chain_parent(promoter_id: str) -> str | None:
    """P0 -> Q0 -> R0 (and P1 -> Q1 -> R1)."""
    nxt = {"P": "Q", "Q": "R"}
    return nxt[promoter_id[0]] + promoter_id[1:] if promoter_id[0] in nxt else None


def split(plan, lines, shares) -> Allocation:
    return allocate(lines, plan, resolve_beneficiaries(shares, chain_parent, lambda _: True))


def test_worked_example_override_prices_plain_lines_at_level_one():
    # Order: food 99.99 (plain: no category levels), electronics 50.00 (own levels 3%/1%/0%).
    # P0 is attributed (share 1), Q0 its parent, R0 its grandparent.
    # P0, L1: food 9999 × 0.12 (override) = 1199.88; electronics 5000 × 0.03 (category wins
    #         over the override) = 150.00; total 1349.88 -> rounded down 1349
    # Q0, L2: its own override (0.50) is level-1 only: 9999 × 0.05 + 5000 × 0.01
    #         = 499.95 + 50 = 549.95 -> 549
    # R0, L3: 9999 × 0.02 + 5000 × 0 = 199.98 -> 199
    # platform: 9999 × 0.05 + 5000 × 0.02 = 599.95 -> half-even 600
    # merchant: 14999 − 600 − 1349 − 549 − 199 = 12302
    allocation = split(PLAN, [("food", 9_999), ("electronics", 5_000)], {"P0": Fraction(1)})
    assert allocation == Allocation(14_999, 600, 12_302, {"P0": 1349, "Q0": 549, "R0": 199})
    # Without the override P0 earns 999.9 + 150 = 1149.9 -> 1149; everyone else is the same.
    plain = split(BASE, [("food", 9_999), ("electronics", 5_000)], {"P0": Fraction(1)})
    assert plain.promoters == {"P0": 1149, "Q0": 549, "R0": 199}


def test_worked_example_override_follows_the_share():
    # P0 (override 0.12) has 3/5 of the sale, P1 (no override) 2/5; one food line of 100.00.
    # P0: 10000 × 0.12 × 3/5 = 720;  P1: 10000 × 0.10 × 2/5 = 400
    # Q0: 10000 × 0.05 × 3/5 = 300;  Q1: 10000 × 0.05 × 2/5 = 200
    # R0: 10000 × 0.02 × 3/5 = 120;  R1: 10000 × 0.02 × 2/5 = 80
    # platform 500; merchant 10000 − 500 − 1820 = 7680
    allocation = split(PLAN, [("food", 10_000)], {"P0": Fraction(3, 5), "P1": Fraction(2, 5)})
    assert allocation.promoters == {"P0": 720, "P1": 400, "Q0": 300, "Q1": 200, "R0": 120,
                                    "R1": 80}
    assert allocation.merchant_minor == 7_680


def test_a_plan_without_overrides_keeps_its_content_hash():
    # The hash of DEFAULT_PLAN as the code before overrides computed it: stored versions match.
    assert BASE.content_hash == "9d7cae2d4345596e3032a4c520156b2bcded308c6f269e5ca260d0088caac97d"
    assert "promoter_overrides" not in BASE.document
    assert BASE.overrides_scaled == {}
    assert PLAN.document["promoter_overrides"] == {"P0": "0.12", "Q0": "0.50"}


@pytest.mark.parametrize(("overrides", "message"), [
    ('{P0: "0.94"}', r"promoter_overrides\.P0: 0\.94 plus the platform take"),
    ('{P0: "1.5"}', r"promoter_overrides\.P0: rate 1\.5 must lie between 0 and 1"),
    ('{P0: "abc"}', r"promoter_overrides\.P0: 'abc' is not a decimal"),
    ("{P0: 0.12}", r"promoter_overrides\.P0: 0\.12 was read as a YAML number"),
])
def test_invalid_overrides_are_refused_naming_the_field(overrides, message):
    with pytest.raises(PlanError, match=message):
        parse_plan_text(DEFAULT_PLAN + f"promoter_overrides: {overrides}\n")


def test_an_override_at_the_limit_of_its_line_is_accepted():
    # 0.93 + take 0.05 + levels 2-3 (0.05 + 0.02) = 1.05 > 1 refused; 0.88 + 0.12 = 1.00 is fine.
    version = parse_plan_text(DEFAULT_PLAN + 'promoter_overrides: {P0: "0.88"}\n')[0]
    assert version.overrides_scaled["P0"] * 100 == 88 * version.rate_scale


def test_overrides_settle_through_the_books(books, ev):
    plans = PlanBook(parse_plan_text(WITH_OVERRIDE))
    events = [ev.join("2026-03-01T08:00:00Z", "P0"),
              ev.touch("2026-03-02T10:00:00Z", "x", "P0"),
              ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "100.00"))]
    settle(books, plans, events)
    assert promoter(books, "P0")["pending"] == "12.00"  # 100.00 × 0.12
    assert balances(books)["merchants"]["m1"]["payable"] == "83.00"  # 100 − 5.00 − 12.00
