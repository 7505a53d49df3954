"""The read side of the books: the one way other packages read settled data, as of any instant.

Every reader filters on the instant a fact was booked (event `ts`, journal `occurred_at`, order
`paid_at`), never on current state: `orders.refunded_minor` and `allocation` change with every
later refund, and `confirmed_at` / `released_at` are masked to NULL when they lie after `as_of`.
`as_of=None` reads everything booked so far. Definitions that are easy to get subtly wrong live
here once:

- a **refund**'s amount is what left clearing in the refund's journal entry (an applied
  `order_refunded` event books exactly one), at the event's instant;
- **commission** is the promoter-pending and clawback-receivable postings of `paid` and `refunded`
  entries, negated: earned is positive, a refund's reversal negative (pending before release,
  clawback after it). Releases and payouts only move money between a promoter's own accounts, so
  they are not counted: the sum per promoter is what they earned net of refunds.

Readers return plain typed rows (NamedTuples: a frame is `pd.DataFrame.from_records(rows)` away
at tuple speed), not pandas frames: settlement stays free of pandas, and its other readers (the
CLI, payouts, reports) want rows. JSON payload fields are extracted by the database (SQLite
`json_extract`, PostgreSQL `->>`) so large books stay fast; stored order JSON is decoded only
through `order_codec`. Rows are in `read_rows`, balances and holds in `read_accounts`; both
are re-exported here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from settlement import order_codec
from settlement import tables as t
from settlement.engine import EventStatus
from settlement.errors import LedgerInvariantBroken
from settlement.explain import OrderExplanation, PostingLine, explain_split
from settlement.guarantees import posted_months
from settlement.ledger import AccountKind, EntryKind
from settlement.plan_store import load_plan_book
from settlement.promoter_terms import GuaranteeMonth
from settlement.rate_overrides import Level1Rates, level1_rates
from settlement.rate_suggestions import (
    AssignmentRow,
    ExperimentRow,
    MemberRow,
    RunRow,
    SuggestionRow,
    experiment_members,
    experiments,
    get_suggestion,
    latest_suggestions,
    list_suggestions,
    open_experiment,
    rate_assignments,
    suggestion_runs,
    suggestions_marker,
)
from settlement.read_accounts import (
    BalanceRow,
    HoldRow,
    PromoterBalance,
    account_balances,
    books_currencies,
    holds,
    promoter_balances,
    raw_balances,
)
from settlement.read_cases import (
    CaseOrderRow,
    CaseRefundRow,
    OrderCommissionRow,
    case_orders,
    held_orders,
    known_orders,
    order_commissions,
    order_currency,
    risk_entry_count,
    risk_reversed,
)
from settlement.read_queues import (
    outbox_unpublished,
    payouts_awaiting_approval,
    stream_positions,
)
from settlement.read_rows import (
    AppliedEvents,
    BindingRow,
    CommissionRow,
    LevelShareRow,
    OrderLineRow,
    OrderRow,
    Orders,
    PromoterRow,
    RefundRow,
    TouchRow,
)

__all__ = [
    "COMMISSION_ACCOUNTS", "COMMISSION_ENTRIES", "AppliedEvents", "BalanceRow", "BindingRow",
    "CommissionRow", "HoldRow", "LevelShareRow", "OrderLineRow", "OrderRow", "Orders",
    "PromoterBalance", "PromoterRow", "RefundRow", "TouchRow", "account_balances",
    "applied_events", "books_currencies", "commissions", "customer_bindings", "holds",
    "last_event_at", "order_currencies", "outbox_unpublished", "payouts_awaiting_approval",
    "promoter_balances", "promoters", "raw_balances", "read_orders", "refunds",
    "stream_positions", "touches", "explain_order",
    # rate suggestions, decisions, the served-rate log and experiments (settlement.rate_suggestions)
    "AssignmentRow", "ExperimentRow", "MemberRow", "RunRow", "SuggestionRow",
    "experiment_members", "experiments", "get_suggestion", "latest_suggestions",
    "list_suggestions", "open_experiment", "rate_assignments", "suggestion_runs",
    "suggestions_marker", "Level1Rates", "level1_rates",
    "CaseOrderRow", "CaseRefundRow", "OrderCommissionRow", "case_orders", "held_orders",
    "known_orders", "order_commissions", "order_currency", "risk_entry_count",
    "risk_reversed",
]

COMMISSION_ENTRIES = (EntryKind.PAID.value, EntryKind.REFUNDED.value)
COMMISSION_ACCOUNTS = (AccountKind.PROMOTER_PENDING.value, AccountKind.CLAWBACK_RECEIVABLE.value)
_APPLIED = EventStatus.APPLIED.value
# tuple.__new__ skips a NamedTuple's Python-level __new__: millions of rows are built per read.
_new = tuple.__new__


@contextmanager
def _bulk_read() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of rows are built.

    The rows are tuples of strings, numbers and datetimes: they cannot form cycles, yet each
    allocation counts toward a full collection that walks every row built so far, which made a
    large read a third slower. Collection resumes (if it was on) when the read ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _known_at(column: ColumnElement[Any], as_of: datetime | None,
              instant: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
    """`column`, or NULL when the fact it records (`instant`, itself by default) is after as_of."""
    if as_of is None:
        return column
    return case(((instant if instant is not None else column) <= as_of, column)).label(
        column.key)


def payload_field(conn: Connection, key: str) -> ColumnElement[Any]:
    """`events.payload.key` as text, extracted by the database."""
    if conn.dialect.name == "sqlite":
        return func.json_extract(t.events.c.payload, literal(f"$.{key}"))
    if conn.dialect.name == "postgresql":
        return cast(t.events.c.payload, JSON)[key].as_string()
    raise NotImplementedError(f"read model: dialect {conn.dialect.name!r} is not supported")


def read_orders(conn: Connection, as_of: datetime | None = None, *, currency: str | None = None,
                lines: bool = False, shares: bool = False,
                share_levels: tuple[int, ...] | None = None) -> Orders:
    """Orders paid by `as_of` (of one currency if named), in one pass over the table.

    `lines` and `shares` decode the stored JSON (the dearest part of a large read: ask only for
    what is used); `share_levels` keeps the shares of those levels only, (1,) for attribution.
    """
    o = t.orders.c
    columns = [o.order_id, o.customer_id, o.merchant_id, o.currency, o.plan_version_id,
               o.paid_at, o.gross_minor, _known_at(o.confirmed_at, as_of),
               _known_at(o.release_due_at, as_of, o.confirmed_at), _known_at(o.released_at, as_of)]
    extra = ([o.lines] if lines else []) + ([o.beneficiaries] if shares else [])
    query = select(*columns, *extra)
    if as_of is not None:
        query = query.where(o.paid_at <= as_of)
    if currency is not None:
        query = query.where(o.currency == currency)
    with _bulk_read():
        result = conn.execute(query)
        if not extra:
            return Orders([_new(OrderRow, row) for row in result], [], [])
        return _decode_orders(result, len(columns), lines, shares, share_levels)


def _decode_orders(result: Iterable[Any], width: int, lines: bool, shares: bool,
                   share_levels: tuple[int, ...] | None) -> Orders:
    """Order rows plus their JSON lines and beneficiaries, decoded in one pass."""
    orders: list[OrderRow] = []
    line_rows: list[OrderLineRow] = []
    share_rows: list[LevelShareRow] = []
    decode_lines, decode_shares = order_codec.decode_lines_raw, order_codec.decode_beneficiaries_raw
    fraction = order_codec.share_fraction
    for row in result:
        order_id = row[0]
        orders.append(_new(OrderRow, row[:width]))
        if lines:
            for sku, category, amount_minor, _refunded in decode_lines(row[width]):
                line_rows.append(_new(OrderLineRow, (order_id, sku, category, amount_minor)))
        if shares:
            for promoter_id, level, share in decode_shares(row[-1]):
                if share_levels is None or level in share_levels:
                    share_rows.append(_new(LevelShareRow,
                                           (order_id, promoter_id, level, fraction(share))))
    return Orders(orders, line_rows, share_rows)


def refunds(conn: Connection, as_of: datetime | None = None, *,
            currency: str | None = None) -> list[RefundRow]:
    """Refunds booked by `as_of`: what left clearing in each applied refund's entry."""
    e, j, p = t.events.c, t.journal_entries.c, t.postings.c
    clearing = and_(p.entry_id == j.entry_id, p.account_kind == AccountKind.CLEARING.value)
    query = (select(payload_field(conn, "order_id"), e.ts, -p.amount_minor)
             .select_from(t.events.join(t.journal_entries, j.event_id == e.event_id)
                          .join(t.postings, clearing))
             .where(e.type == "order_refunded", e.status == _APPLIED,
                    j.kind == EntryKind.REFUNDED.value))
    if as_of is not None:
        query = query.where(e.ts <= as_of)
    if currency is not None:
        query = query.where(p.currency == currency)
    with _bulk_read():
        return [_new(RefundRow, row) for row in conn.execute(query)]


