"""With every plans v2 rule switched on at random, every split conserves money to the fen, a full
refund gives every party zero, caps and allowances hold, and a plan without v2 keys splits exactly
as the v1 arithmetic does."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.order_terms import OrderTerms
from settlement.plan import parse_plan_text
from settlement.rules import Explanation, RuleLine, allocate_rules
from settlement.splits import Beneficiary, allocate, resolve_beneficiaries
from tests.conftest import DEFAULT_PLAN

PAID_AT = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
SKUS = ["s0", "s1", "s2", "s3", "s4", "s5"]
CATEGORIES = ["food", "electronics", "beauty", "home"]
OPTIONAL_KEYS = {
    "timezone": "timezone: Asia/Shanghai",
    "channels": 'payment_channels: {wechat_pay: "0.006", card: "0.01"}',
    "tiers": ('merchant_tiers: [{from_gmv: "0.00", platform_take_rate: "0.05"}, '
              '{from_gmv: "1000.00", platform_take_rate: "0.04"}]'),
    "fixed": 'fixed_commissions: {s0: ["5.00", "2.00", "0.00"], s1: ["0.33"]}',
    "grades": ('grades: {ordinary: {levels: ["0.10", "0.05", "0.02"]}, senior: {levels: '
               '["0.12", "0.06", "0.02"], upgrade_at_gmv: "1000.00"}}'),
    "ladder": 'ladder: [{from_gmv: "10.00", bonus: "0.01"}, {from_gmv: "500.00", bonus: "0.02"}]',
    "campaigns": ('campaigns: [{name: 双11, from: 2026-11-10T16:00:00Z, to: '
                  '2026-11-11T16:00:00Z, categories: [beauty], bonus: "0.02"}, {name: all, '
                  'from: 2026-11-01T00:00:00Z, to: 2026-12-01T00:00:00Z, bonus: "0.003"}]'),
    "order_caps": 'caps: {order_share: "0.13", per_order: "50.00"}',
    "day_caps": 'caps: {per_promoter_day: "20.00"}',
    "max_levels": "max_levels: 2",
    "agents": 'regional_agents: {share: "0.013"}',
    "overrides": 'promoter_overrides: {P0: "0.17", P1: "0.07"}',
}


@st.composite
def plans(draw):
    keys = draw(st.sets(st.sampled_from(sorted(OPTIONAL_KEYS))))
    if {"order_caps", "day_caps"} <= keys:
        keys = keys - {"day_caps"}
    text = DEFAULT_PLAN + "".join(OPTIONAL_KEYS[k] + "\n" for k in sorted(keys))
    return parse_plan_text(text)[0]


def chain_parent(promoter_id: str) -> str | None:
    nxt = {"P": "Q", "Q": "R", "R": "S"}
    return nxt[promoter_id[0]] + promoter_id[1:] if promoter_id[0] in nxt else None


@st.composite
def orders(draw, plan):
    count = draw(st.integers(1, 5))
    lines = [RuleLine(SKUS[i], draw(st.sampled_from(CATEGORIES)),
                      amount := draw(st.integers(0, 10**8)), amount) for i in range(count)]
    weights = draw(st.lists(st.integers(1, 9), min_size=0, max_size=3))
    shares = {f"P{i}": Fraction(w, sum(weights)) for i, w in enumerate(weights)}
    rules = plan.rules
    max_levels = rules.max_levels if rules is not None else 3
    beneficiaries = resolve_beneficiaries(shares, chain_parent, lambda _: True, max_levels)
    people = sorted({b.promoter_id for b in beneficiaries} | {"G"})
    terms = OrderTerms(
        take=draw(st.sampled_from([None, Fraction(1, 25), Fraction(1, 20)]))
        if rules is not None and rules.tiers else None,
        channel=draw(st.sampled_from([None, "wechat_pay", "card"]))
        if rules is not None and rules.channels else None,
        grades={p: draw(st.sampled_from(["ordinary", "senior", "unlisted"])) for p in people},
        ladder_start={p: Fraction(draw(st.integers(0, 10**5)), draw(st.integers(1, 7)))
                      for p in people},
        allowances={p: draw(st.integers(0, 5_000)) for p in people}
        if rules is not None and rules.caps is not None
        and rules.caps.per_promoter_day_minor is not None else {},
        agent=draw(st.sampled_from([None, "G", "P0"])),
        quantities={"s0": draw(st.integers(1, 4)), "s1": draw(st.integers(1, 1000))})
    return lines, beneficiaries, terms


def remaining(lines, data) -> list[RuleLine]:
    return [RuleLine(ln.sku, ln.category, ln.amount_minor,
                     data.draw(st.integers(0, ln.amount_minor))) for ln in lines]


def conserved(allocation) -> bool:
    return (allocation.platform_minor + allocation.merchant_minor + allocation.provider_minor
            + sum(allocation.promoters.values())) == allocation.net_minor


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_split_conserves_money_and_a_full_refund_is_zero(data):
    plan = data.draw(plans())
    lines, beneficiaries, terms = data.draw(orders(plan))
    paid = allocate_rules(lines, plan, beneficiaries, terms, "m1", PAID_AT)
    assert paid.net_minor == sum(ln.amount_minor for ln in lines)
    assert conserved(paid)
    assert all(amount > 0 for amount in paid.promoters.values())
    after = allocate_rules(remaining(lines, data), plan, beneficiaries, terms, "m1", PAID_AT)
    assert conserved(after)
    nothing = [RuleLine(ln.sku, ln.category, ln.amount_minor, 0) for ln in lines]
    zero = allocate_rules(nothing, plan, beneficiaries, terms, "m1", PAID_AT)
    assert (zero.net_minor, zero.platform_minor, zero.provider_minor, zero.merchant_minor,
            zero.promoters) == (0, 0, 0, 0, {})


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_caps_and_allowances_bound_what_is_paid(data):
    plan = data.draw(plans())
    lines, beneficiaries, terms = data.draw(orders(plan))
    explanation = Explanation("v", 0, 0, None, 0, None, None, 0)
    paid = allocate_rules(lines, plan, beneficiaries, terms, "m1", PAID_AT, explanation)
    caps = plan.rules.caps if plan.rules is not None else None
    total = sum(paid.promoters.values())
    if caps is not None and caps.order_share is not None:
        assert total <= caps.order_share * paid.net_minor
    if caps is not None and caps.per_order_minor is not None:
        assert total <= caps.per_order_minor
    for promoter_id, amount in paid.promoters.items():
        if promoter_id in terms.allowances:
            assert amount <= terms.allowances[promoter_id]
    # The explanation's totals are the amounts booked, and its line parts add up to the exact.
    assert {t.promoter_id: t.rounded_minor for t in explanation.totals
            if t.rounded_minor} == paid.promoters
    for party in explanation.totals:
        parts = [p.exact for p in explanation.parts if p.promoter_id == party.promoter_id]
        assert sum(parts, Fraction(0)) == party.exact


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_plan_without_v2_keys_splits_as_the_v1_arithmetic(data):
    plan = parse_plan_text(DEFAULT_PLAN + data.draw(st.sampled_from(
        ["", OPTIONAL_KEYS["overrides"] + "\n"])))[0]
    assert plan.rules is None
    lines, beneficiaries, _ = data.draw(orders(plan))
    v1 = allocate([(ln.category, ln.amount_minor) for ln in lines], plan, beneficiaries)
    v2 = allocate_rules(lines, plan, beneficiaries, OrderTerms(), "m1", PAID_AT)
    assert (v2.net_minor, v2.platform_minor, v2.merchant_minor, v2.promoters,
            v2.provider_minor) == (v1.net_minor, v1.platform_minor, v1.merchant_minor,
                                   v1.promoters, 0)


def test_beneficiary_levels_beyond_max_levels_are_cut():
    beneficiaries = resolve_beneficiaries({"P0": Fraction(1)}, chain_parent, lambda _: True, 2)
    assert beneficiaries == (Beneficiary("P0", 1, Fraction(1)), Beneficiary("Q0", 2, Fraction(1)))
