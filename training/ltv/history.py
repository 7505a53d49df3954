"""The order history LTV models learn from, read from the settled books and cut at any instant.

Why its own frames: the `orders` table holds the *current* state (`refunded_minor`, `allocation`
already reflect every later refund), so a feature built from it as of an earlier date would see
the future. Here each order keeps only what was fixed when it was paid (gross, lines,
beneficiaries), and refunds and commissions come from the journal with their own instants, all
read through `settlement.read_model`. `History.as_of(t)` drops everything after `t`; every
feature and label is computed from such a cut, which is what makes the point-in-time guarantee
structural rather than a convention.

Only columns that a live mall, the simulator and `fenrun import-orders` all produce are read:
orders (customer, merchant, currency, paid_at, lines, level-1 beneficiaries), refunds, touches,
customer bindings and commissions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from fractions import Fraction

import pandas as pd
from sqlalchemy import Connection

from settlement import read_model as books
from settlement.read_model import LevelShareRow, OrderLineRow, Orders

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
    refunds: one row per applied `order_refunded` event, in minor units (what left clearing), at
        the refund's instant.
    touches, bindings: as stored by the settlement core.
    commissions: promoter commission earned per order and journal instant, one row per promoter
        (all levels; refunds come back as negative amounts, clawbacks after release included),
        for CAC.
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


def _frame(rows: Sequence[Sequence[object]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=columns)


def _top_beneficiaries(shares: list[LevelShareRow]) -> dict[str, str]:
    """Per order, the level-1 promoter with the largest share (ties: smallest id).

    Relies on the read model handing an order's shares out together (see `Orders`).
    """
    top: dict[str, str] = {}
    current, best = None, Fraction(0)
    for order_id, promoter_id, level, share in shares:
        if level != 1:
            continue
        if order_id != current:
            current, best = order_id, share
            top[order_id] = promoter_id
        elif share > best or (share == best and promoter_id < top[order_id]):
            best = share
            top[order_id] = promoter_id
    return top


def _main_categories(lines: list[OrderLineRow]) -> pd.DataFrame:
    """Per order (the index), `main_category`, the category holding most of its amount (ties:
    first by name), and `n_categories`, how many it has. Vectorised: millions of lines."""
    frame = pd.DataFrame.from_records(lines, columns=list(OrderLineRow._fields))
    amounts = (frame.groupby(["order_id", "category"], sort=False)["amount_minor"].sum()
               .reset_index())
    counts = amounts.groupby("order_id", sort=False).size().rename("n_categories")
    main = (amounts.sort_values(["order_id", "amount_minor", "category"],
                                ascending=[True, False, True], kind="stable")
            .drop_duplicates("order_id").set_index("order_id")["category"]
            .rename("main_category"))
    return pd.concat([main, counts], axis=1)


def _orders_frame(paid: Orders) -> pd.DataFrame:
    """ORDER_COLUMNS from the read model's orders, lines and level-1 shares."""
    categories = _main_categories(paid.lines)
    top = _top_beneficiaries(paid.shares)
    frame = _frame([(o.order_id, o.customer_id, o.merchant_id, o.paid_at, o.gross_minor)
                    for o in paid.orders], ORDER_COLUMNS[:5])
    ids = frame["order_id"]
    return frame.assign(
        main_category=ids.map(categories["main_category"]).fillna("unknown"),
        n_categories=ids.map(categories["n_categories"]).fillna(0).astype("int64"),
        promoter_id=ids.map(top).fillna(NO_PROMOTER))[ORDER_COLUMNS]


def _pick_currency(conn: Connection, currency: str | None) -> str:
    seen = books.order_currencies(conn)
    if currency is not None:
        return currency
    if not seen:
        return "CNY"
    chosen = max(sorted(seen), key=lambda c: seen[c])
    if len(seen) > 1:
        log.warning("orders in %d currencies; modelling %s only (%s)", len(seen), chosen, seen)
    return chosen


def load_history(conn: Connection, currency: str | None = None) -> History:
    """Read the settled books into a `History` (one currency: the most common unless named).

    Everything comes through `settlement.read_model`, with its definitions of a refund (what
    left clearing) and of commission (earned minus what refunds reversed, before or after the
    hold was released).
    """
    currency = _pick_currency(conn, currency)
    orders = _orders_frame(books.read_orders(conn, currency=currency, lines=True, shares=True,
                                             share_levels=(1,)))
    refunds = _frame(books.refunds(conn, currency=currency), REFUND_COLUMNS)
    touches = _frame(books.touches(conn), TOUCH_COLUMNS)
    bindings = _frame(books.customer_bindings(conn), BINDING_COLUMNS)
    commissions = _frame([(order_id, occurred_at, amount_minor) for _promoter, order_id, _level,
                          occurred_at, amount_minor in books.commissions(conn, currency=currency)],
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
