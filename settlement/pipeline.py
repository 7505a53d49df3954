"""The pipelined writer of one ingest: the rules decide batch N+1 while a thread commits batch N.

Applying a batch is Python work (rules, then formatting rows) followed by database work (COPY,
updates, commit). Done one after the other, their times add up; here a writer thread sends
batch N while the main thread decides N+1, so the slower of the two sets the pace. Rows are
formatted in the main thread (`prepare_flush`): formatting inside the writer would only fight
the rules for the GIL. The writer mostly waits on the database with the GIL released; a short
switch interval hands it the GIL as soon as its answer arrives.

What keeps it right:
- State is kept across batches (what was read, and what earlier batches wrote) only while this
  writer holds the book alone (`book_lock.py`): on PostgreSQL every other applying transaction
  waits for it; on SQLite each write checks that no other connection committed meanwhile. Event
  ids are not looked up: every decided event writes its row, so the events primary key refuses
  a wrong guess of "new".
- Outcomes are handed out only once their batch is committed, in order.
- A write refused as a conflict (a key taken, a version moved, another writer or a new plan
  version since this writer read): no later batch is written; the batches not yet committed
  are applied again through the reading path (`reapply`: one transaction each, state read
  afresh, as every writer does), and so is the rest of the ingest.
- Any other writer error stops the ingest with that error: every batch before it is committed,
  none from it on (each batch is one transaction, and the thread writes nothing after a failure).

The cyclic garbage collector stays off for the whole run, not only while a batch is decided: a
batch's objects form no cycles (reference counting frees them), but once collection was
enabled again between batches, the first one scanned every object the batch had left alive and
the older generations rescanned the state carried over, about 20 µs per order. A young-generation
collection every `COLLECT_EVERY_BATCHES` batches bounds what a stray cycle could hold.
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from settlement.book_lock import data_version, let_go_book, try_hold_book
from settlement.engine import EventStatus, Outcome, Settler
from settlement.events import Event
from settlement.order_screen import (
    DEFAULT_SCREEN,
    OrderScreen,
    OrderScreener,
    ScreenWrites,
    write_screen,
)
from settlement.plan import PlanBook
from settlement.plan_store import PlanWatch
from settlement.repository import (
    DatabaseSource,
    PreparedFlush,
    StaleState,
    prepare_flush,
    write_flush,
)
from settlement.service import collector_paused, retryable
from settlement.state import Workspace

T = TypeVar("T")
MAX_HELD = 200_000  # orders, promoters and customers kept across batches before starting afresh
QUEUE_DEPTH = 1  # prepared batches waiting for the writer: bounds memory to ~3 batches
SWITCH_INTERVAL_S = 0.0005  # while the pipeline runs (the default 5 ms starves the writer)
COLLECT_EVERY_BATCHES = 64  # young-generation collections while the collector is paused


class BookChanged(StaleState):
    """Another connection committed, or a plan version was stored, since this writer read."""


@dataclass(frozen=True, slots=True)
class _Job:
    index: int
    prepared: PreparedFlush
    screen: ScreenWrites  # the order-time screen's holds, cases and join devices
    applied: frozenset[str]  # the batch's applied event ids (a rejected join stores no device)


@dataclass(frozen=True, slots=True)
class _Done:
    index: int
    error: BaseException | None
    skipped: bool = False  # not attempted: an earlier batch failed


class _Writer(threading.Thread):
    """Commits prepared batches in order, one transaction each; after a failure, writes none."""

    def __init__(self, conn: Connection, plans_stamp: Any, version: int | None) -> None:
        super().__init__(name="fenrun-book-writer", daemon=True)
        self.conn = conn
        self.jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self.plans = PlanWatch()
        self.plans_stamp = plans_stamp
        self.version = version
        self.failed = False

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.failed:
                self.done.put(_Done(job.index, None, skipped=True))
                continue
            try:
                with self.conn.begin():
                    self._check_unchanged()
                    write_flush(self.conn, job.prepared)
                    if job.screen:
                        write_screen(self.conn, job.screen, set(job.applied))
            except BaseException as error:  # noqa: BLE001 - handed to the deciding thread
                self.failed = True
                self.done.put(_Done(job.index, error))
            else:
                self.done.put(_Done(job.index, None))

    def _check_unchanged(self) -> None:
        if data_version(self.conn) != self.version:
            raise BookChanged("another connection wrote the books since this writer read them")
        self.plans.current(self.conn)
        if self.plans.stamp != self.plans_stamp:
            raise BookChanged("a plan version was stored since this writer read the plans")


@dataclass
class _Pending:
    index: int
    tag: Any
    events: Sequence[Event]
    outcomes: list[Outcome]


class _Run:
    """One pipelined ingest over a writer connection that holds the book."""

    def __init__(self, engine: Engine, conn: Connection, plans: PlanWatch,
                 reapply: Callable[[Sequence[Event]], list[Outcome]],
                 screen: Callable[[PlanBook], OrderScreen] = lambda _book: DEFAULT_SCREEN
                 ) -> None:
        self.engine = engine
        self.conn = conn
        self.reapply = reapply
        self.version = data_version(conn)  # before anything is read
        with conn.begin():
            self.book: PlanBook = plans.current(conn)
        # One screener for the run: joins and holds of batches not yet committed stay known.
        # The screen is the writer's (`Ingest.screen`), for the books' currency.
        self.screener = OrderScreener(screen(self.book))
        self.writer = _Writer(conn, plans.stamp, self.version)
        self.pending: deque[_Pending] = deque()
        self.fallen_back = False
        self.holding = True

    def run(self, batches: Iterable[tuple[T, Sequence[Event]]],
            reader: Any, postgres: bool) -> Iterator[tuple[T, list[Outcome]]]:
        source = DatabaseSource.over_driver(reader, postgres)
        self.writer.start()
        try:
            with collector_paused():
                yield from self._each(batches, source, reader)
            yield from self._confirm(block=True)
        finally:
            self._stop()

    def _each(self, batches: Iterable[tuple[T, Sequence[Event]]], source: DatabaseSource,
              reader: Any) -> Iterator[tuple[T, list[Outcome]]]:
        workspace: Workspace | None = None
        for index, (tag, events) in enumerate(batches):
            if index % COLLECT_EVERY_BATCHES == COLLECT_EVERY_BATCHES - 1:
                gc.collect(0)
            if not self.fallen_back:
                yield from self._confirm(block=False)
            if not self.fallen_back and (workspace is None or not workspace.covers(events)
                                         or workspace.held() > MAX_HELD):
                yield from self._confirm(block=True)  # a fresh workspace reads committed rows
                workspace = Workspace(source, self.book.max_lookback_days,
                                      read_event_ids=False)
            if self.fallen_back or workspace is None:
                yield tag, self.reapply(events)
                continue
            workspace.prefetch(events)
            self.screener.prefetch_with(source.lookup, events)
            settler = Settler(workspace, self.book, False, self.screener)
            outcomes = [settler.apply(event) for event in events]
            prepared = prepare_flush(reader, self.engine.dialect, workspace.changes)
            workspace.carry_over()
            applied = frozenset(o.event_id for o in outcomes if o.status == EventStatus.APPLIED)
            self.pending.append(_Pending(index, tag, events, outcomes))
            self.writer.jobs.put(_Job(index, prepared, self.screener.take(), applied))

    def _confirm(self, block: bool) -> Iterator[tuple[Any, list[Outcome]]]:
        """Hand out committed batches in order; on a conflict, fall back (see the module)."""
        while self.pending:
            try:
                done = self.writer.done.get(block=block)
            except queue.Empty:
                return
            head = self.pending[0]
            if done.index != head.index or done.skipped:
                raise RuntimeError(f"writer answered batch {done.index}, expected {head.index}")
            if done.error is None:
                self.pending.popleft()
                yield head.tag, head.outcomes
                continue
            self._stop()
            if not retryable(done.error):
                raise done.error
            self.fallen_back = True
            again, self.pending = list(self.pending), deque()
            for item in again:
                yield item.tag, self.reapply(item.events)
            return

    def _stop(self) -> None:
        """End the writer (it commits what is queued unless it failed); give the book back."""
        if self.writer.is_alive():
            self.writer.jobs.put(None)
            self.writer.join()
        if self.holding:
            self.holding = False
            _let_go(self.conn)


def _let_go(conn: Connection) -> None:
    """Give the book back; if the connection is broken, drop it (its session locks go with it)."""
    try:
        let_go_book(conn)
    except Exception:  # noqa: BLE001 - the session and its lock end with the connection
        conn.invalidate()


def pipelined(engine: Engine, plans: PlanWatch, batches: Iterable[tuple[T, Sequence[Event]]],
              reapply: Callable[[Sequence[Event]], list[Outcome]],
              screen: Callable[[PlanBook], OrderScreen] = lambda _book: DEFAULT_SCREEN
              ) -> Iterator[tuple[T, list[Outcome]]]:
    """Apply `(tag, events)` batches in order, yielding `(tag, outcomes)` once each is committed.

    `reapply` is the reading path for one batch (its own transaction); it is used for every batch
    when the book cannot be held alone, and from a conflict on.
    """
    conn = engine.connect()
    try:
        if not try_hold_book(conn):
            for tag, events in batches:
                yield tag, reapply(events)
            return
        try:
            run = _Run(engine, conn, plans, reapply, screen)
        except BaseException:
            _let_go(conn)
            raise
        postgres = engine.dialect.name == "postgresql"
        reader = engine.raw_connection()
        driver = reader.driver_connection
        if driver is None:
            raise RuntimeError("the reader has no live driver connection")
        if postgres:
            driver.autocommit = True  # each lookup sees what the writer committed so far
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            yield from run.run(batches, driver, postgres)
        finally:
            sys.setswitchinterval(interval)
            run._stop()
            if postgres:
                driver.autocommit = False
            reader.close()
    finally:
        conn.close()
