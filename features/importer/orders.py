"""Grouping validated rows into orders: rows of one order_id are the lines of one order.

Required order-level values (customer, ts, merchant, currency) must be equal on every row of an
order; optional ones (promoter_id, confirmed_at, and in `order` refund scope refunded_amount and
refunded_at) must agree where given, and a blank cell takes the order's value. A line's sku is its
cell, else `line-N` with N its position among the order's rows (stable for a given file).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from features.importer.domain import ImportOptions, Line, Order, Row
from features.importer.errors import Reject
from settlement.events import MAX_LINES_PER_ORDER

_REQUIRED = ("customer_id", "paid_at", "merchant_id", "currency")
_OPTIONAL = ("promoter_id", "confirmed_at")
_CELL = {"paid_at": "ts", "refunded_minor": "refunded_amount"}  # attribute → file column


def spread(total_minor: int, weights: list[int]) -> list[int]:
    """Split `total_minor` over `weights` in proportion, exactly (largest remainder, ties to the
    earlier line). With `total_minor <= sum(weights)` no share exceeds its weight."""
    whole = sum(weights)
    if whole == 0:
        return [0 for _ in weights]
    shares = [total_minor * weight // whole for weight in weights]
    remainders = [total_minor * weight % whole for weight in weights]
    left = total_minor - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def _agreed(group: list[Row], attribute: str, required: bool, rejects: list[Reject]) -> Any:
    """The order's value of `attribute`; rows that disagree with the first one are rejected."""
    first: Row | None = None
    for row in group:
        value = getattr(row, attribute)
        if value is None and not required:
            continue
        if first is None:
            first = row
        elif value != getattr(first, attribute):
            rejects.append(Reject(row.number, _CELL.get(attribute, attribute),
                                  f"differs from row {first.number} of order {row.order_id!r} "
                                  f"({_show(getattr(first, attribute))}) (got {_show(value)})"))
    return getattr(first, attribute) if first is not None else None


def _skus(group: list[Row], rejects: list[Reject]) -> list[str]:
    skus: list[str] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(group, start=1):
        sku = row.sku or f"line-{position}"
        if sku in seen:
            rejects.append(Reject(row.number, "sku", f"appears twice in order {row.order_id!r} "
                                                     f"(first on row {seen[sku]}) (got {sku!r})"))
        seen.setdefault(sku, row.number)
        skus.append(sku)
    return skus


def _refunds(group: list[Row], options: ImportOptions, paid_at: datetime,
             rejects: list[Reject]) -> list[tuple[int, datetime | None]]:
    """(refunded minor units, refund instant) per row, after the refund scope's rules."""
    default_at = paid_at + options.refund_delay
    if options.refund_scope == "line":
        return [(row.refunded_minor or 0,
                 (row.refunded_at or default_at) if row.refunded_minor else None)
                for row in group]
    total = _agreed(group, "refunded_minor", False, rejects) or 0
    refunded_at = _agreed(group, "refunded_at", False, rejects) or default_at
    amount = sum(row.amount_minor for row in group)
    if total > amount:
        row = next(row for row in group if row.refunded_minor)
        rejects.append(Reject(row.number, "refunded_amount", f"exceeds the order's total "
                              f"({amount} minor units) (got {total} minor units)"))
        return [(0, None) for _ in group]
    return [(share, refunded_at if share else None)
            for share in spread(total, [row.amount_minor for row in group])]


def build_order(group: list[Row], options: ImportOptions) -> Order | list[Reject]:
    """One order from its rows (in file order), or the reasons its rows disagree."""
    rejects: list[Reject] = []
    if len(group) > MAX_LINES_PER_ORDER:
        row = group[MAX_LINES_PER_ORDER]
        reason = (f"order has {len(group)} rows, more than {MAX_LINES_PER_ORDER} lines "
                  f"(got {row.order_id!r})")
        return [Reject(row.number, "order_id", reason)]
    values = {name: _agreed(group, name, True, rejects) for name in _REQUIRED}
    values.update({name: _agreed(group, name, False, rejects) for name in _OPTIONAL})
    skus = _skus(group, rejects)
    refunds = _refunds(group, options, values["paid_at"], rejects)
    if rejects:
        return rejects
    lines = tuple(Line(sku, row.category, row.amount_minor, refunded, refunded_at, row.number)
                  for sku, row, (refunded, refunded_at) in zip(skus, group, refunds, strict=True))
    return Order(group[0].order_id, values["customer_id"], values["merchant_id"],
                 values["currency"], values["promoter_id"], values["paid_at"],
                 values["confirmed_at"] or values["paid_at"], lines)


def group_orders(rows: list[Row], options: ImportOptions) -> tuple[list[Order], list[Reject]]:
    """Orders in the order their first row appears, and the rejects of rows that disagree."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.order_id, []).append(row)
    orders: list[Order] = []
    rejects: list[Reject] = []
    for group in groups.values():
        built = build_order(group, options)
        if isinstance(built, Order):
            orders.append(built)
        else:
            rejects.extend(built)
    return orders, rejects
