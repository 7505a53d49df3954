"""What-if, the replay: the books' own events re-settled in scratch books, never the real ones.

`what_if(books, start, end, rates)` copies the stored plan versions (changed by
`whatif.scenario_versions`) into empty scratch books, offers them every event the real books
applied up to `end`, in time order, through the one ingestion use case (`ingest.Ingest`), reads
both sides' commission through the read model and compares them (`whatif.compare_commissions`).

Why re-settle from the first event, not only the window: an order's commission depends on the
referral tree, bindings and touches from long before it; replaying everything makes the scratch
books exactly what the real ones would have been. Two checks say the replay is faithful, and the
what-if refuses (`WhatIfDiverged`) rather than report a cost over a replay that is not:
- every event the books applied applies again (none rejected);
- every commission booked before `start` (where nothing differs) equals the real books' own.

The real books are only read (one connection, `SELECT`s). The scratch books are a temporary
SQLite file by default (the embedded engine runs the same settlement rules; nothing is created
beside production's database, no CREATE DATABASE right is needed), dropped afterwards; a caller
may name another empty database (`scratch_url`), never the books themselves.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, case, select
from sqlalchemy.engine import make_url

from settlement import read_model
from settlement import tables as t
from settlement.db import create_db_engine, ensure_schema
from settlement.engine import APPLIED, EventStatus
from settlement.errors import SettlementError
from settlement.events import Event, parse_json_line
from settlement.ingest import Ingest
from settlement.plan_store import store_versions, stored_versions
from settlement.whatif import CostChange, check_window, compare_commissions, scenario_versions

REPLAY_BATCH = 2000  # events per scratch transaction
MAX_REPLAY_EVENTS = 20_000_000  # a what-if re-settles at most this many events
# Same-instant events in the order their references need: a touch names a joined promoter, a
# refund a paid order. The books applied them so; a plain time sort could put them otherwise.
_TYPE_ORDER = ("promoter_joined", "promoter_reinstated", "promoter_suspended", "touch",
               "order_paid", "order_confirmed", "order_refunded")


class WhatIfDiverged(SettlementError):
    """The replay did not reproduce the books, so no cost it computed can be trusted."""

    code = "what_if_diverged"


@contextmanager
def _scratch(books_url: str, scratch_url: str | None) -> Iterator[Engine]:
    """Empty, migrated scratch books (a temporary SQLite file unless `scratch_url`)."""
    with tempfile.TemporaryDirectory(prefix="fenrun-whatif-") as root:
        url = scratch_url or f"sqlite:///{Path(root) / 'whatif.db'}"
        if make_url(url).render_as_string() == make_url(books_url).render_as_string():
            raise SettlementError("scratch_url: a what-if never writes into the books it reads")
        engine = create_db_engine(url)
        try:
            ensure_schema(engine)
            with engine.connect() as conn:
                if conn.execute(select(t.events.c.event_id).limit(1)).first() is not None:
                    raise SettlementError("scratch_url: the scratch database must hold no books")
            yield engine
        finally:
            engine.dispose()


def _applied_events(conn: Connection, end: datetime) -> Iterator[str]:
    """Payloads of the events the books applied up to `end`, in the order to re-apply them."""
    e = t.events.c
    rank = case({name: index for index, name in enumerate(_TYPE_ORDER)}, value=e.type,
                else_=len(_TYPE_ORDER))
    query = (select(e.payload).where(e.status == EventStatus.APPLIED.value, e.ts <= end)
             .order_by(e.ts, rank, e.event_id))
    for count, (payload,) in enumerate(
            conn.execution_options(yield_per=REPLAY_BATCH).execute(query), start=1):
        if count > MAX_REPLAY_EVENTS:
            raise SettlementError(f"--to: more than {MAX_REPLAY_EVENTS:,} events to re-settle; "
                                  "a what-if window must end earlier")
        yield payload


def _replay(books: Connection, scratch: Engine, end: datetime) -> None:
    ingest = Ingest(scratch, REPLAY_BATCH)
    batch: list[Event] = []
    for payload in _applied_events(books, end):
        batch.append(parse_json_line(payload))
        if len(batch) == REPLAY_BATCH:
            _apply(ingest, batch)
            batch = []
    _apply(ingest, batch)


def _apply(ingest: Ingest, batch: list[Event]) -> None:
    for outcome in ingest.apply(batch):
        if outcome.status != APPLIED:
            raise WhatIfDiverged(f"event {outcome.event_id}: applied in the books, "
                                 f"{outcome.status} on replay ({outcome.reason})")


def _check_before(real: list[read_model.CommissionRow], replayed: list[read_model.CommissionRow],
                  start: datetime) -> None:
    def before(rows: list[read_model.CommissionRow]) -> Counter[tuple[object, ...]]:
        return Counter((r.promoter_id, r.order_id, r.occurred_at, r.amount_minor)
                       for r in rows if r.occurred_at < start)

    if before(real) != before(replayed):
        raise WhatIfDiverged("commission booked before --from differs between the books and "
                             "their replay: the replay does not reproduce the books")


def what_if(books: Engine, start: datetime, end: datetime, rates: Mapping[str, str], *,
            segment_of: Mapping[str, str] | None = None,
            scratch_url: str | None = None) -> CostChange:
    """Re-settle the books up to `end` with `rates` (promoter -> level-1 rate) in force from
    `start`, in scratch books; the window's commission cost, real against scenario."""
    check_window(start, end)
    with books.connect() as conn:
        versions = [stored.version for stored in stored_versions(conn)]
        scenario = scenario_versions(versions, start, end, rates)
        with _scratch(str(books.url.render_as_string(hide_password=False)),
                      scratch_url) as scratch:
            with scratch.begin() as scratch_conn:
                store_versions(scratch_conn, scenario)
            _replay(conn, scratch, end)
            with scratch.connect() as scratch_conn:
                replayed = read_model.commissions(scratch_conn, end, levels=True)
        real = read_model.commissions(conn, end, levels=True)
        _check_before(real, replayed, start)
        order_ids = {r.order_id for r in (*real, *replayed) if r.occurred_at >= start}
        merchant_of = {o.order_id: o.merchant_id for o in read_model.read_orders(conn, end).orders
                       if o.order_id in order_ids}
    return compare_commissions(real, replayed, start=start, end=end,
                               currency=scenario[0].currency, rates=rates,
                               merchant_of=merchant_of, segment_of=segment_of)
