"""Validating one raw row: every cell is checked and every problem reported, not just the first.

The checks mirror what the settlement engine would refuse (ids, amounts, currency, plan in force,
self-referral) so that a person sees them by row number before anything touches the books.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from features.importer.dates import parse_instant
from features.importer.domain import ImportOptions, RawRow, Row
from features.importer.errors import FieldProblem, Reject
from settlement.errors import InvalidEvent, PlanError
from settlement.events import MAX_ID_LENGTH
from settlement.money import minor_digits, parse_amount
from settlement.plan import PlanBook

T = TypeVar("T")


@dataclass(slots=True)
class _Cells:
    """The cells of one row and the problems found so far."""

    raw: RawRow
    problems: list[Reject]

    def text(self, column: str) -> str:
        return self.raw.cells.get(column, "")

    def check(self, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except FieldProblem as problem:
            self.problems.append(problem.at(self.raw.number))
        except InvalidEvent as error:
            self.problems.append(Reject(self.raw.number, error.field,
                                        f"{error.reason} (got {error.value!r})"))
        return None


def identifier(text: str, column: str, *, required: bool) -> str | None:
    """A non-empty id of at most the engine's length; None for a blank optional cell."""
    if not text:
        if required:
            raise FieldProblem(column, text, "is required but empty")
        return None
    if len(text) > MAX_ID_LENGTH:
        raise FieldProblem(column, text[:20] + "...", f"longer than {MAX_ID_LENGTH} characters")
    if any(ord(char) < 32 for char in text):
        raise FieldProblem(column, text, "contains a control character")
    return text


def _currency(cells: _Cells, paid_at: datetime | None, plans: PlanBook) -> str | None:
    """The row's currency: its cell, else the plan's in force at payment; must match the plan."""
    given = cells.text("currency").upper()
    plan_currency = None
    if paid_at is not None:
        try:
            plan_currency = plans.version_at(paid_at).currency
        except PlanError:
            cells.problems.append(Reject(cells.raw.number, "ts", f"no commission plan is in force "
                                         f"at {paid_at.isoformat()} (got {cells.text('ts')!r})"))
    if not given:
        return plan_currency or plans.versions[-1].currency
    if cells.check(lambda: minor_digits(given)) is None:
        return None
    if plan_currency is not None and given != plan_currency:
        cells.problems.append(Reject(cells.raw.number, "currency", f"the plan in force settles "
                                     f"in {plan_currency} (got {given!r})"))
    return given


def _amount(cells: _Cells, column: str, currency: str | None) -> int | None:
    text = cells.text(column)
    if not text or currency is None:
        return None
    return cells.check(lambda: parse_amount(text, currency, column))


def _instant(cells: _Cells, column: str, options: ImportOptions, paid_at: datetime | None,
             ) -> datetime | None:
    text = cells.text(column)
    if not text:
        return None
    instant = cells.check(lambda: parse_instant(text, column, options.dates))
    if instant is not None and paid_at is not None and instant < paid_at:
        cells.problems.append(Reject(cells.raw.number, column, f"is before the order's ts "
                                     f"{paid_at.isoformat()} (got {text!r})"))
    return instant


def _ids(cells: _Cells, options: ImportOptions) -> dict[str, str | None]:
    ids: dict[str, str | None] = {}
    for column, required in (("order_id", True), ("customer_id", True), ("promoter_id", False),
                             ("sku", False)):
        ids[column] = cells.check(partial(identifier, cells.text(column), column,
                                          required=required))
    merchant = cells.text("merchant_id") or options.merchant_id or ""
    ids["merchant_id"] = cells.check(lambda: identifier(merchant, "merchant_id", required=True))
    category = cells.text("category") or options.default_category
    ids["category"] = cells.check(lambda: identifier(category, "category", required=True))
    promoter, customer = ids["promoter_id"], ids["customer_id"]
    if promoter is not None and promoter == customer:
        cells.problems.append(Reject(cells.raw.number, "promoter_id", "is the buyer's own id "
                                     f"(self-referral); leave it empty (got {promoter!r})"))
    return ids


def parse_row(raw: RawRow, options: ImportOptions, plans: PlanBook) -> Row | list[Reject]:
    """A validated `Row`, or every problem of the raw row."""
    cells = _Cells(raw, [])
    ids = _ids(cells, options)
    ts_text = cells.text("ts")
    if not ts_text:
        cells.problems.append(Reject(raw.number, "ts", "is required but empty (got '')"))
    paid_at = cells.check(lambda: parse_instant(ts_text, "ts", options.dates)) if ts_text else None
    currency = _currency(cells, paid_at, plans)
    if not cells.text("amount"):
        cells.problems.append(Reject(raw.number, "amount", "is required but empty (got '')"))
    amount = _amount(cells, "amount", currency)
    refunded = _amount(cells, "refunded_amount", currency)
    if (options.refund_scope == "line" and refunded is not None and amount is not None
            and refunded > amount):
        reason = (f"exceeds the row's amount {cells.text('amount')} "
                  f"(got {cells.text('refunded_amount')!r})")
        cells.problems.append(Reject(raw.number, "refunded_amount", reason))
    refunded_at = _instant(cells, "refunded_at", options, paid_at)
    confirmed_at = _instant(cells, "confirmed_at", options, paid_at)
    order_id, customer_id = ids["order_id"], ids["customer_id"]
    merchant_id, category = ids["merchant_id"], ids["category"]
    if (cells.problems or paid_at is None or amount is None or currency is None
            or order_id is None or customer_id is None or merchant_id is None or category is None):
        return cells.problems  # every None above comes with a problem recorded
    return Row(raw.number, order_id, customer_id, paid_at, amount, currency, merchant_id,
               category, ids["sku"], ids["promoter_id"], refunded, refunded_at, confirmed_at)