def commissions(conn: Connection, as_of: datetime | None = None, *, currency: str | None = None,
                levels: bool = False) -> list[CommissionRow]:
    """Commission earned and reversed per promoter, order and instant (see the module docstring).

    With `levels`, each row carries the promoter's level on the order (decoding the orders'
    beneficiaries); None when they hold several levels there: their commission on an order is
    rounded once across levels, so it cannot be split without inventing fen.
    """
    j, p = t.journal_entries.c, t.postings.c
    query = (select(p.owner_id, j.event_id, j.occurred_at, -p.amount_minor)
             .select_from(t.postings.join(t.journal_entries, j.entry_id == p.entry_id))
             .where(j.kind.in_(COMMISSION_ENTRIES), p.account_kind.in_(COMMISSION_ACCOUNTS)))
    if as_of is not None:
        query = query.where(j.occurred_at <= as_of)
    if currency is not None:
        query = query.where(p.currency == currency)
    # Order ids are looked up once per event, not once per posting (three postings per event).
    try:
        with _bulk_read():
            order_of = _order_of_events(conn, as_of)
            rows = [_new(CommissionRow, (promoter, order_of[event_id], None, at, amount))
                    for promoter, event_id, at, amount in conn.execute(query)]
    except KeyError as error:
        raise LedgerInvariantBroken(f"journal entry of event {error.args[0]} has no applied "
                                    "order event") from None
    if not levels:
        return rows
    level_of = _levels(conn, {row.order_id for row in rows})
    return [row._replace(level=level_of.get((row.order_id, row.promoter_id))) for row in rows]


