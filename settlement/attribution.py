"""Attribution: which promoters a sale is credited to, and in what shares.

Pure functions over the customer's touches. Only touches in the window
(paid_at − lookback, paid_at] count; shares are exact fractions that sum to one (or the result is
empty). Attribution is fixed when the order is paid: later touches never move it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Context, Decimal
from fractions import Fraction
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from settlement.plan import AttributionRule

_DECIMAL = Context(prec=28)  # time_decay weights are Decimal at 28 significant digits
_MICROS_PER_DAY = Decimal(86_400_000_000)
_ONE = Fraction(1)
_TIME_ORDER = attrgetter("ts", "seq")  # touches of equal ts in the order they were recorded


class TouchRecord(NamedTuple):
    """A click or registration through a promoter's link; `seq` orders touches of equal ts (a
    tuple: one is built per touch, and per stored touch read)."""

    promoter_id: str
    ts: datetime
    seq: int


def touches_in_window(
    touches: Sequence[TouchRecord], paid_at: datetime, lookback_days: int
) -> list[TouchRecord]:
    start = paid_at - timedelta(days=lookback_days)
    return sorted([t for t in touches if start < t.ts <= paid_at], key=_TIME_ORDER)


def attribute(
    touches: Sequence[TouchRecord],
    paid_at: datetime,
    rule: AttributionRule,
    bound_promoter: str | None = None,
) -> dict[str, Fraction]:
    """Each credited promoter's share; a bound promoter takes all when no touch counts."""
    window = touches_in_window(touches, paid_at, rule.lookback_days)
    if not window:
        return {bound_promoter: _ONE} if bound_promoter else {}
    if len(window) == 1:
        return {window[0].promoter_id: _ONE}
    weights = _weights(window, paid_at, rule)
    shares: dict[str, Fraction] = {}
    for touch, weight in zip(window, weights, strict=True):
        if weight:
            known = shares.get(touch.promoter_id)  # a sum only for a promoter touched twice
            shares[touch.promoter_id] = weight if known is None else known + weight
    return dict(sorted(shares.items()))


def _weights(window: list[TouchRecord], paid_at: datetime, rule: AttributionRule) -> list[Fraction]:
    count = len(window)
    if count == 1:
        return [Fraction(1)]
    if rule.model == "first_click":
        return [Fraction(1)] + [Fraction(0)] * (count - 1)
    if rule.model == "last_click":
        return [Fraction(0)] * (count - 1) + [Fraction(1)]
    if rule.model == "linear":
        return [Fraction(1, count)] * count
    if rule.model == "position":
        return list(_position_weights(count, rule.first, rule.last))
    if rule.model == "time_decay":
        return _time_decay_weights(window, paid_at, rule.half_life_days)
    raise ValueError(f"unknown attribution model {rule.model!r}")


@lru_cache(maxsize=256)
def _position_weights(count: int, first: Fraction, last: Fraction) -> list[Fraction]:
    """First and last keep their shares; middle touches split the rest equally.

    With no middle touch the middle share is handed to first and last in proportion to their
    weights, so two touches under 0.6/0.4 split 0.6/0.4 and under 0.4/0.4 split 0.5/0.5.
    """
    if count == 2:
        return [first / (first + last), last / (first + last)]
    middle = (1 - first - last) / (count - 2)
    return [first] + [middle] * (count - 2) + [last]


def _time_decay_weights(
    window: list[TouchRecord], paid_at: datetime, half_life_days: Fraction
) -> list[Fraction]:
    """Weight 2^(−age/half-life), computed in 28-digit Decimal, then normalised exactly."""
    half_life = _DECIMAL.divide(Decimal(half_life_days.numerator), half_life_days.denominator)
    raw = []
    for touch in window:
        age_days = _DECIMAL.divide(Decimal((paid_at - touch.ts) // timedelta(microseconds=1)),
                                   _MICROS_PER_DAY)
        raw.append(_DECIMAL.power(Decimal(2), _DECIMAL.minus(_DECIMAL.divide(age_days, half_life))))
    exact = [Fraction(weight) for weight in raw]
    total = sum(exact, Fraction(0))
    return [weight / total for weight in exact]
