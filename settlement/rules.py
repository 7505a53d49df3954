"""The plans v2 split of one order, exact to the fen, with an explanation of every amount.

Per line and beneficiary p at level L the rate is, first match wins: (1) a fixed commission for
the line's sku (per unit × quantity × share, in proportion to what remains of the line); (2) the
category's own level rate; (3) at level 1, p's override; (4) p's grade's level rate; (5) the plan's
`levels`. Level-1 percentage rates add the ladder bonus (marginal bands over p's month-to-date
attributed GMV, filled in line order) and every matching campaign's bonus. The region's agent
earns `share` of every line. Then caps: the order's total is at most `order_share` × net and
`per_order` (every exact amount scaled by one factor), each beneficiary at most its day allowance.
Each beneficiary's total is rounded down once, the platform fee and the payment fee half-even once,
the merchant keeps the exact remainder (negative only if the plan's fixed commissions make it so).

Rates are integers over the version's `rate_scale`; only fixed lines, ladder bands and caps need
fractions. Everything fixed at payment comes in `OrderTerms`, so a refund recomputes the same way
on the remaining amounts and a full refund gives every party zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from settlement.money import half_even_div
from settlement.order_terms import OrderTerms
from settlement.plan import PlanVersion
from settlement.plan_rules import PlanRules
from settlement.splits import Allocation, Beneficiary

_NO_RULES = PlanRules()
_ZERO = Fraction(0)


class RuleLine:
    """One order line as the rules read it: what remains of it, out of its paid amount."""

    __slots__ = ("sku", "category", "amount_minor", "remaining_minor")

    def __init__(self, sku: str, category: str, amount_minor: int, remaining_minor: int) -> None:
        self.sku, self.category = sku, category
        self.amount_minor, self.remaining_minor = amount_minor, remaining_minor


@dataclass(slots=True)
class LinePart:
    """How one beneficiary's amount on one line was produced (the explanation of a posting)."""

    promoter_id: str
    level: int  # 0 = regional agent
    sku: str
    category: str
    base_minor: int  # the line's remaining amount the rate applies to
    share: Fraction
    rule: str  # fixed, category, override, grade, base or agent
    rate: Fraction | None  # the percentage rate before bonuses (None for a fixed line)
    fixed_per_unit_minor: int | None = None
    quantity: int = 1
    grade: str | None = None
    campaigns: tuple[tuple[str, Fraction], ...] = ()
    ladder: tuple[tuple[int, Fraction, Fraction], ...] = ()  # (band from, bonus, amount in band)
    exact: Fraction = _ZERO


@dataclass(slots=True)
class PartyTotal:
    """A beneficiary's total on the order: exact, after caps and allowance, then rounded down."""

    promoter_id: str
    exact: Fraction
    cap_factor: Fraction
    allowance_minor: int | None
    after_caps: Fraction
    rounded_minor: int


@dataclass(slots=True)
class Explanation:
    """Every amount of an order's current split and how it was produced."""

    plan_version_id: str
    net_minor: int
    platform_minor: int
    take_rate: Fraction | None  # the merchant tier's rate, None when each category's own
    provider_minor: int
    channel: str | None
    channel_rate: Fraction | None
    merchant_minor: int
    parts: list[LinePart] = field(default_factory=list)
    totals: list[PartyTotal] = field(default_factory=list)


def allocate_rules(lines: Sequence[RuleLine], plan: PlanVersion,
                   beneficiaries: Sequence[Beneficiary], terms: OrderTerms, merchant_id: str,
                   paid_at: datetime, explain: Explanation | None = None) -> Allocation:
    """Split what remains of `lines` under `plan` with what was fixed at payment (`terms`)."""
    rules = plan.rules or _NO_RULES
    scale = plan.rate_scale
    net = sum(line.remaining_minor for line in lines)
    tier = None if terms.take is None else int(terms.take * scale)
    platform_scaled = 0
    for line in lines:
        rates = plan.rates_for(line.category)
        take = rates.take_scaled if tier is None or rates.own_take else tier
        platform_scaled += line.remaining_minor * take
    platform = half_even_div(platform_scaled, scale)
    channel_rate = rules.channels.get(terms.channel) if terms.channel is not None else None
    provider = 0 if channel_rate is None else half_even_div(
        net * channel_rate.numerator, channel_rate.denominator)
    exact: dict[str, Fraction] = {}
    for beneficiary in beneficiaries:
        amount = _beneficiary_exact(lines, plan, rules, beneficiary, terms, merchant_id, paid_at,
                                    explain)
        exact[beneficiary.promoter_id] = exact.get(beneficiary.promoter_id, _ZERO) + amount
    if terms.agent is not None and rules.agent_share is not None:
        amount = _agent_exact(lines, rules.agent_share, terms.agent, explain)
        exact[terms.agent] = exact.get(terms.agent, _ZERO) + amount
    promoters = _capped_and_rounded(exact, net, rules, terms, explain)
    merchant = net - platform - provider - sum(promoters.values())
    if explain is not None:
        explain.net_minor, explain.platform_minor, explain.take_rate = net, platform, terms.take
        explain.provider_minor, explain.channel, explain.channel_rate = (
            provider, terms.channel, channel_rate)
        explain.merchant_minor = merchant
    return Allocation(net, platform, merchant, promoters, provider, terms)


