"""Where the settle path's Python time goes, per order, stage by stage, without a database.

The pipelined writer (settlement/pipeline.py) runs as fast as the slower of its two threads, and
on this machine that is the thread deciding batches. This replays what that thread does for the
bench's own events (settle_bench.generate) on a fresh book: prefetch, the rules, formatting the
rows (binary COPY for PostgreSQL, parameter rows for SQLite), carrying state over. Reads come from
an empty source, as a fresh book held across batches sees it, so no query runs and the figures
are this process's CPU alone. CPU time of this thread, the least of `repeats` runs, so that other
work on a shared machine disturbs it less than wall time.

Run: `python -m benchmarks.settle_stages [orders] [repeats]`; PostgreSQL formatting needs a
server for psycopg's adapters (FENRUN_TEST_POSTGRES_URL), else only SQLite is measured.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from benchmarks.settle_bench import BATCH, PLAN, generate
from settlement.attribution import TouchRecord
from settlement.engine import Settler
from settlement.events import Event
from settlement.ledger import AccountKey
from settlement.order_screen import DEFAULT_SCREEN, OrderScreener
from settlement.plan import PlanBook, parse_plan_text
from settlement.repository import prepare_flush
from settlement.state import KnownEvent, OrderState, PromoterState, Workspace

STAGES = ("prefetch", "rules", "format rows", "carry over")
MAX_ORDERS = 200_000


class _EmptyBook:
    """A `StateSource` with nothing stored: every id is new, as for a fresh book's first run."""

    def load_events(self, event_ids: list[str]) -> dict[str, KnownEvent]:
        return {}

    def load_promoters(self, promoter_ids: list[str]) -> dict[str, PromoterState]:
        return {}

    def load_orders(self, order_ids: list[str]) -> dict[str, OrderState]:
        return {}

    def load_touches(self, customer_ids: list[str], since: datetime
                     ) -> dict[str, list[TouchRecord]]:
        return {}

    def load_bindings(self, customer_ids: list[str]) -> dict[str, str]:
        return {}

    def load_balance(self, key: AccountKey) -> int:
        return 0

    def load_tallies(self, owner_ids: list[str], periods: list[str] | None
                     ) -> dict[str, tuple[str, int]]:
        return {}


class _NoRows:
    """The screen's lookup on an empty book."""

    def rows(self, sql: str, ids: Sequence[str] | None, *params: Any) -> list[tuple[Any, ...]]:
        return []


def one_run(events: list[Event], book: PlanBook, raw: Any, dialect: Any) -> dict[str, float]:
    """CPU seconds of this thread per stage over all batches, as the pipelined writer runs them."""
    spent = dict.fromkeys(STAGES, 0.0)
    workspace = Workspace(_EmptyBook(), book.max_lookback_days, read_event_ids=False)
    screener = OrderScreener(DEFAULT_SCREEN)
    clock = time.thread_time
    gc.disable()  # as the pipelined writer runs
    try:
        for start in range(0, len(events), BATCH):
            batch = events[start:start + BATCH]
            began = clock()
            workspace.prefetch(batch)
            screener.prefetch_with(_NoRows(), batch)
            prefetched = clock()
            settler = Settler(workspace, book, False, screener)
            for event in batch:
                settler.apply(event)
            decided = clock()
            prepare_flush(raw, dialect, workspace.changes)
            formatted = clock()
            workspace.carry_over()
            screener.take()
            done = clock()
            for stage, seconds in zip(STAGES, (prefetched - began, decided - prefetched,
                                               formatted - decided, done - formatted),
                                      strict=True):
                spent[stage] += seconds
    finally:
        gc.enable()
    return spent


def run(orders: int = 20_000, repeats: int = 3) -> dict[str, dict[str, float]]:
    if not 1 <= orders <= MAX_ORDERS:
        raise ValueError(f"orders: {orders} must be between 1 and {MAX_ORDERS}")
    events = generate(orders)
    gc.freeze()
    book = PlanBook(parse_plan_text(PLAN))
    targets: list[tuple[str, Any, Any]] = [("sqlite", None, sqlite.pysqlite.dialect())]
    url = os.environ.get("FENRUN_TEST_POSTGRES_URL")
    raw = None
    if url:
        import psycopg  # only when a server is configured

        raw = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
        targets.insert(0, ("postgresql", raw, postgresql.psycopg.dialect()))
    results: dict[str, dict[str, float]] = {}
    try:
        for kind, connection, dialect in targets:
            runs = [one_run(events, book, connection, dialect) for _ in range(repeats)]
            best = {stage: min(r[stage] for r in runs) * 1e6 / orders for stage in STAGES}
            best["total"] = min(sum(r.values()) for r in runs) * 1e6 / orders
            results[kind] = best
            parts = ", ".join(f"{stage} {best[stage]:.1f}" for stage in STAGES)
            print(f"settle stages[{kind}], µs CPU per order (least of {repeats}): "
                  f"{parts}; total {best['total']:.1f}")
    finally:
        if raw is not None:
            raw.close()
    return results


if __name__ == "__main__":
    run(*(int(value) for value in sys.argv[1:3]))
