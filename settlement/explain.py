"""How each amount of an order was produced, recomputed from what the order stored at payment.

An order keeps its lines, beneficiaries (shares and chains) and, under plans v2, its terms (tier
take, channel, grades, ladder start, allowances, agent, quantities); with the plan version it was
paid under, the split is recomputed by the same function that booked it (`rules.allocate_rules`,
which splits a v1 order to the fen as `splits.allocate` does) and every step is recorded. The
result is checked against the stored allocation: an explanation that disagreed with the books
would be worse than none. `describe` puts it in words for finance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from settlement.errors import LedgerInvariantBroken
from settlement.money import MINOR_DIGITS, format_amount
from settlement.order_terms import OrderTerms
from settlement.plan import PlanVersion
from settlement.promoter_terms import GuaranteeMonth
from settlement.rules import Explanation, LinePart, PartyTotal, RuleLine, allocate_rules
from settlement.splits import Allocation, Beneficiary

_RULE_WORDS = {
    "fixed": "fixed commission for the sku", "category": "the category's own level rate",
    "override": "the promoter's override", "grade": "the rate of grade",
    "base": "the plan's level rate", "agent": "regional agent share",
}


@dataclass(frozen=True, slots=True)
class PostingLine:
    """One posting of one of the order's journal entries."""

    entry_id: str
    kind: str
    occurred_at: datetime
    account_kind: str
    owner_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class OrderExplanation:
    order_id: str
    merchant_id: str
    currency: str
    paid_at: datetime
    plan_version_id: str
    split: Explanation  # the current split (after refunds so far), step by step
    postings: tuple[PostingLine, ...]  # every posting booked for the order, in entry order


def explain_split(lines: list[list[Any]], beneficiaries: tuple[Beneficiary, ...],
                  allocation: Allocation, plan: PlanVersion, merchant_id: str,
                  paid_at: datetime) -> Explanation:
    """Recompute an order's current split with every step recorded; it must equal the books."""
    rule_lines = [RuleLine(sku, category, amount, amount - refunded)
                  for sku, category, amount, refunded in lines]
    explanation = Explanation(plan.version_id, 0, 0, None, 0, None, None, 0)
    terms = allocation.terms if allocation.terms is not None else OrderTerms()
    again = allocate_rules(rule_lines, plan, beneficiaries, terms, merchant_id, paid_at,
                           explanation)
    booked = (allocation.net_minor, allocation.platform_minor, allocation.merchant_minor,
              allocation.provider_minor, allocation.promoters)
    if (again.net_minor, again.platform_minor, again.merchant_minor, again.provider_minor,
            again.promoters) != booked:
        raise LedgerInvariantBroken(f"the recomputed split {again} differs from the booked "
                                    f"{allocation}")
    return explanation


def _pct(rate: Fraction) -> str:
    value = rate * 100
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return f"{text}%" if Fraction(text) == value else f"{value}%"


def _part_words(part: LinePart, currency: str) -> str:
    where = f"line {part.sku} ({part.category}), base {format_amount(part.base_minor, currency)}"
    share = "" if part.share == 1 else f" x share {part.share}"
    if part.rule == "fixed":
        how = (f"fixed {format_amount(part.fixed_per_unit_minor or 0, currency)} per unit x "
               f"{part.quantity} unit(s), in proportion to what remains{share}")
    else:
        rule = _RULE_WORDS[part.rule] + (f" {part.grade}" if part.rule == "grade" else "")
        how = f"{_pct(part.rate or Fraction(0))} ({rule}){share}"
        for name, bonus in part.campaigns:
            how += f" + campaign {name} {_pct(bonus)}"
        for start, bonus, inside in part.ladder:
            how += (f" + ladder band from {format_amount(start, currency)}: "
                    f"{_exact(inside, currency)} inside x {_pct(bonus)}")
    role = "regional agent" if part.level == 0 else f"level {part.level}"
    return f"  {role}, {where}: {how} = {_exact(part.exact, currency)}"