def _beneficiary_exact(lines: Sequence[RuleLine], plan: PlanVersion, rules: PlanRules,
                       beneficiary: Beneficiary, terms: OrderTerms, merchant_id: str,
                       paid_at: datetime, explain: Explanation | None) -> Fraction:
    promoter_id, level, share = beneficiary.promoter_id, beneficiary.level, beneficiary.share
    grade_name = terms.grades.get(promoter_id)
    grade_scaled = plan.grades_scaled.get(grade_name) if grade_name is not None else None
    override = plan.overrides_scaled.get(promoter_id) if level == 1 else None
    ladder = rules.ladder if level == 1 else ()
    position = terms.ladder_start.get(promoter_id, _ZERO)
    units = 0  # Σ remaining × rate over `scale` (times share at the end)
    fractional = _ZERO  # fixed lines (times share) and ladder bands (already attributed)
    for line in lines:
        remaining = line.remaining_minor
        fixed = rules.fixed.get(line.sku)
        if fixed is not None:
            per_unit = fixed[level - 1] if level <= len(fixed) else 0
            quantity = terms.quantities.get(line.sku, 1)
            part = (Fraction(per_unit * quantity * remaining, line.amount_minor) * share
                    if line.amount_minor else _ZERO)
            fractional += part
            if ladder:
                position += remaining * share
            if explain is not None:
                explain.parts.append(LinePart(promoter_id, level, line.sku, line.category,
                                              remaining, share, "fixed", None, per_unit,
                                              quantity, grade_name, exact=part))
            continue
        rates = plan.rates_for(line.category)
        if rates.own_levels:
            rule, levels = "category", rates.levels_scaled
        elif override is not None:
            rule, levels = "override", (override,)
        elif grade_scaled is not None:
            rule, levels = "grade", grade_scaled
        else:
            rule, levels = "base", rates.levels_scaled
        rate = levels[level - 1] if level <= len(levels) else 0
        campaigns: tuple[tuple[str, Fraction], ...] = ()
        if level == 1 and rules.campaigns:
            campaigns = tuple((c.name, c.bonus) for c in rules.campaigns
                              if c.matches(line.category, merchant_id, paid_at))
            rate += sum(int(bonus * plan.rate_scale) for _, bonus in campaigns)
        units += remaining * rate
        bands: tuple[tuple[int, Fraction, Fraction], ...] = ()
        if ladder:
            attributed = remaining * share
            bands = _bands(ladder, position, position + attributed)
            fractional += sum((inside * bonus for _, bonus, inside in bands), _ZERO)
            position += attributed
        if explain is not None:
            base_rate = Fraction(levels[level - 1] if level <= len(levels) else 0, plan.rate_scale)
            line_exact = Fraction(remaining * rate * share.numerator,
                                  share.denominator * plan.rate_scale) + sum(
                (inside * bonus for _, bonus, inside in bands), _ZERO)
            explain.parts.append(LinePart(promoter_id, level, line.sku, line.category, remaining,
                                          share, rule, base_rate, None, 1, grade_name, campaigns,
                                          bands, line_exact))
    return Fraction(units * share.numerator, share.denominator * plan.rate_scale) + fractional


def _bands(ladder: tuple[tuple[int, Fraction], ...], low: Fraction, high: Fraction
           ) -> tuple[tuple[int, Fraction, Fraction], ...]:
    """The part of [low, high) inside each ladder band (marginal: a band's bonus only there)."""
    found = []
    for index, (start, bonus) in enumerate(ladder):
        top = high if index + 1 == len(ladder) else min(high, Fraction(ladder[index + 1][0]))
        inside = top - max(low, Fraction(start))
        if inside > 0:
            found.append((start, bonus, inside))
    return tuple(found)


def _agent_exact(lines: Sequence[RuleLine], share: Fraction, agent: str,
                 explain: Explanation | None) -> Fraction:
    net = sum(line.remaining_minor for line in lines)
    if explain is not None:
        for line in lines:
            explain.parts.append(LinePart(agent, 0, line.sku, line.category, line.remaining_minor,
                                          Fraction(1), "agent", share,
                                          exact=line.remaining_minor * share))
    return net * share


def _capped_and_rounded(exact: dict[str, Fraction], net: int, rules: PlanRules,
                        terms: OrderTerms, explain: Explanation | None) -> dict[str, int]:
    """Scale every amount by one factor down to the order's limit, clip each to its day
    allowance, and round each down."""
    factor = Fraction(1)
    caps = rules.caps
    if caps is not None:
        limits = [] if caps.order_share is None else [caps.order_share * net]
        if caps.per_order_minor is not None:
            limits.append(Fraction(caps.per_order_minor))
        total = sum(exact.values(), _ZERO)
        if limits and total > min(limits):
            factor = min(limits) / total
    promoters = {}
    for promoter_id in sorted(exact):
        amount = exact[promoter_id] * factor
        allowance = terms.allowances.get(promoter_id)
        capped = amount if allowance is None or amount <= allowance else Fraction(allowance)
        rounded = capped.numerator // capped.denominator
        if rounded:
            promoters[promoter_id] = rounded
        if explain is not None:
            explain.totals.append(PartyTotal(promoter_id, exact[promoter_id], factor, allowance,
                                             capped, rounded))
    return promoters
