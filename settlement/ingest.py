"""The one way into the books: apply events, tally what became of them, release the due holds.

Every path that writes events goes through here: `fenrun settle` and the demo (`settle_file`),
`fenrun events retry` (`retry_rejected`), the order-history importer (`apply_history`, inside its
all-or-nothing transaction) and the Kafka worker (`Tally` and `PlanWatch` in its own step
transaction; see stream/worker.py for why its release schedule differs). So every writer:
- reads the plan versions inside the transaction that applies (`PlanWatch.current`): a version
  stored while it runs is used from its next transaction on;
- decides an event with the same rules (`service.apply_batch`), idempotent by `event_id`;
  a long run of batches (`apply_batches`: `fenrun settle`) goes through the pipelined writer
  (pipeline.py), which keeps state across batches while it holds the book alone and commits
  batch N while the rules decide N+1, with books byte-identical to the batch-by-batch path;
- counts outcomes the same way (`Tally`) and releases holds due by the last instant it applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine

from settlement.engine import APPLIED, CONFLICT, DUPLICATE, REJECTED, WAITING, Outcome
from settlement.event_file import FileIndex, index_file, read_in_order
from settlement.events import Event
from settlement.order_screen import OrderScreen, ScreenFor, screen_of
from settlement.pipeline import pipelined
from settlement.plan import PlanBook
from settlement.plan_store import PlanWatch
from settlement.rejections import MAX_LISTED, rejected_ids, stored_events
from settlement.service import apply_batch, in_transaction, release_all, release_due, sort_events

MAX_BATCH = 100_000  # events per transaction: bounds a transaction's memory and lock time
REFUSED = (REJECTED, CONFLICT)
T = TypeVar("T")


@dataclass
class Tally:
    """What became of the events one writer offered, and the holds it released."""

    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    conflict: int = 0
    waiting: int = 0
    released: int = 0

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            status = outcome.status
            if status == APPLIED:
                self.applied += 1
            elif status == DUPLICATE:
                self.duplicate += 1
            elif status == REJECTED:
                self.rejected += 1
            elif status == CONFLICT:
                self.conflict += 1
            elif status == WAITING:
                self.waiting += 1
            else:
                raise ValueError(f"status: unknown outcome {status!r} of {outcome.event_id}")

    @property
    def refused(self) -> int:
        """Rejected now, or an id reused for other content: the caller reports each one."""
        return self.rejected + self.conflict


class Ingest:
    """A writer that applies ordered events in micro-batches of `batch_size`, one transaction
    each (retried on fresh state after a concurrent writer won), and tallies the outcomes."""

    def __init__(self, engine: Engine, batch_size: int, plans: PlanWatch | None = None,
                 screen: ScreenFor | None = None) -> None:
        """`screen`: the order-time risk screen configured at the entry point
        (`SettlementSettings.order_screen_for`); None runs the default screen."""
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size: {batch_size} must be between 1 and {MAX_BATCH}")
        self.engine = engine
        self.batch_size = batch_size
        self.plans = plans or PlanWatch()
        self.screen_for = screen
        self.tally = Tally()
        self.last_ts: datetime | None = None

    def check_plans(self) -> None:
        """Raise `PlanError` now if no plan version is stored (before anything is applied)."""
        with self.engine.connect() as conn:
            self.plans.current(conn)

    def apply(self, events: Sequence[Event]) -> list[Outcome]:
        """Apply events in the given order; returns their outcomes in the same order."""
        outcomes: list[Outcome] = []
        for start in range(0, len(events), self.batch_size):
            outcomes.extend(self._apply_reading(events[start:start + self.batch_size]))
        self._count(events, outcomes)
        return outcomes

    def apply_batches(self, batches: Iterable[tuple[T, Sequence[Event]]]
                      ) -> Iterator[tuple[T, list[Outcome]]]:
        """Apply many batches (each at most `batch_size`) through the pipelined writer
        (pipeline.py), yielding `(tag, outcomes)` per batch once it is committed, in order."""
        def checked() -> Iterator[tuple[T, Sequence[Event]]]:
            for tag, events in batches:
                if len(events) > self.batch_size:
                    raise ValueError(f"batch: {len(events)} events, at most {self.batch_size}")
                yield tag, events

        for (tag, events), outcomes in pipelined(self.engine, self.plans, (
                ((tag, events), events) for tag, events in checked()), self._apply_reading,
                self.screen):
            self._count(events, outcomes)
            yield tag, outcomes

    def _apply_reading(self, batch: Sequence[Event]) -> list[Outcome]:
        """One batch in its own transaction, state read afresh (retried if another writer won)."""
        def work(conn: Connection) -> list[Outcome]:
            book = self.plans.current(conn)
            return apply_batch(conn, book, batch, screen=self.screen(book))

        return in_transaction(self.engine, work)

    def screen(self, book: PlanBook) -> OrderScreen:
        """The order-time screen every batch of this writer runs, for the books' currency."""
        return screen_of(self.screen_for, book)

    def _count(self, events: Sequence[Event], outcomes: list[Outcome]) -> None:
        self.tally.add(outcomes)
        if events:
            newest = max(event.ts for event in events)
            self.last_ts = newest if self.last_ts is None else max(self.last_ts, newest)

    def release(self, as_of: datetime | None = None) -> int:
        """Release the holds due by `as_of`, by default by the last instant applied."""
        at = as_of or self.last_ts
        if at is None:
            return 0
        with self.engine.connect() as conn:
            plans = self.plans.current(conn)
        released = release_due(self.engine, plans, at)
        self.tally.released += released
        return released