def _exact(value: Fraction | int, currency: str) -> str:
    """An exact amount in major units: every digit when it has at most eight beyond the minor
    unit ("0.0267"), else the minor units cut off with the exact fraction beside them."""
    value = Fraction(value)
    if value.denominator == 1:
        return format_amount(value.numerator, currency)
    for extra in range(1, 9):
        scaled = value * 10**extra
        if scaled.denominator == 1:
            shift = MINOR_DIGITS.get(currency, 2) + extra
            text = f"{abs(scaled.numerator):0{shift + 1}d}"
            sign = "-" if scaled.numerator < 0 else ""
            return f"{sign}{text[:-shift]}.{text[-shift:]}".rstrip("0")
    return (f"{format_amount(value.numerator // value.denominator, currency)}... (exactly "
            f"{value.numerator}/{value.denominator} minor units)")


def _total_words(total: PartyTotal, currency: str) -> str:
    words = f"  total {_exact(total.exact, currency)}"
    if total.cap_factor != 1:
        words += (f"; order cap scales every beneficiary by {total.cap_factor}: "
                  f"{_exact(total.exact * total.cap_factor, currency)}")
    if total.allowance_minor is not None:
        words += (f"; day allowance {format_amount(total.allowance_minor, currency)} "
                  f"(fixed at payment): {_exact(total.after_caps, currency)}")
    return words + f"; rounded down: {format_amount(total.rounded_minor, currency)}"


def describe(order: OrderExplanation) -> list[str]:
    """The explanation in words, one line each: per beneficiary and line, then the parties."""
    split, currency = order.split, order.currency
    lines = [f"order {order.order_id} of merchant {order.merchant_id}, paid "
             f"{order.paid_at.isoformat()}, settled by plan version {order.plan_version_id}",
             f"net amount now {format_amount(split.net_minor, currency)} {currency}"]
    grades = {p.promoter_id: p.grade for p in split.parts if p.grade is not None}
    for total in split.totals:
        grade = f" (grade {grades[total.promoter_id]})" if total.promoter_id in grades else ""
        lines.append(f"promoter {total.promoter_id}{grade}:")
        lines += [_part_words(p, currency) for p in split.parts
                  if p.promoter_id == total.promoter_id]
        lines.append(_total_words(total, currency))
    take = ("each category's take rate" if split.take_rate is None
            else f"merchant tier take {_pct(split.take_rate)} (categories with their own take "
                 "keep it)")
    lines.append(f"platform: {take}, rounded half-even once: "
                 f"{format_amount(split.platform_minor, currency)}")
    if split.channel is not None and split.channel_rate is not None:
        lines.append(f"payment provider {split.channel}: {_pct(split.channel_rate)} of the net, "
                     f"half-even: {format_amount(split.provider_minor, currency)} (borne by the "
                     "merchant)")
    lines.append(f"merchant keeps the exact remainder: "
                 f"{format_amount(split.merchant_minor, currency)}")
    lines.append("postings:")
    for posting in order.postings:
        side = "Dr" if posting.amount_minor > 0 else "Cr"
        lines.append(f"  {posting.occurred_at.isoformat()} {posting.kind:<9} {side} "
                     f"{posting.account_kind}/{posting.owner_id} "
                     f"{format_amount(abs(posting.amount_minor), currency)}")
    return lines


def describe_guarantee(promoter_id: str, months: Sequence[GuaranteeMonth],
                       currency: str) -> list[str]:
    """A promoter's posted guarantee months in words: the floor, the month's level-1
    commission when it was posted, and the top-up booked (Dr platform revenue / Cr available)."""
    if not months:
        return [f"promoter {promoter_id}: no guaranteed month has been posted"]
    first = months[0]
    floor = format_amount(first.per_month_minor, currency)
    lines = [f"promoter {promoter_id}: guarantee of {floor} {currency} a month, from plan "
             f"version {first.version_id}"]
    for month in months:
        words = (f"  {month.month}: level-1 commission when posted "
                 f"{format_amount(month.commission_minor, currency)}, floor "
                 f"{format_amount(month.per_month_minor, currency)}: ")
        if month.topup_minor == 0:
            words += "no top-up"
        else:
            words += (f"top-up {format_amount(month.topup_minor, currency)} (entry "
                      f"{month.entry_id}: Dr platform_revenue / Cr promoter_available)")
        lines.append(words)
    return lines
