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
from settlement.plan_rules import Campaign, PlanRules
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
    # (band from, bonus, attributed amount inside the band)
    ladder: tuple[tuple[int, Fraction, Fraction | int], ...] = ()
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
    campaigns = _active_campaigns(plan, rules, paid_at)
    exact: dict[str, Fraction] = {}
    for beneficiary in beneficiaries:
        amount = _beneficiary_exact(lines, plan, rules, beneficiary, terms, merchant_id,
                                    campaigns, explain)
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


def _active_campaigns(plan: PlanVersion, rules: PlanRules, paid_at: datetime
                      ) -> tuple[tuple[Campaign, int], ...]:
    """The campaigns running at the paid instant, each with its bonus over `rate_scale`."""
    return tuple((c, int(c.bonus * plan.rate_scale)) for c in rules.campaigns
                 if c.start <= paid_at < c.end)


def _beneficiary_exact(lines: Sequence[RuleLine], plan: PlanVersion, rules: PlanRules,
                       beneficiary: Beneficiary, terms: OrderTerms, merchant_id: str,
                       running: tuple[tuple[Campaign, int], ...],
                       explain: Explanation | None) -> Fraction:
    """One beneficiary's exact amount on the order: integer sums over `rate_scale` per line,
    one Fraction at the end (more only for fixed lines and ladder bands of a part share)."""
    promoter_id, level, share = beneficiary.promoter_id, beneficiary.level, beneficiary.share
    grade_name = terms.grades.get(promoter_id)
    grade_scaled = plan.grades_scaled.get(grade_name) if grade_name is not None else None
    override = plan.overrides_scaled.get(promoter_id) if level == 1 else None
    ladder = rules.ladder if level == 1 else ()
    position: Fraction | int = terms.ladder_start.get(promoter_id, 0)
    whole_share = share.denominator == 1  # the common case: attributed amounts stay ints
    if ladder and position + sum(ln.remaining_minor for ln in lines) * share <= ladder[0][0]:
        ladder = ()  # the whole order stays below the first band: no position to follow
    units = 0  # Σ remaining × rate over `scale` (times share at the end)
    ladder_units = 0  # Σ attributed amount in a band × its bonus, over `scale` (whole shares)
    fractional: Fraction | int = 0  # fixed lines (times share), bands of a part share
    for line in lines:
        remaining = line.remaining_minor
        attributed = remaining if whole_share else remaining * share
        fixed = rules.fixed.get(line.sku)
        if fixed is not None:
            part = _fixed_part(line, fixed, level, share, terms)
            fractional += part
            if explain is not None:
                explain.parts.append(LinePart(
                    promoter_id, level, line.sku, line.category, remaining, share, "fixed",
                    None, fixed[level - 1] if level <= len(fixed) else 0,
                    terms.quantities.get(line.sku, 1), grade_name, exact=part))
        else:
            rule, base, rate, campaigns = _line_rate(line, plan, level, override, grade_scaled,
                                                     running, merchant_id)
            units += remaining * rate
            bands: tuple[tuple[int, Fraction, Fraction | int], ...] = ()
            if ladder and position + attributed > ladder[0][0]:
                bands = _bands(ladder, position, position + attributed)
                for start, bonus, inside in bands:
                    if isinstance(inside, int):
                        ladder_units += inside * plan.ladder_scaled[start]
                    else:
                        fractional += inside * bonus
            if explain is not None:
                line_exact = Fraction(remaining * rate * share.numerator,
                                      share.denominator * plan.rate_scale) + sum(
                    (inside * bonus for _, bonus, inside in bands), _ZERO)
                explain.parts.append(LinePart(
                    promoter_id, level, line.sku, line.category, remaining, share, rule,
                    Fraction(base, plan.rate_scale), None, 1, grade_name, campaigns, bands,
                    line_exact))
        if ladder:
            position += attributed  # fixed lines take room in the bands too
    exact = Fraction(units * share.numerator + ladder_units * share.denominator,
                     share.denominator * plan.rate_scale)
    return exact + fractional if fractional else exact


def _fixed_part(line: RuleLine, fixed: tuple[int, ...], level: int, share: Fraction,
                terms: OrderTerms) -> Fraction:
    """Per unit × quantity × share, in proportion to what remains of the line."""
    per_unit = fixed[level - 1] if level <= len(fixed) else 0
    if not line.amount_minor or not per_unit:
        return _ZERO
    quantity = terms.quantities.get(line.sku, 1)
    return Fraction(per_unit * quantity * line.remaining_minor, line.amount_minor) * share


def _line_rate(line: RuleLine, plan: PlanVersion, level: int, override: int | None,
               grade_scaled: tuple[int, ...] | None, running: tuple[tuple[Campaign, int], ...],
               merchant_id: str) -> tuple[str, int, int, tuple[tuple[str, Fraction], ...]]:
    """(rule, base rate, rate with campaign bonuses, campaigns) over `rate_scale`: the
    category's own levels, else the override (level 1), the grade's, the plan's levels."""
    rates = plan.rates_for(line.category)
    if rates.own_levels:
        rule, levels = "category", rates.levels_scaled
    elif override is not None:
        rule, levels = "override", (override,)
    elif grade_scaled is not None:
        rule, levels = "grade", grade_scaled
    else:
        rule, levels = "base", rates.levels_scaled
    base = levels[level - 1] if level <= len(levels) else 0
    if level != 1 or not running:
        return rule, base, base, ()
    matched = [(c, bonus) for c, bonus in running if c.matches_line(line.category, merchant_id)]
    if not matched:
        return rule, base, base, ()
    return (rule, base, base + sum(bonus for _, bonus in matched),
            tuple((c.name, c.bonus) for c, _ in matched))


def _bands(ladder: tuple[tuple[int, Fraction], ...], low: Fraction | int, high: Fraction | int
           ) -> tuple[tuple[int, Fraction, Fraction | int], ...]:
    """The part of [low, high) inside each ladder band (marginal: a band's bonus only there)."""
    found = []
    last = len(ladder) - 1
    for index, (start, bonus) in enumerate(ladder):
        top = high if index == last else min(high, ladder[index + 1][0])
        inside = top - max(low, start)
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
    capped_order = factor != 1
    promoters = {}
    for promoter_id in sorted(exact):
        amount = exact[promoter_id] * factor if capped_order else exact[promoter_id]
        allowance = terms.allowances.get(promoter_id)
        capped = amount if allowance is None or amount <= allowance else Fraction(allowance)
        rounded = capped.numerator // capped.denominator
        if rounded:
            promoters[promoter_id] = rounded
        if explain is not None:
            explain.totals.append(PartyTotal(promoter_id, exact[promoter_id], factor, allowance,
                                             capped, rounded))
    return promoters
