"""Importing an order-history CSV into the books: validate all, then apply all or nothing.

`read_order_file` parses and validates every row (no database); `import_orders` converts the
orders to settlement events and applies them, then releases the holds due by the file's last
instant, all in ONE transaction: if any event is refused by the engine, the transaction is rolled
back and the reasons come back by row number. Nothing of a file is ever half-stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from features.importer.convert import build_events
from features.importer.domain import ImportOptions, ImportSummary, Order, Row
from features.importer.errors import ImportFileError, ImportRejected, Reject
from features.importer.orders import group_orders
from features.importer.reader import read_rows
from features.importer.rows import parse_row
from settlement.engine import CONFLICT, REJECTED, Outcome
from settlement.events import Event
from settlement.ingest import apply_history
from settlement.plan import PlanBook
from settlement.repository import DatabaseSource
from settlement.service import in_transaction


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A file whose every row is valid, grouped into orders (in order of first appearance)."""

    rows: int
    orders: list[Order]


def parse_lines(lines: Iterable[str], options: ImportOptions, plans: PlanBook) -> ParsedFile:
    """Validate every row of a CSV text; raise `ImportRejected` with all problems if any."""
    if not plans:
        raise ImportFileError("no commission plan is stored: run `fenrun plan apply PLAN.yaml`")
    raw_rows, rejects = read_rows(lines, options)
    rows: list[Row] = []
    for raw in raw_rows:
        parsed = parse_row(raw, options, plans)
        if isinstance(parsed, Row):
            rows.append(parsed)
        else:
            rejects.extend(parsed)
    orders, order_rejects = group_orders(rows, options)
    if rejects or order_rejects:
        raise ImportRejected(rejects + order_rejects)
    return ParsedFile(len(raw_rows), orders)


def read_order_file(path: Path, options: ImportOptions, plans: PlanBook) -> ParsedFile:
    """`parse_lines` over a file, with unreadable or wrongly encoded files as `ImportFileError`."""
    try:
        with path.open(encoding=options.encoding, newline="") as handle:
            return parse_lines(handle, options, plans)
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ImportFileError(f"not {options.encoding} text (byte {error.start}): pass "
                              "--encoding, e.g. gbk for many Chinese exports") from None
    except LookupError:
        raise ImportFileError(f"--encoding: unknown encoding {options.encoding!r}") from None


def summarize(parsed: ParsedFile, new_promoters: int, last_at: datetime | None) -> ImportSummary:
    orders = parsed.orders
    gmv: Counter[str] = Counter()
    refunded: Counter[str] = Counter()
    for order in orders:
        gmv[order.currency] += order.amount_minor
        refunded[order.currency] += order.refunded_minor
    return ImportSummary(
        rows=parsed.rows, orders=len(orders), lines=sum(len(o.lines) for o in orders),
        customers=len({o.customer_id for o in orders}),
        promoters=len({o.promoter_id for o in orders if o.promoter_id is not None}),
        new_promoters=new_promoters, gmv_minor=dict(gmv), refunded_minor=dict(refunded),
        first_at=min((o.paid_at for o in orders), default=None), last_at=last_at)


class _DryRun(Exception):
    """Raised inside the transaction to roll a complete dry run back."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("dry run")
        self.summary = summary


_CONFLICT_REASON = ("{event_id} is already in the books with different content (was the file "
                    "or an option such as --timezone changed since it was imported?)")


def _engine_rejects(events: list[Event], outcomes: list[Outcome],
                    row_of: dict[str, int]) -> list[Reject]:
    """The events the engine refused, against the row that produced them."""
    rejects = []
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome.status == CONFLICT:
            reason = _CONFLICT_REASON.format(event_id=event.event_id)
        elif outcome.status == REJECTED:
            reason = outcome.reason or REJECTED
        else:
            continue
        rejects.append(Reject(row_of[event.event_id], event.type, reason))
    return rejects


def _import(conn: Connection, parsed: ParsedFile, dry_run: bool) -> ImportSummary:
    promoter_ids = sorted({o.promoter_id for o in parsed.orders if o.promoter_id is not None})
    known = set(DatabaseSource(conn).load_promoters(promoter_ids))
    events, row_of, rejects = build_events(parsed.orders, known)
    if rejects:
        raise ImportRejected(rejects)
    outcomes, tally = apply_history(conn, events)
    rejects = _engine_rejects(events, outcomes, row_of)
    if rejects:
        raise ImportRejected(rejects)
    last_at = events[-1].ts if events else None
    summary = replace(summarize(parsed, len(promoter_ids) - len(known), last_at),
                      events_applied=tally.applied, events_already_present=tally.duplicate,
                      holds_released=tally.released, dry_run=dry_run)
    if dry_run:
        raise _DryRun(summary)
    return summary


def import_orders(engine: Engine, plans: PlanBook, parsed: ParsedFile,
                  dry_run: bool = False) -> ImportSummary:
    """Apply a validated file in one transaction (rolled back on any engine reject or dry run).

    `plans` validated the rows; the events are settled by the versions stored when the
    transaction runs, through settlement's one way in (`settlement.ingest.apply_history`).
    """
    try:
        return in_transaction(engine, lambda conn: _import(conn, parsed, dry_run))
    except _DryRun as done:
        return done.summary
