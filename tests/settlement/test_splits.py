"""Splits conserve money to the fen, never pay beyond three levels, and only shrink on refunds."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from settlement.plan import parse_plan_text
from settlement.splits import Beneficiary, allocate, resolve_beneficiaries
from tests.conftest import DEFAULT_PLAN

PLAN = parse_plan_text(DEFAULT_PLAN)[0]
lines_strategy = st.lists(
    st.tuples(st.sampled_from(["food", "electronics", "home"]),
              st.integers(min_value=0, max_value=10**9)), min_size=1, max_size=6)
shares_strategy = st.lists(st.integers(min_value=1, max_value=20), min_size=0, max_size=5).map(
    lambda weights: {f"P{i}": Fraction(w, sum(weights)) for i, w in enumerate(weights)})


def chain_parent(promoter_id: str) -> str | None:
    """P0 -> Q0 -> R0 -> S0 -> T0: a chain deeper than three levels."""
    nxt = {"P": "Q", "Q": "R", "R": "S", "S": "T"}
    return nxt[promoter_id[0]] + promoter_id[1:] if promoter_id[0] in nxt else None


@given(lines_strategy, shares_strategy)
def test_every_order_balances_to_the_fen(lines, shares):
    beneficiaries = resolve_beneficiaries(shares, chain_parent, lambda _: True)
    allocation = allocate(lines, PLAN, beneficiaries)
    net = sum(amount for _, amount in lines)
    assert allocation.net_minor == net
    assert allocation.platform_minor + allocation.merchant_minor + sum(
        allocation.promoters.values()) == net
    assert allocation.merchant_minor >= 0
    assert all(amount > 0 for amount in allocation.promoters.values())


@given(shares_strategy)
def test_commission_never_reaches_a_fourth_level(shares):
    beneficiaries = resolve_beneficiaries(shares, chain_parent, lambda _: True)
    assert {b.level for b in beneficiaries} <= {1, 2, 3}
    assert not any(b.promoter_id.startswith(("S", "T")) for b in beneficiaries)


@given(lines_strategy, shares_strategy)
def test_promoters_get_the_exact_amount_rounded_down(lines, shares):
    beneficiaries = resolve_beneficiaries(shares, chain_parent, lambda _: True)
    allocation = allocate(lines, PLAN, beneficiaries)
    for promoter_id, amount in allocation.promoters.items():
        exact = sum(
            (Fraction(amount_) * PLAN.rates_for(cat).levels[b.level - 1] * b.share
             for b in beneficiaries if b.promoter_id == promoter_id for cat, amount_ in lines),
            Fraction(0))
        assert amount <= exact < amount + 1


@given(lines_strategy, shares_strategy, st.data())
def test_a_refund_never_raises_a_promoter_or_the_platform(lines, shares, data):
    beneficiaries = resolve_beneficiaries(shares, chain_parent, lambda _: True)
    before = allocate(lines, PLAN, beneficiaries)
    remaining = [(cat, data.draw(st.integers(0, amount))) for cat, amount in lines]
    after = allocate(remaining, PLAN, beneficiaries)
    assert after.platform_minor <= before.platform_minor
    for promoter_id, amount in after.promoters.items():
        assert amount <= before.promoters[promoter_id]
    assert allocate([(cat, 0) for cat, _ in lines], PLAN, beneficiaries).promoters == {}


def test_excluded_promoters_leave_their_share_with_the_merchant():
    shares = {"P0": Fraction(1)}
    everyone = allocate([("food", 10_000)], PLAN,
                        resolve_beneficiaries(shares, chain_parent, lambda _: True))
    without_q = allocate([("food", 10_000)], PLAN,
                         resolve_beneficiaries(shares, chain_parent, lambda p: p != "Q0"))
    assert everyone.promoters == {"P0": 1000, "Q0": 500, "R0": 200}
    assert without_q.promoters == {"P0": 1000, "R0": 200}
    assert without_q.merchant_minor == everyone.merchant_minor + 500
    assert Beneficiary("P0", 1, Fraction(1)) in resolve_beneficiaries(shares, chain_parent,
                                                                      lambda _: True)
