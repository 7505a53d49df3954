"""Loads the raw frames of the promoter profiles from the settlement books, as known at `as_of`.

The I/O edge of the profile pipeline. Everything is read through `settlement.read_model`, which
filters on the instant each fact was booked and holds the one definition of a refund amount
(what left clearing) and of commission (pending and clawback postings of paid and refunded
entries); this module only shapes its rows into the frames of `SCHEMAS`.
Extra event fields (device and IP hashes, channel) come from the events' payloads, extracted by
the database.

Single-currency books are assumed: amounts of different currencies would be summed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from features.profiles.domain import SCHEMAS, RawFrames
from settlement import read_model as books


def _frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in frame.columns:
        if column.endswith("_at") or column == "ts":
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _applied(conn: Connection, kind: str, as_of: datetime, *keys: str) -> pd.DataFrame:
    """Applied events of one type up to `as_of`: ts plus the named payload fields."""
    events = books.applied_events(conn, kind, keys, as_of)
    return _frame(events.rows, ("ts", *keys))


def load_promoters(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Promoters joined by `as_of`; grade and devices as sent at joining (the table: today's)."""
    base = _frame(books.promoters(conn, as_of),
                  ("promoter_id", "parent_id", "grade_now", "joined_at"))
    joins = _applied(conn, "promoter_joined", as_of, "promoter_id", "grade", "device_hash",
                     "ip_hash").drop(columns="ts")
    frame = base.merge(joins, on="promoter_id", how="left")
    frame["grade"] = frame["grade"].fillna(frame["grade_now"])
    return frame.loc[:, list(SCHEMAS["promoters"])]


def load_touches(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Touches up to `as_of` with the device and IP of the clicking customer."""
    frame = _applied(conn, "touch", as_of, "promoter_id", "customer_id", "kind", "channel",
                     "device_hash", "ip_hash")
    return frame.loc[:, list(SCHEMAS["touches"])]


def load_orders(conn: Connection, as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders paid by `as_of` and their level-1 attributions (fixed at payment)."""
    paid = books.read_orders(conn, as_of, shares=True, share_levels=(1,))
    orders = _frame(paid.orders, books.OrderRow._fields)
    devices = _applied(conn, "order_paid", as_of, "order_id", "device_hash", "ip_hash")
    orders = orders.merge(devices.drop(columns="ts"), on="order_id", how="left")
    attributions = pd.DataFrame.from_records(
        [(s.order_id, s.promoter_id, float(s.share)) for s in paid.shares],
        columns=list(SCHEMAS["attributions"]))
    return orders.loc[:, list(SCHEMAS["orders"])], attributions


def load_refunds(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Refunds booked by `as_of`, at their instant (`RefundRow`: what left clearing)."""
    return _frame(books.refunds(conn, as_of), SCHEMAS["refunds"])


def load_commissions(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Commission earned (positive) and reversed by refunds (negative) per promoter and instant."""
    rows = [(c.promoter_id, c.occurred_at, c.amount_minor)
            for c in books.commissions(conn, as_of)]
    return _frame(rows, SCHEMAS["commissions"])


def load_raw_frames(source: Connection | Engine, as_of: datetime) -> RawFrames:
    """Every raw frame the profiles need, each restricted to what was booked by `as_of`."""
    if isinstance(source, Engine):
        with source.connect() as conn:
            return load_raw_frames(conn, as_of)
    orders, attributions = load_orders(source, as_of)
    return RawFrames(
        promoters=load_promoters(source, as_of),
        touches=load_touches(source, as_of),
        orders=orders,
        attributions=attributions,
        refunds=load_refunds(source, as_of),
        commissions=load_commissions(source, as_of),
    )
