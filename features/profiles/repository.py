"""Loads the raw frames of the promoter profiles from the settlement books, as known at `as_of`.

The I/O edge of the profile pipeline. Every query filters on the instant a fact was booked
(event `ts`, journal `occurred_at`, order `paid_at`), never on current state:
`orders.refunded_minor` and `allocation` change after payment, so refunds come from refund
events and their ledger entries.
Extra event fields (device and IP hashes, channel) live in the JSON payload; they are extracted in
SQL where the dialect can (SQLite `json_extract`, PostgreSQL `->>`) so large books stay fast.

Single-currency books are assumed: amounts of different currencies would be summed together.
"""

from __future__ import annotations

import json
from datetime import datetime
from fractions import Fraction
from typing import Any

import pandas as pd
from sqlalchemy import JSON, Connection, Engine, and_, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from features.profiles.domain import SCHEMAS, RawFrames
from settlement import tables as t

PROMOTER_ACCOUNTS = ("promoter_pending", "promoter_available", "clawback_receivable")
EARNING_ENTRIES = ("paid", "refunded")


def _field(conn: Connection, key: str) -> ColumnElement[Any]:
    """`payload.key` as text, extracted by the database."""
    if conn.dialect.name == "sqlite":
        return func.json_extract(t.events.c.payload, literal(f"$.{key}"))
    if conn.dialect.name == "postgresql":
        return cast(t.events.c.payload, JSON)[key].as_string()
    raise NotImplementedError(f"profiles: dialect {conn.dialect.name!r} is not supported")


def _read(conn: Connection, query: Any, columns: tuple[str, ...]) -> pd.DataFrame:
    rows = conn.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in frame.columns:
        if column.endswith("_at") or column == "ts":
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _applied(conn: Connection, kind: str, as_of: datetime, *keys: str) -> pd.DataFrame:
    """Applied events of one type up to `as_of`: ts plus the named payload fields."""
    query = (select(t.events.c.ts, *(_field(conn, k) for k in keys))
             .where(t.events.c.type == kind, t.events.c.status == "applied",
                    t.events.c.ts <= as_of))
    return _read(conn, query, ("ts", *keys))


def load_promoters(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Promoters joined by `as_of`; grade and devices as sent at joining (the table: today's)."""
    table = t.promoters
    base = _read(conn, select(table.c.promoter_id, table.c.parent_id, table.c.grade,
                              table.c.joined_at).where(table.c.joined_at <= as_of),
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
    table = t.orders
    query = select(table.c.order_id, table.c.customer_id, table.c.paid_at, table.c.gross_minor,
                   table.c.confirmed_at, table.c.released_at, table.c.beneficiaries
                   ).where(table.c.paid_at <= as_of)
    orders = _read(conn, query, ("order_id", "customer_id", "paid_at", "gross_minor",
                                 "confirmed_at", "released_at", "beneficiaries"))
    devices = _applied(conn, "order_paid", as_of, "order_id", "device_hash", "ip_hash")
    orders = orders.merge(devices.drop(columns="ts"), on="order_id", how="left")
    attributions = _level_one(orders["order_id"].tolist(), orders["beneficiaries"].tolist())
    return orders.loc[:, list(SCHEMAS["orders"])], attributions


def _level_one(order_ids: list[str], documents: list[str]) -> pd.DataFrame:
    rows = [(order_id, promoter, float(Fraction(share)))
            for order_id, text in zip(order_ids, documents, strict=True)
            for promoter, level, share in json.loads(text) if level == 1]
    return pd.DataFrame.from_records(rows, columns=list(SCHEMAS["attributions"]))


def load_refunds(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Refunds booked by `as_of`: the amount is what left clearing in the refund's journal entry."""
    order_id = _field(conn, "order_id")
    entries, postings = t.journal_entries, t.postings
    clearing = and_(postings.c.entry_id == entries.c.entry_id,
                    postings.c.account_kind == "clearing")
    query = (select(order_id, t.events.c.ts, -postings.c.amount_minor)
             .select_from(t.events.join(entries, entries.c.event_id == t.events.c.event_id)
                          .join(postings, clearing))
             .where(t.events.c.type == "order_refunded", t.events.c.status == "applied",
                    t.events.c.ts <= as_of))
    return _read(conn, query, SCHEMAS["refunds"])


def load_commissions(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Commission earned (positive) and reversed by refunds (negative), from the journal."""
    query = (select(t.postings.c.owner_id, t.journal_entries.c.occurred_at,
                    -t.postings.c.amount_minor)
             .select_from(t.postings.join(t.journal_entries,
                                          t.journal_entries.c.entry_id == t.postings.c.entry_id))
             .where(t.journal_entries.c.kind.in_(EARNING_ENTRIES),
                    t.postings.c.account_kind.in_(PROMOTER_ACCOUNTS),
                    t.journal_entries.c.occurred_at <= as_of))
    return _read(conn, query, SCHEMAS["commissions"])


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
