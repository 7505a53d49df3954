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

from settlement.errors import LedgerInvariantBroken
from settlement.money import floor_minor, half_even_minor
from settlement.plan import MAX_LEVELS, PlanVersion


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """A promoter paid at `level` (1 = attributed, 2 = its parent, 3 = grandparent) for `share`."""

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

    @staticmethod
    def empty() -> Allocation:
        return Allocation(0, 0, 0, {})


def resolve_beneficiaries(
    shares: Mapping[str, Fraction],
    parent_of: Callable[[str], str | None],
    earns: Callable[[str], bool],
) -> tuple[Beneficiary, ...]:
    """Walk up to MAX_LEVELS ancestors from each attributed promoter, keeping those who may earn.

    `earns` is false for a suspended promoter and for the buyer themself; their part stays with
    the merchant. The result is fixed when the order is paid and reused for every refund.
    """
    found: list[Beneficiary] = []
    for promoter_id, share in shares.items():
        current: str | None = promoter_id
        for level in range(1, MAX_LEVELS + 1):
            if current is None:
                break
            if earns(current):
                found.append(Beneficiary(current, level, share))
            current = parent_of(current)
    return tuple(sorted(found, key=lambda b: (b.promoter_id, b.level)))


def allocate(
    lines: Iterable[tuple[str, int]], plan: PlanVersion, beneficiaries: Iterable[Beneficiary]
) -> Allocation:
    """Split (category, net amount in minor units) lines under `plan` among `beneficiaries`."""
    net_by_category: dict[str, int] = {}
    for category, amount in lines:
        net_by_category[category] = net_by_category.get(category, 0) + amount
    net = sum(net_by_category.values())
    level_base = [Fraction(0)] * (MAX_LEVELS + 1)
    platform_exact = Fraction(0)
    for category, amount in net_by_category.items():
        rates = plan.rates_for(category)
        platform_exact += amount * rates.platform_take_rate
        for index, rate in enumerate(rates.levels, start=1):
            level_base[index] += amount * rate
    exact: dict[str, Fraction] = {}
    for beneficiary in beneficiaries:
        earned = level_base[beneficiary.level] * beneficiary.share
        exact[beneficiary.promoter_id] = exact.get(beneficiary.promoter_id, Fraction(0)) + earned
    promoters = {pid: floor_minor(value) for pid, value in sorted(exact.items())}
    promoters = {pid: amount for pid, amount in promoters.items() if amount}
    platform = half_even_minor(platform_exact)
    merchant = net - platform - sum(promoters.values())
    if merchant < 0:
        raise LedgerInvariantBroken(f"merchant share would be negative ({merchant}) for net {net}")
    return Allocation(net, platform, merchant, promoters)