def _order_of_events(conn: Connection, as_of: datetime | None) -> dict[str, str]:
    """event_id -> order_id of every applied payment and refund booked by `as_of`."""
    e = t.events.c
    query = select(e.event_id, payload_field(conn, "order_id")).where(
        e.type.in_(("order_paid", "order_refunded")), e.status == _APPLIED)
    if as_of is not None:
        query = query.where(e.ts <= as_of)
    return {event_id: order_id for event_id, order_id in conn.execute(query)}


def _levels(conn: Connection, order_ids: set[str]) -> dict[tuple[str, str], int | None]:
    """(order, promoter) -> the promoter's one level on the order, or None if several."""
    found: dict[tuple[str, str], int | None] = {}
    o = t.orders.c
    for batch in _batches(sorted(order_ids)):
        for order_id, text in conn.execute(select(o.order_id, o.beneficiaries)
                                           .where(o.order_id.in_(batch))):
            for b in order_codec.decode_beneficiaries(text):
                key = (order_id, b.promoter_id)
                found[key] = None if key in found else b.level
    return found


def _batches(items: Sequence[str], size: int = 5_000) -> Iterable[Sequence[str]]:
    """Bounded IN lists: SQLite caps bound parameters (32,766) and PostgreSQL plans degrade."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def applied_events(conn: Connection, event_type: str, fields: Sequence[str],
                   as_of: datetime | None = None) -> AppliedEvents:
    """Applied events of `event_type` up to `as_of`: ts plus the named payload fields."""
    e = t.events.c
    query = (select(e.ts, *(payload_field(conn, key) for key in fields))
             .where(e.type == event_type, e.status == _APPLIED))
    if as_of is not None:
        query = query.where(e.ts <= as_of)
    with _bulk_read():
        return AppliedEvents(event_type, tuple(fields),
                             [tuple(row) for row in conn.execute(query)])


def promoters(conn: Connection, as_of: datetime | None = None) -> list[PromoterRow]:
    """Promoters joined by `as_of` (suspension is current state and deliberately left out)."""
    c = t.promoters.c
    query = select(c.promoter_id, c.parent_id, c.grade, c.joined_at)
    if as_of is not None:
        query = query.where(c.joined_at <= as_of)
    with _bulk_read():
        return [_new(PromoterRow, row) for row in conn.execute(query)]


def touches(conn: Connection, as_of: datetime | None = None) -> list[TouchRow]:
    c = t.touches.c
    query = select(c.customer_id, c.promoter_id, c.ts, c.kind, c.channel)
    if as_of is not None:
        query = query.where(c.ts <= as_of)
    with _bulk_read():
        return [_new(TouchRow, row) for row in conn.execute(query)]


def customer_bindings(conn: Connection, as_of: datetime | None = None) -> list[BindingRow]:
    c = t.customer_bindings.c
    query = select(c.customer_id, c.promoter_id, c.bound_at)
    if as_of is not None:
        query = query.where(c.bound_at <= as_of)
    with _bulk_read():
        return [_new(BindingRow, row) for row in conn.execute(query)]


def order_currencies(conn: Connection, as_of: datetime | None = None) -> dict[str, int]:
    """How many orders were paid in each currency by `as_of`."""
    o = t.orders.c
    query = select(o.currency, func.count()).group_by(o.currency)
    if as_of is not None:
        query = query.where(o.paid_at <= as_of)
    return {currency: int(count) for currency, count in conn.execute(query)}


def last_event_at(conn: Connection, status: EventStatus | None = None) -> datetime | None:
    """The instant of the latest recorded event (of `status` if named); None for empty books."""
    query = select(func.max(t.events.c.ts))
    if status is not None:
        query = query.where(t.events.c.status == status.value)
    value: datetime | None = conn.execute(query).scalar_one_or_none()
    return value


def explain_order(conn: Connection, order_id: str) -> OrderExplanation | None:
    """How every amount of an order was produced (None if the order was never paid): its
    current split recomputed step by step under the version it was paid by, checked against the
    books, and every posting booked for it."""
    o = t.orders.c
    row = conn.execute(select(o.order_id, o.merchant_id, o.currency, o.paid_at,
                              o.plan_version_id, o.lines, o.beneficiaries, o.allocation)
                       .where(o.order_id == order_id)).one_or_none()
    if row is None:
        return None
    plan = load_plan_book(conn).by_id(row.plan_version_id)
    split = explain_split(order_codec.decode_lines_raw(row.lines),
                          order_codec.decode_beneficiaries(row.beneficiaries),
                          order_codec.decode_allocation(row.allocation), plan, row.merchant_id,
                          row.paid_at)
    e, j, p = t.events.c, t.journal_entries.c, t.postings.c
    events = select(e.event_id).where(e.type.in_(("order_paid", "order_refunded")),
                                      e.status == _APPLIED,
                                      payload_field(conn, "order_id") == order_id)
    postings = conn.execute(
        select(j.entry_id, j.kind, j.occurred_at, p.account_kind, p.owner_id, p.amount_minor)
        .select_from(t.journal_entries.join(t.postings, p.entry_id == j.entry_id))
        .where(or_(j.event_id.in_(events), j.entry_id == f"release:{order_id}"))
        .order_by(j.occurred_at, j.entry_id, p.posting_id)).all()
    return OrderExplanation(row.order_id, row.merchant_id, row.currency, row.paid_at,
                            row.plan_version_id, split,
                            tuple(PostingLine(*posting) for posting in postings))


def guarantee_months(conn: Connection, promoter_id: str) -> tuple[str, list[GuaranteeMonth]]:
    """The months of a promoter's guarantee posted so far (`settlement.guarantees`), each with
    the level-1 commission it was computed from and the top-up booked, and the books' currency
    (empty when the promoter has no guarantee or none of its months ended yet)."""
    plans = load_plan_book(conn)
    currency = plans.versions[0].currency if plans else ""
    return currency, posted_months(conn, plans, promoter_id)