@dataclass
class FileSettled:
    """`settle_file`'s answer: the tally and each refused line as (line number, reason)."""

    tally: Tally
    rejects: list[tuple[int, str]] = field(default_factory=list)


def settle_file(engine: Engine, path: Path, batch_size: int, as_of: datetime | None = None,
                index: FileIndex | None = None, screen: ScreenFor | None = None) -> FileSettled:
    """Apply a JSON-lines file in time order, then release the holds due by `as_of` (default:
    the file's last instant). Unparseable lines are refused with the rest applied."""
    index = index or index_file(path)
    ingest = Ingest(engine, batch_size, screen=screen)
    ingest.check_plans()
    rejects = list(index.rejects)
    batches = (((batch, bad), [event for _, event in batch])
               for batch, bad in read_in_order(path, index, batch_size))
    for (batch, bad), outcomes in ingest.apply_batches(batches):
        rejects += bad
        rejects += [(number, outcome.reason or outcome.status)
                    for (number, _), outcome in zip(batch, outcomes, strict=True)
                    if outcome.status in REFUSED]
    ingest.release(as_of)
    return FileSettled(ingest.tally, sorted(rejects))


@dataclass
class Retried:
    """`retry_rejected`'s answer: outcomes in apply order, ids not in the books, and stored
    payloads that no longer parse (reason), which stay as they are."""

    outcomes: list[Outcome]
    tally: Tally
    unknown: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def retry_rejected(engine: Engine, batch_size: int, event_ids: Sequence[str] | None = None,
                   limit: int = MAX_LISTED, screen: ScreenFor | None = None) -> Retried:
    """Offer stored events again, in time order: the named ones, or the `limit` oldest rejected.

    A stored payload goes through the same rules as a redelivery: applied ones come back as
    already applied, rejected ones are decided again (applied once, or rejected with the new
    reason, the old one kept in `event_rejections`).
    """
    with engine.connect() as conn:
        ids = list(event_ids) if event_ids is not None else rejected_ids(conn, limit)
        found, invalid = stored_events(conn, ids)
    ingest = Ingest(engine, batch_size, screen=screen)
    outcomes = ingest.apply(sort_events(found.values())) if found else []
    ingest.release()
    unknown = [event_id for event_id in ids
               if event_id not in found and all(event_id != bad for bad, _ in invalid)]
    return Retried(outcomes, ingest.tally, unknown, invalid)


def apply_history(conn: Connection, events: Sequence[Event]) -> tuple[list[Outcome], Tally]:
    """Apply a converted history inside the caller's transaction (the importer's all-or-nothing
    file); when nothing was refused, release what is due by its last instant."""
    plans = PlanWatch().current(conn)
    outcomes = apply_batch(conn, plans, events)
    tally = Tally()
    tally.add(outcomes)
    if events and tally.refused == 0:
        tally.released = release_all(conn, plans, max(event.ts for event in events))
    return outcomes, tally
