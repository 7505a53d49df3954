"""Statements kept for finance and promoters: built per cycle period, or for a promoter whose
balance passed the configured threshold since its last statement.

A statement is stored once per promoter and period (a unique key); building the same period again
replaces its figures (an event delivered late with an old timestamp changes a past period, and
the statement must say what the ledger says). Lines are not stored: the ledger is immutable, so
`settlement.statements.statement_lines` gives them again, the same, whenever asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from settlement import finance_tables as f
from settlement.errors import NotFound
from settlement.service import in_transaction
from settlement.statement_periods import Period
from settlement.statements import Statement, StatementLine, build_statements, owed_before

CYCLE, THRESHOLD = "cycle", "threshold"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIGURES = ("opening_minor", "commission_minor", "released_minor", "clawback_minor",
            "payout_minor", "withdrawal_minor", "closing_minor")


def _save(conn: Connection, statements: Sequence[Statement], trigger: str, built_by: str,
          at: datetime) -> None:
    c = f.statements.c
    for s in statements:
        conn.execute(delete(f.statements).where(c.promoter_id == s.promoter_id,
                                                c.period_start == s.period_start,
                                                c.period_end == s.period_end))
    if statements:
        conn.execute(f.statements.insert(), [
            {"promoter_id": s.promoter_id, "currency": s.currency, "period": s.period,
             "period_start": s.period_start, "period_end": s.period_end, "trigger": trigger,
             "built_at": at, "built_by": built_by,
             **{name: getattr(s, name) for name in _FIGURES}} for s in statements])


def build_period(engine: Engine, currency: str, period: Period, built_by: str,
                 at: datetime) -> tuple[list[Statement], list[StatementLine]]:
    """Build and store every promoter's statement of a cycle period."""
    def work(conn: Connection) -> tuple[list[Statement], list[StatementLine]]:
        statements, lines = build_statements(conn, currency, period)
        _save(conn, statements, CYCLE, built_by, at)
        return statements, lines

    return in_transaction(engine, work)


def _last_ends(conn: Connection) -> dict[str, datetime]:
    c = f.statements.c
    query = select(c.promoter_id, c.period_end).order_by(c.period_end)
    return {promoter: end for promoter, end in conn.execute(query)}


def build_threshold(engine: Engine, currency: str, threshold_minor: int, as_of: datetime,
                    built_by: str) -> list[Statement]:
    """A statement from its last one (or the start of the books) to `as_of` for every promoter
    whose balance was below `threshold_minor` then and has reached it by `as_of`."""
    def work(conn: Connection) -> list[Statement]:
        last = _last_ends(conn)
        now = owed_before(conn, currency, as_of)
        made: list[Statement] = []
        for promoter, owed in sorted(now.items()):
            since = last.get(promoter, EPOCH)
            if owed < threshold_minor or since >= as_of:
                continue
            if owed_before(conn, currency, since, [promoter]).get(promoter, 0) >= threshold_minor:
                continue  # it was above already: this is not the balance passing it
            label = f"{since:%Y%m%dT%H%M}-{as_of:%Y%m%dT%H%M}"
            statements, _ = build_statements(conn, currency, Period(label, since, as_of, THRESHOLD),
                                             [promoter])
            made += statements
        _save(conn, made, THRESHOLD, built_by, as_of)
        return made

    return in_transaction(engine, work)


def _statement(row: Any) -> Statement:
    m = row._mapping
    return Statement(**{name: m[name] for name in Statement.__slots__})  # type: ignore[arg-type]


def stored_statements(conn: Connection, period: str | None = None,
                      promoter_id: str | None = None, limit: int = 100_000) -> list[Statement]:
    """Stored statements (of one period label or promoter), by period then promoter."""
    c = f.statements.c
    query = select(f.statements).order_by(c.period_start, c.promoter_id).limit(limit)
    if period is not None:
        query = query.where(c.period == period)
    if promoter_id is not None:
        query = query.where(c.promoter_id == promoter_id)
    return [_statement(row) for row in conn.execute(query)]


def stored_periods(conn: Connection, limit: int = 200) -> list[str]:
    """Labels of the cycle periods with statements (a day, week or month), newest first."""
    c = f.statements.c
    query = (select(c.period, c.period_start).distinct().where(c.trigger == CYCLE)
             .order_by(c.period_start.desc(), c.period).limit(limit))
    return [period for period, _ in conn.execute(query)]


def stored_statement(conn: Connection, promoter_id: str, period: str) -> Statement:
    found = stored_statements(conn, period, promoter_id, limit=1)
    if not found:
        raise NotFound(f"period: no statement of {promoter_id} for {period} "
                       "(`fenrun statements build --period ...` makes them)")
    return found[0]
