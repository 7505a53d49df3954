"""Use cases of the settlement core: apply events in batches, release holds.

Every batch runs in one transaction and is retried from fresh state when a concurrent writer got
there first (a unique key taken, a row changed, a deadlock or lock timeout). Retrying is safe
because the batch's effects are all-or-nothing and every event is recognised by its id.
"""

from __future__ import annotations

import gc
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from settlement.book_lock import share_book
from settlement.engine import EventStatus, Outcome, Settler
from settlement.events import Event
from settlement.guarantees import post_guarantees
from settlement.order_screen import DEFAULT_SCREEN, OrderScreen, OrderScreener
from settlement.plan import PlanBook
from settlement.repository import DatabaseSource, StaleState, flush
from settlement.state import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 12
RETRY_BASE_DELAY_S = 0.02
RETRY_MAX_DELAY_S = 1.0
RELEASE_BATCH = 2000
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "23505"}


def retryable(error: BaseException) -> bool:
    """Conflicts with a concurrent writer, whether SQLAlchemy wrapped the driver error or not."""
    if isinstance(error, StaleState | IntegrityError | sqlite3.IntegrityError):
        return True
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    if getattr(driver_error, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(driver_error, sqlite3.OperationalError) and "locked" in str(driver_error)


def in_transaction(engine: Engine, work: Callable[[Connection], T],
                   attempts: int = MAX_ATTEMPTS) -> T:
    """Run `work` in a transaction, retrying with jittered backoff when a concurrent writer won."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except Exception as error:  # noqa: BLE001 - filtered just below
            if not retryable(error) or attempt == attempts:
                raise
            delay = min(RETRY_MAX_DELAY_S, RETRY_BASE_DELAY_S * 2**attempt)
            log.info("retrying batch after %s (attempt %d)", type(error).__name__, attempt)
            time.sleep(random.uniform(0, delay))
    raise RuntimeError("unreachable")


def apply_batch(conn: Connection, plans: PlanBook, batch: Sequence[Event],
                defer_missing: bool = False, screen: OrderScreen = DEFAULT_SCREEN
                ) -> list[Outcome]:
    """Apply events in the given order inside the caller's transaction and write the result.

    With `defer_missing`, an event naming a promoter or order that does not exist yet comes back
    as WAITING with nothing stored, for a streaming caller to hold and offer again later. Paid
    orders go through the order-time risk `screen` (a hit holds the order's commission).
    """
    share_book(conn)
    workspace = Workspace(DatabaseSource(conn), plans.max_lookback_days)
    workspace.prefetch(batch)
    screener = OrderScreener(screen)
    screener.prefetch(conn, batch)
    settler = Settler(workspace, plans, defer_missing, screener)
    with collector_paused():
        outcomes = [settler.apply(event) for event in batch]
    flush(conn, workspace.changes)
    if screener.pending:
        screener.flush(conn, {o.event_id for o in outcomes if o.status == EventStatus.APPLIED})
    return outcomes


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds its (acyclic) objects.

    Applying a batch allocates hundreds of thousands of small tuples and none of them form cycles;
    letting the collector rescan them costs about a fifth of the time. Reference counting still
    frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def sort_events(events: Iterable[Event]) -> list[Event]:
    """Timestamp order; equal timestamps keep their delivery order (the sort is stable)."""
    return sorted(events, key=lambda event: event.ts)


def apply_events(engine: Engine, plans: PlanBook, events: Sequence[Event],
                 batch_size: int, screen: OrderScreen = DEFAULT_SCREEN) -> list[Outcome]:
    """Apply already-ordered events in micro-batches of `batch_size`, one transaction each."""
    outcomes: list[Outcome] = []
    for start in range(0, len(events), batch_size):
        batch = events[start:start + batch_size]

        def work(conn: Connection, batch: Sequence[Event] = batch) -> list[Outcome]:
            return apply_batch(conn, plans, batch, screen=screen)

        outcomes.extend(in_transaction(engine, work))
    return outcomes


def release_batch(conn: Connection, plans: PlanBook, as_of: datetime, limit: int) -> int:
    """Release up to `limit` orders whose hold ended by `as_of`; returns how many were released."""
    source = DatabaseSource(conn)
    due = source.load_orders_due(as_of, limit)
    if not due:
        return 0
    workspace = Workspace(source, plans.max_lookback_days)
    workspace.adopt_orders(due)
    settler = Settler(workspace, plans)
    released = sum(settler.release_if_due(order, as_of) for order in due.values())
    flush(conn, workspace.changes)
    return released


def release_orders(conn: Connection, order_ids: Sequence[str], as_of: datetime) -> list[str]:
    """Release the named orders whose hold ended by `as_of` (a risk hold just lifted), inside
    the caller's transaction; returns those released. Releases are booked at their due instant,
    as the release job books them."""
    source = DatabaseSource(conn)
    orders = source.load_orders(list(order_ids))
    workspace = Workspace(source, 0)
    workspace.adopt_orders(orders)
    settler = Settler(workspace, PlanBook([]))  # releasing reads no plan
    released = [order_id for order_id, order in sorted(orders.items())
                if settler.release_if_due(order, as_of)]
    flush(conn, workspace.changes)
    return released


def release_all(conn: Connection, plans: PlanBook, as_of: datetime,
                batch_size: int = RELEASE_BATCH) -> int:
    """Release every hold that ended by `as_of` and post the guaranteed months that ended by
    then, inside the caller's transaction (an import)."""
    total = 0
    while True:
        released = release_batch(conn, plans, as_of, batch_size)
        total += released
        if released < batch_size:
            post_guarantees(conn, plans, as_of)
            return total


def release_due(engine: Engine, plans: PlanBook, as_of: datetime,
                batch_size: int = RELEASE_BATCH) -> int:
    """Release every hold that ended by `as_of`, then post the guaranteed months that ended by
    then (`settlement.guarantees`): the one function the CLI, ingest and API share."""
    total = 0
    while True:
        released = in_transaction(engine, lambda conn: release_batch(conn, plans, as_of,
                                                                     batch_size))
        total += released
        if released < batch_size:
            in_transaction(engine, lambda conn: post_guarantees(conn, plans, as_of))
            return total
