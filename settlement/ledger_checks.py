"""Ledger verifications kept: who ran `verify_ledger` when, and what it found.

`fenrun ledger verify`, `GET /v1/ledger/verify` and the finance page record each run, so finance
sees the last verification and its result before trusting a payout or a statement. At most
`MAX_KEPT_PROBLEMS` problems are stored per run (the count is exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from settlement import finance_tables as f
from settlement.reports import verify_ledger

MAX_KEPT_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    checked_at: datetime
    checked_by: str
    problem_count: int
    problems: list[str]  # the first MAX_KEPT_PROBLEMS

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def verify_and_record(engine: Engine, checked_by: str, at: datetime) -> tuple[list[str],
                                                                              LedgerCheck]:
    """Verify the books (every problem) and record the run."""
    with engine.connect() as conn:
        problems = verify_ledger(conn)
    kept = problems[:MAX_KEPT_PROBLEMS]
    with engine.begin() as conn:
        conn.execute(f.ledger_checks.insert().values(
            checked_at=at, checked_by=checked_by[:100], problem_count=len(problems),
            problems="\n".join(kept)))
    return problems, LedgerCheck(at, checked_by, len(problems), kept)


def last_check(conn: Connection) -> LedgerCheck | None:
    """The newest recorded verification, or None if the books were never verified."""
    c = f.ledger_checks.c
    row = conn.execute(select(c.checked_at, c.checked_by, c.problem_count, c.problems)
                       .order_by(c.checked_at.desc(), c.check_id.desc()).limit(1)).first()
    if row is None:
        return None
    return LedgerCheck(row[0], row[1], int(row[2]), row[3].splitlines() if row[3] else [])
