"""Splitting an order between promoters, the platform and the merchant, exactly, to the fen.

Each attributed promoter p with share s earns line × L1 × s, p's parent line × L2 × s and the
grandparent line × L3 × s. Sums are exact fractions; each promoter's total for the order is rounded
down once, the platform fee half-even once, and the merchant takes the exact remainder, so every
order balances. Shares a missing or suspended ancestor would have had stay with the merchant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from settlement.errors import LedgerInvariantBroken
from settlement.money import half_even_div
from settlement.order_terms import OrderTerms
from settlement.plan import MAX_LEVELS, PlanVersion


class Beneficiary(NamedTuple):
    """A promoter paid at `level` (1 = attributed, 2 = its parent, 3 = grandparent) for `share`
    (a tuple: a few are built per order)."""

    promoter_id: str
    level: int
    share: Fraction


@dataclass(frozen=True, slots=True)
class Allocation:
    """Who gets what of an order's net amount, in minor units; the parts sum to `net_minor`."""

    net_minor: int
    platform_minor: int
    merchant_minor: int
    promoters: dict[str, int]
    provider_minor: int = 0  # the payment channel's fee (plans v2), borne by the merchant
    terms: OrderTerms | None = None  # what a plans v2 order was fixed with at payment

    @staticmethod
    def empty() -> Allocation:
        return Allocation(0, 0, 0, {})


def resolve_beneficiaries(
    shares: Mapping[str, Fraction],
    parent_of: Callable[[str], str | None],
    earns: Callable[[str], bool],
    max_levels: int = MAX_LEVELS,
) -> tuple[Beneficiary, ...]:
    """Walk up to MAX_LEVELS ancestors from each attributed promoter, keeping those who may earn.

    `earns` is false for a suspended promoter and for the buyer themself; their part stays with
    the merchant. The result is fixed when the order is paid and reused for every refund.
    `max_levels` (a plan's compliance profile) cuts the chain: cut levels stay with the merchant.
    """
    found: list[Beneficiary] = []
    for promoter_id, share in shares.items():
        current: str | None = promoter_id
        for level in range(1, max_levels + 1):
            if current is None:
                break
            if earns(current):
                found.append(Beneficiary(current, level, share))
            current = parent_of(current)
    return tuple(sorted(found, key=lambda b: (b.promoter_id, b.level)))


def allocate(
    lines: Iterable[tuple[str, int]], plan: PlanVersion, beneficiaries: Iterable[Beneficiary]
) -> Allocation:
    """Split (category, net amount in minor units) lines under `plan` among `beneficiaries`.

    Exact integer arithmetic: every rate is an integer over `plan.rate_scale`, every share a
    numerator over a denominator, and each total is divided (rounded) once at the end.
    """
    net_by_category: dict[str, int] = {}
    for category, amount in lines:
        net_by_category[category] = net_by_category.get(category, 0) + amount
    net = sum(net_by_category.values())
    scale = plan.rate_scale
    level_base = [0] * (MAX_LEVELS + 1)  # Σ amount × rate, over `scale`
    platform_scaled = 0
    plain_net = plain_base = 0  # lines an override may price: no category `levels` of their own
    for category, amount in net_by_category.items():
        rates = plan.rates_for(category)
        platform_scaled += amount * rates.take_scaled
        for index, rate in enumerate(rates.levels_scaled, start=1):
            level_base[index] += amount * rate
        if not rates.own_levels:
            plain_net += amount
            plain_base += amount * rates.levels_scaled[0]
    overrides = plan.overrides_scaled
    exact: dict[str, tuple[int, int]] = {}  # promoter -> (numerator, denominator), over `scale`
    for beneficiary in beneficiaries:
        share = beneficiary.share
        base = level_base[beneficiary.level]
        if overrides and beneficiary.level == 1 and beneficiary.promoter_id in overrides:
            base += plain_net * overrides[beneficiary.promoter_id] - plain_base
        numerator = base * share.numerator
        denominator = share.denominator
        known = exact.get(beneficiary.promoter_id)
        if known is not None:
            if known[1] == denominator:
                numerator, denominator = known[0] + numerator, denominator
            else:
                numerator = known[0] * denominator + numerator * known[1]
                denominator = known[1] * denominator
        exact[beneficiary.promoter_id] = (numerator, denominator)
    promoters = {}
    for promoter_id in sorted(exact):
        numerator, denominator = exact[promoter_id]
        amount = numerator // (denominator * scale)  # rounded down
        if amount:
            promoters[promoter_id] = amount
    platform = half_even_div(platform_scaled, scale)
    merchant = net - platform - sum(promoters.values())
    if merchant < 0:
        raise LedgerInvariantBroken(f"merchant share would be negative ({merchant}) for net {net}")
    return Allocation(net, platform, merchant, promoters)

