"""The order history LTV models learn from, read from the settled books and cut at any instant.

Why its own frames: the `orders` table holds the *current* state (`refunded_minor`, `allocation`
already reflect every later refund), so a feature built from it as of an earlier date would see
the future. Here each order keeps only what was fixed when it was paid (gross, lines,
beneficiaries), and refunds and commissions come from the journal of events with their own
instants. `History.as_of(t)` drops everything after `t`; every feature and label is computed from
such a cut, which is what makes the point-in-time guarantee structural rather than a convention.

Only columns that a live mall, the simulator and `fenrun import-orders` all produce are read:
orders (customer, merchant, currency, paid_at, lines, level-1 beneficiaries), `order_refunded`
events, touches, customer bindings and the promoter-pending postings.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from sqlalchemy import Connection, func, select

from settlement import tables as t
from settlement.money import MINOR_DIGITS

log = logging.getLogger(__name__)

ORDER_COLUMNS = ["order_id", "customer_id", "merchant_id", "paid_at", "gross_minor",
                 "main_category", "n_categories", "promoter_id"]
REFUND_COLUMNS = ["order_id", "refunded_at", "amount_minor"]
TOUCH_COLUMNS = ["customer_id", "promoter_id", "ts", "kind", "channel"]
BINDING_COLUMNS = ["customer_id", "promoter_id", "bound_at"]
COMMISSION_COLUMNS = ["order_id", "occurred_at", "amount_minor"]
NO_PROMOTER = "none"


@dataclass(frozen=True)
class History:
    """Point-in-time order history of one currency; every instant is tz-aware UTC.

    orders: one row per paid order, with the category holding most of its amount and the level-1
        promoter with the largest share (`promoter_id`, "none" when nobody was attributed).
    refunds: one row per applied `order_refunded` event, in minor units, at the refund's instant.
    touches, bindings: as stored by the settlement core.
    commissions: promoter commission earned per order and journal instant (all levels; refunds
        come back as negative amounts), for CAC.
    """

    currency: str
    orders: pd.DataFrame
    refunds: pd.DataFrame
    touches: pd.DataFrame
    bindings: pd.DataFrame
    commissions: pd.DataFrame

    def as_of(self, at: datetime | pd.Timestamp) -> History:
        """Everything known at `at` (inclusive) and nothing after it."""
        at = pd.Timestamp(at)
        return replace(
            self,
            orders=self.orders[self.orders["paid_at"] <= at],
            refunds=self.refunds[self.refunds["refunded_at"] <= at],
            touches=self.touches[self.touches["ts"] <= at],
            bindings=self.bindings[self.bindings["bound_at"] <= at],
            commissions=self.commissions[self.commissions["occurred_at"] <= at],
        )

    @property
    def last_at(self) -> pd.Timestamp | None:
        """The latest instant in the history (None when it is empty)."""
        stamps = [self.orders["paid_at"].max(), self.refunds["refunded_at"].max(),
                  self.touches["ts"].max()]
        stamps = [s for s in stamps if not pd.isna(s)]
        return max(stamps) if stamps else None


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=columns)


def _top_beneficiary(beneficiaries_json: str) -> str:
    """The level-1 promoter with the largest share (ties: smallest id), or NO_PROMOTER."""
    best: tuple[Fraction, str] | None = None
    for promoter_id, level, share in json.loads(beneficiaries_json):
        if level != 1:
            continue
        key = (Fraction(share), promoter_id)
        if best is None or key[0] > best[0] or (key[0] == best[0] and key[1] < best[1]):
            best = key
    return best[1] if best else NO_PROMOTER


def _order_row(row: object) -> tuple:
    lines = json.loads(row.lines)  # type: ignore[attr-defined]
    by_category: dict[str, int] = {}
    for _sku, category, amount_minor, _refunded in lines:
        by_category[category] = by_category.get(category, 0) + int(amount_minor)
    main = max(sorted(by_category), key=lambda c: by_category[c]) if by_category else "unknown"
    return (row.order_id, row.customer_id, row.merchant_id, row.paid_at,  # type: ignore[attr-defined]
            int(row.gross_minor), main, len(by_category),  # type: ignore[attr-defined]
            _top_beneficiary(row.beneficiaries))  # type: ignore[attr-defined]


def _pick_currency(conn: Connection, currency: str | None) -> str:
    seen = {code: int(n) for code, n in conn.execute(
        select(t.orders.c.currency, func.count()).group_by(t.orders.c.currency))}
    if currency is not None:
        return currency
    if not seen:
        return "CNY"
    chosen = max(sorted(seen), key=lambda c: seen[c])
    if len(seen) > 1:
        log.warning("orders in %d currencies; modelling %s only (%s)", len(seen), chosen, seen)
    return chosen


def _refund_rows(conn: Connection, digits_of: dict[str, int]) -> list[tuple]:
    """Refunded minor units per applied `order_refunded` event, at the event's instant."""
    query = select(t.events.c.ts, t.events.c.payload).where(
        t.events.c.type == "order_refunded", t.events.c.status == "applied")
    rows = []
    for ts, payload in conn.execute(query):
        body = json.loads(payload)
        order_id = body.get("order_id")
        digits = digits_of.get(order_id)
        if digits is None:  # an order of another currency
            continue
        total = sum((Decimal(str(line["amount"])) for line in body.get("lines", [])),
                    Decimal(0))
        rows.append((order_id, ts, int(total.scaleb(digits))))
    return rows


