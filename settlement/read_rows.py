"""The rows the read model hands out (`settlement.read_model` re-exports them).

NamedTuples: typed, cheap to build by the million, and a frame is `pd.DataFrame.from_records`
away. Instants are timezone-aware UTC; money is int minor units; shares are exact Fractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple


class OrderRow(NamedTuple):
    """A paid order as known at `as_of`; the status instants are None until they happen."""

    order_id: str
    customer_id: str
    merchant_id: str
    currency: str
    plan_version_id: str
    paid_at: datetime
    gross_minor: int
    confirmed_at: datetime | None
    release_due_at: datetime | None  # known once confirmed
    released_at: datetime | None


class OrderLineRow(NamedTuple):
    """One line of an order as paid (refunds are `RefundRow`s, at their own instants)."""

    order_id: str
    sku: str
    category: str
    amount_minor: int


class LevelShareRow(NamedTuple):
    """A beneficiary of an order, fixed at payment: `level` 1 is the attributed promoter."""

    order_id: str
    promoter_id: str
    level: int
    share: Fraction  # exact: the attribution share the level's rate is multiplied by


class RefundRow(NamedTuple):
    order_id: str
    refunded_at: datetime
    amount_minor: int  # what left clearing in the refund's entry (> 0)


class CommissionRow(NamedTuple):
    promoter_id: str
    order_id: str
    level: int | None  # None unless asked for, or when the promoter holds several levels
    occurred_at: datetime
    amount_minor: int  # earned > 0, reversed by a refund < 0


class PromoterRow(NamedTuple):
    promoter_id: str
    parent_id: str | None
    grade: str | None  # today's grade; the grade sent at joining is in the event's payload
    joined_at: datetime


class TouchRow(NamedTuple):
    customer_id: str
    promoter_id: str
    ts: datetime
    kind: str
    channel: str | None


class BindingRow(NamedTuple):
    customer_id: str
    promoter_id: str
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class Orders:
    """Orders paid by `as_of`, with their decoded lines and level shares when asked for.

    An order's lines (and its shares) come together, in the order of `orders`."""

    orders: list[OrderRow]
    lines: list[OrderLineRow]
    shares: list[LevelShareRow]


@dataclass(frozen=True, slots=True)
class AppliedEvents:
    """Applied events of one type: each row is (ts, *fields), payload fields as text or None."""

    event_type: str
    fields: tuple[str, ...]
    rows: list[tuple[Any, ...]]