def _commission_rows(conn: Connection, order_of_event: dict[str, str]) -> list[tuple]:
    """Commission earned per order and instant: minus the promoter-pending postings of its entries.

    Paid and refunded entries credit (negative) or debit promoter_pending; releases move pending to
    available and payouts move available to paid, so counting pending on those two kinds only
    gives what was earned, net of claw-backs, without double counting.
    """
    query = (
        select(t.journal_entries.c.event_id, t.journal_entries.c.occurred_at,
               t.postings.c.amount_minor)
        .join(t.postings, t.postings.c.entry_id == t.journal_entries.c.entry_id)
        .where(t.journal_entries.c.kind.in_(("paid", "refunded")),
               t.postings.c.account_kind == "promoter_pending")
    )
    rows = []
    for event_id, occurred_at, amount_minor in conn.execute(query):
        order_id = order_of_event.get(event_id)
        if order_id is not None:
            rows.append((order_id, occurred_at, -int(amount_minor)))
    return rows


def _order_of_events(conn: Connection, order_ids: set[str]) -> dict[str, str]:
    query = select(t.events.c.event_id, t.events.c.payload).where(
        t.events.c.type.in_(("order_paid", "order_refunded")), t.events.c.status == "applied")
    found = {}
    for event_id, payload in conn.execute(query):
        order_id = json.loads(payload).get("order_id")
        if order_id in order_ids:
            found[event_id] = order_id
    return found


def load_history(conn: Connection, currency: str | None = None) -> History:
    """Read the settled books into a `History` (one currency: the most common unless named)."""
    currency = _pick_currency(conn, currency)
    order_rows = [_order_row(r) for r in conn.execute(
        select(t.orders).where(t.orders.c.currency == currency))]
    orders = _frame(order_rows, ORDER_COLUMNS)
    digits_of = dict.fromkeys(orders["order_id"], MINOR_DIGITS.get(currency, 2))
    refunds = _frame(_refund_rows(conn, digits_of), REFUND_COLUMNS)
    touches = _frame([tuple(r) for r in conn.execute(select(
        t.touches.c.customer_id, t.touches.c.promoter_id, t.touches.c.ts, t.touches.c.kind,
        t.touches.c.channel))], TOUCH_COLUMNS)
    bindings = _frame([tuple(r) for r in conn.execute(select(
        t.customer_bindings.c.customer_id, t.customer_bindings.c.promoter_id,
        t.customer_bindings.c.bound_at))], BINDING_COLUMNS)
    commissions = _frame(_commission_rows(conn, _order_of_events(conn, set(digits_of))),
                         COMMISSION_COLUMNS)
    return make_history(currency, orders, refunds, touches, bindings, commissions)


def make_history(currency: str, orders: pd.DataFrame, refunds: pd.DataFrame,
                 touches: pd.DataFrame | None = None, bindings: pd.DataFrame | None = None,
                 commissions: pd.DataFrame | None = None) -> History:
    """Normalise frames (dtypes, UTC instants, sort order) into a `History`.

    Also the way in for tests and notebooks that hold frames rather than a database.
    """
    touches = touches if touches is not None else pd.DataFrame(columns=TOUCH_COLUMNS)
    bindings = bindings if bindings is not None else pd.DataFrame(columns=BINDING_COLUMNS)
    commissions = (commissions if commissions is not None
                   else pd.DataFrame(columns=COMMISSION_COLUMNS))
    orders = orders[ORDER_COLUMNS].assign(
        paid_at=lambda f: _utc(f["paid_at"]),
        gross_minor=lambda f: f["gross_minor"].astype("int64"),
        n_categories=lambda f: f["n_categories"].astype("int64"),
    ).astype({"order_id": str, "customer_id": str, "merchant_id": str, "main_category": str,
              "promoter_id": str})
    refunds = refunds[REFUND_COLUMNS].assign(
        refunded_at=lambda f: _utc(f["refunded_at"]),
        amount_minor=lambda f: f["amount_minor"].astype("int64")).astype({"order_id": str})
    touches = touches[TOUCH_COLUMNS].assign(ts=lambda f: _utc(f["ts"]),
                                            channel=lambda f: f["channel"].fillna("unknown"))
    touches = touches.astype({"customer_id": str, "promoter_id": str, "kind": str,
                              "channel": str})
    bindings = bindings[BINDING_COLUMNS].assign(bound_at=lambda f: _utc(f["bound_at"]))
    bindings = bindings.astype({"customer_id": str, "promoter_id": str})
    commissions = commissions[COMMISSION_COLUMNS].assign(
        occurred_at=lambda f: _utc(f["occurred_at"]),
        amount_minor=lambda f: f["amount_minor"].astype("int64")).astype({"order_id": str})
    return History(
        currency=currency,
        orders=orders.sort_values(["paid_at", "order_id"], kind="stable").reset_index(drop=True),
        refunds=refunds.sort_values(["refunded_at", "order_id"], kind="stable")
        .reset_index(drop=True),
        touches=touches.sort_values(["ts", "customer_id", "promoter_id"], kind="stable")
        .reset_index(drop=True),
        bindings=bindings.sort_values(["bound_at", "customer_id"], kind="stable")
        .reset_index(drop=True),
        commissions=commissions.sort_values(["occurred_at", "order_id"], kind="stable")
        .reset_index(drop=True),
    )
