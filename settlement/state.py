"""The in-memory view of stored state that one batch of events reads and changes.

A `Workspace` loads what a batch needs in a few bulk queries (prefetch), serves later reads from
memory, and collects every change in `Changes` so that the repository can write a whole batch in
one transaction with aggregated balance deltas. Rows carry the version they were read at; the
repository refuses to overwrite a row someone else changed meanwhile, and the batch is retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import NamedTuple, Protocol

from settlement import order_codec
from settlement.attribution import TouchRecord
from settlement.errors import RejectedEvent
from settlement.events import (
    Event,
    OrderConfirmed,
    OrderPaid,
    OrderRefunded,
    PromoterJoined,
    Touch,
)
from settlement.ledger import MALL_OWNER, AccountKey, AccountKind, JournalEntry
from settlement.money import MAX_BALANCE_MINOR, format_amount
from settlement.splits import Allocation, Beneficiary


def _local_periods(instants: Iterable[datetime]) -> list[str]:
    """Every local day (YYYY-MM-DD) and month (YYYY-MM) the instants can fall on in any time
    zone (UTC-12 to UTC+14: the UTC day before, of and after), and '' (all time)."""
    dates = {instant.date() for instant in instants}  # a batch spans few: shift those only
    days = {date + timedelta(days=shift) for date in dates for shift in (-1, 0, 1)}
    return sorted({""} | {d.isoformat() for d in days} | {d.isoformat()[:7] for d in days})


# Owners of accumulator rows, by namespace, so that a promoter who joins in a batch is known to
# own none (a merchant or a region may carry the same id).
PROMOTER_OWNER, MERCHANT_OWNER, REGION_OWNER = "p:", "m:", "r:"
_OWNER_OF_KIND = {"m": MERCHANT_OWNER, "agent": REGION_OWNER}


def tally_owner(kind: str, owner_id: str) -> str:
    """The `plan_tallies.owner_id` of an accumulator: its owner's id in its namespace."""
    return _OWNER_OF_KIND.get(kind, PROMOTER_OWNER) + owner_id


def tally_number(text: str) -> Fraction | int:
    """A stored accumulator's text ("1234" or "n/d") as a number: int while whole."""
    return Fraction(text) if "/" in text else int(text)


@dataclass(slots=True)
class PromoterState:
    promoter_id: str
    parent_id: str | None
    grade: str | None
    joined_at: datetime
    suspended: bool
    version: int = 0  # 0 = not stored yet


@dataclass(slots=True)
class OrderLineState:
    sku: str
    category: str
    amount_minor: int
    refunded_minor: int = 0

    @property
    def remaining_minor(self) -> int:
        return self.amount_minor - self.refunded_minor


class OrderState:
    """A paid order. Lines, beneficiaries and allocation of a stored order stay JSON text until
    first read: confirming or releasing an order never needs its lines."""

    __slots__ = ("order_id", "customer_id", "merchant_id", "currency", "plan_version_id",
                 "paid_at", "confirmed_at", "release_due_at", "released_at", "version",
                 "_lines", "_beneficiaries", "_allocation", "_raw")

    def __init__(self, order_id: str, customer_id: str, merchant_id: str, currency: str,
                 plan_version_id: str, paid_at: datetime,
                 lines: list[OrderLineState] | None = None,
                 beneficiaries: tuple[Beneficiary, ...] | None = None,
                 allocation: Allocation | None = None,
                 confirmed_at: datetime | None = None, release_due_at: datetime | None = None,
                 released_at: datetime | None = None, version: int = 0,
                 raw: tuple[str, str, str] | None = None) -> None:
        self.order_id, self.customer_id, self.merchant_id = order_id, customer_id, merchant_id
        self.currency, self.plan_version_id, self.paid_at = currency, plan_version_id, paid_at
        self.confirmed_at, self.release_due_at = confirmed_at, release_due_at
        self.released_at, self.version = released_at, version  # version 0 = not stored yet
        self._lines, self._beneficiaries, self._allocation = lines, beneficiaries, allocation
        self._raw = raw  # (lines, beneficiaries, allocation) JSON of a stored order

    @property
    def lines(self) -> list[OrderLineState]:
        if self._lines is None:
            self._lines = [OrderLineState(*line)
                           for line in order_codec.decode_lines_raw(self._raw_part(0))]
        return self._lines

    @property
    def beneficiaries(self) -> tuple[Beneficiary, ...]:
        if self._beneficiaries is None:
            self._beneficiaries = order_codec.decode_beneficiaries(self._raw_part(1))
        return self._beneficiaries

    @property
    def allocation(self) -> Allocation:
        if self._allocation is None:
            self._allocation = order_codec.decode_allocation(self._raw_part(2))
        return self._allocation

    @allocation.setter
    def allocation(self, value: Allocation) -> None:
        self._allocation = value

    def _raw_part(self, index: int) -> str:
        if self._raw is None:
            raise ValueError(f"order {self.order_id} has neither decoded nor stored details")
        return self._raw[index]

    @property
    def gross_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def refunded_minor(self) -> int:
        return sum(line.refunded_minor for line in self.lines)


STATUS_COLUMNS = ("confirmed_at", "release_due_at", "released_at")
MONEY_COLUMNS = ("lines", "allocation", "refunded_minor")


class KnownEvent(NamedTuple):
    """A stored event as the rules see it; `attempts` counts the decisions recorded for it (a
    tuple: one is built per decided event)."""

    payload_hash: str
    status: str
    reason: str | None
    attempts: int = 1


class StateSource(Protocol):
    """Bulk reads of stored state; the repository implements it over a database connection."""

    def load_events(self, event_ids: list[str]) -> dict[str, KnownEvent]: ...
    def load_promoters(self, promoter_ids: list[str]) -> dict[str, PromoterState]: ...
    def load_orders(self, order_ids: list[str]) -> dict[str, OrderState]: ...
    def load_touches(
        self, customer_ids: list[str], since: datetime
    ) -> dict[str, list[TouchRecord]]: ...
    def load_bindings(self, customer_ids: list[str]) -> dict[str, str]: ...
    def load_balance(self, key: AccountKey) -> int: ...
    def load_tallies(self, owner_ids: list[str], periods: list[str] | None
                     ) -> dict[str, tuple[str, int]]: ...


class RecordedEvent(NamedTuple):
    """One decision about an event; `attempt` numbers the decisions (1 = first delivery)."""

    event: Event
    status: str
    reason: str | None
    attempt: int = 1


@dataclass(slots=True)
class Changes:
    """Everything a batch wrote, in the shape the repository flushes."""

    # The newest decision per event id; ids stored before the batch, with the attempts read then
    # (the row is only rewritten at that count), and every rejection for the audit trail.
    events: dict[str, RecordedEvent] = field(default_factory=dict)
    stored_attempts: dict[str, int] = field(default_factory=dict)
    rejections: list[tuple[str, int, str]] = field(default_factory=list)
    new_promoters: dict[str, PromoterState] = field(default_factory=dict)
    changed_promoters: dict[str, PromoterState] = field(default_factory=dict)
    touches: list[tuple[object, ...]] = field(default_factory=list)  # touches table column order
    bindings: list[tuple[object, ...]] = field(default_factory=list)
    new_orders: dict[str, OrderState] = field(default_factory=dict)
    changed_orders: dict[str, OrderState] = field(default_factory=dict)
    changed_order_columns: dict[str, set[str]] = field(default_factory=dict)
    entries: list[JournalEntry] = field(default_factory=list)
    balance_deltas: dict[AccountKey, int] = field(default_factory=dict)
    # plans v2 accumulators written: tally_key -> (owner, period, value, version read; 0 = new);
    # the value is a number (int or Fraction) or a promoter id, written as its text
    tallies: dict[str, tuple[str, str, object, int]] = field(default_factory=dict)

    def record_event(self, decision: RecordedEvent, stored: KnownEvent | None) -> None:
        """Note a decision; `stored` is the event's row as read before this batch, if any."""
        event_id = decision.event.event_id
        if stored is not None:
            self.stored_attempts.setdefault(event_id, stored.attempts)
        self.events[event_id] = decision
        if decision.reason is not None:  # only rejections carry a reason
            self.rejections.append((event_id, decision.attempt, decision.reason))

    def add_entry(self, entry: JournalEntry) -> None:
        self.entries.append(entry)
        for posting in entry.postings:
            key = posting.account
            self.balance_deltas[key] = self.balance_deltas.get(key, 0) + posting.amount_minor

    def order_changed(self, order: OrderState, columns: tuple[str, ...] = ()) -> None:
        """Note a change; for a stored order, `columns` are the ones to write back."""
        if order.version == 0:
            self.new_orders[order.order_id] = order
        else:
            self.changed_orders[order.order_id] = order
            self.changed_order_columns.setdefault(order.order_id, set()).update(columns)

    def promoter_changed(self, promoter: PromoterState) -> None:
        if promoter.version == 0:
            self.new_promoters[promoter.promoter_id] = promoter
        else:
            self.changed_promoters[promoter.promoter_id] = promoter


@dataclass(slots=True)
class _BatchIds:
    """The ids one batch refers to, and apart from them the ids it creates."""

    promoters: set[str] = field(default_factory=set)  # referred to: parents, touches, suspensions
    joining: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)  # confirmed or refunded
    paying: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, batch: Sequence[Event]) -> _BatchIds:
        ids = cls()
        for event in batch:
            body = event.body
            if isinstance(body, OrderPaid):
                ids.paying.add(body.order_id)
                ids.customers.add(body.customer_id)
            elif isinstance(body, Touch):
                ids.promoters.add(body.promoter_id)
                ids.customers.add(body.customer_id)
            elif isinstance(body, OrderConfirmed):
                ids.orders.add(body.order_id)
            elif isinstance(body, OrderRefunded):
                ids.orders.add(body.order_id)
            elif isinstance(body, PromoterJoined):
                ids.joining.add(body.promoter_id)
                if body.parent_id:
                    ids.promoters.add(body.parent_id)
            else:
                ids.promoters.add(body.promoter_id)  # suspended, reinstated
        return ids


class Workspace:
    """Cached reads plus the pending changes of one batch; discard it after a failed flush."""

    def __init__(self, source: StateSource, max_lookback_days: int,
                 read_event_ids: bool = True) -> None:
        self._source = source
        # False only for a writer that holds the book alone and falls back to reading when a
        # primary key refuses a row (pipeline.py). Only event ids may go unread: every decided
        # event writes its row, so the events key checks every guess. An order or promoter
        # guessed new is not checked when the event creating it is rejected for another reason.
        self._read_event_ids = read_event_ids
        self._lookback = timedelta(days=max_lookback_days)
        self._events: dict[str, KnownEvent | None] = {}
        self._stored_events: dict[str, KnownEvent | None] = {}  # as read, before any decision
        self._promoters: dict[str, PromoterState | None] = {}
        self._orders: dict[str, OrderState | None] = {}
        self._touches: dict[str, list[TouchRecord]] = {}
        self._touches_since: dict[str, datetime] = {}
        self._latest_touches_since: datetime | None = None  # the latest of them (covers())
        self._bindings: dict[str, str | None] = {}
        self._stored_balances: dict[AccountKey, int] = {}
        self.changes = Changes()
        self._next_touch_seq = 10**15  # in-batch touches sort after every stored one
        # Plans v2 accumulators, loaded per owner on first use (never for a v1 book).
        self._tallies: dict[str, tuple[object, int]] = {}  # key -> (value, version read)
        self._tally_owners: set[str] = set()  # owners whose tallies are loaded
        self._tally_candidates: set[str] = set()  # owners the batch names (loaded together)
        self._tally_periods: list[str] | None = None  # the periods a batch can ask for (None: all)

    def prefetch(self, batch: Iterable[Event]) -> None:
        """Load in bulk what `batch` will read, so applying it costs no further query.

        Without `read_event_ids`, the batch's event ids are taken as new: a wrong guess is
        refused by the events primary key when the batch is written.
        """
        batch = list(batch)
        ids = _BatchIds.of(batch)
        if self._read_event_ids:
            self._load_events([e.event_id for e in batch])
        else:
            for event in batch:
                self._events.setdefault(event.event_id, None)
        promoter_ids = ids.promoters | ids.joining
        self._load_orders(sorted(ids.orders | ids.paying))
        if ids.customers and batch:
            since = min(e.ts for e in batch) - self._lookback
            self._load_touches(sorted(ids.customers), since)
            self._load_bindings(sorted(ids.customers))
            for customer_id in ids.customers:
                promoter_ids.update(t.promoter_id for t in self._touches.get(customer_id, ()))
                bound = self._bindings.get(customer_id)
                if bound:
                    promoter_ids.add(bound)
        self.load_ancestries(promoter_ids)
        self._note_tally_owners(batch)

    def _note_tally_owners(self, batch: list[Event]) -> None:
        """The merchants and regions the batch names, whose accumulators load together on the
        first that is asked for, and the local periods the batch can ask for."""
        for event in batch:
            body = event.body
            if isinstance(body, OrderPaid):
                self._tally_candidates.add(MERCHANT_OWNER + body.merchant_id)
                if body.region:
                    self._tally_candidates.add(REGION_OWNER + body.region)
            elif isinstance(body, PromoterJoined) and body.agent_region:
                self._tally_candidates.add(REGION_OWNER + body.agent_region)
        if batch:
            periods = _local_periods(e.ts for e in batch)
            if self._tally_periods is None or not set(periods) <= set(self._tally_periods):
                # owners were loaded for other periods (an earlier batch kept by carry_over)
                self._tally_owners = set()
                self._tally_periods = periods

    # Carrying state to the next batch (pipeline.py) -------------------------------------------

    def covers(self, batch: Sequence[Event]) -> bool:
        """True if the touches already held reach back as far as `batch` needs (a batch earlier
        in time than the ones before it needs older touches: start from a fresh workspace)."""
        if not batch:
            return True
        since = min(e.ts for e in batch) - self._lookback
        latest = self._latest_touches_since
        if latest is None or latest <= since:  # every customer's touches reach back far enough
            return True
        for event in batch:
            body = event.body
            if isinstance(body, Touch | OrderPaid):
                loaded = self._touches_since.get(body.customer_id)
                if loaded is not None and loaded > since:
                    return False
        return True

    def held(self) -> int:
        """How many orders, promoters, customers and accumulators this workspace holds (its
        memory bound)."""
        return (len(self._orders) + len(self._promoters) + len(self._touches)
                + len(self._bindings) + len(self._tallies))

    def carry_over(self) -> None:
        """Go on to the next batch as if this batch's changes were stored, keeping what was read.

        Versions advance as the flush writes them; event decisions are not kept (a later batch
        that repeats an id is refused by the key and read again); the changes start empty.
        """
        changes = self.changes
        for promoter in changes.new_promoters.values():
            promoter.version = 1
        for promoter_id, promoter in changes.changed_promoters.items():
            if promoter_id not in changes.new_promoters:
                promoter.version += 1
        for order in changes.new_orders.values():
            order.version = 1
        for order_id, order in changes.changed_orders.items():
            if order_id not in changes.new_orders:
                order.version += 1
        for key in self._stored_balances:
            self._stored_balances[key] += changes.balance_deltas.get(key, 0)
        # Accumulators written: at the version the flush wrote them. A later batch on other
        # periods loads its owners again (`_note_tally_owners`), and what is held here (the newer
        # value, perhaps not committed yet) wins over what it reads (`setdefault`).
        for tally_key, (_owner, _period, value, read) in changes.tallies.items():
            self._tallies[tally_key] = (value, 1 if read == 0 else read + 1)
        self._tally_candidates = set()
        self._events = {}
        self._stored_events = {}
        self.changes = Changes()

    def load_ancestries(self, promoter_ids: Iterable[str]) -> None:
        """Load promoters and their ancestors up to three levels in three bulk queries."""
        wanted = set(promoter_ids)
        promoters = self._promoters
        for _ in range(3):
            missing = [p for p in wanted if p not in promoters]
            if missing:  # once per batch, after the prefetch: mostly all are held already
                self._load_promoters(sorted(missing))
            wanted = {
                state.parent_id
                for pid in wanted
                if (state := promoters.get(pid)) is not None and state.parent_id
            }
            if not wanted:
                break

    def _load_events(self, ids: list[str]) -> None:
        found = self._source.load_events([i for i in ids if i not in self._events])
        for event_id in ids:
            self._events.setdefault(event_id, found.get(event_id))

    def _load_promoters(self, ids: list[str]) -> None:
        found = self._source.load_promoters(ids)
        for promoter_id in ids:
            self._promoters.setdefault(promoter_id, found.get(promoter_id))

    def _load_orders(self, ids: list[str]) -> None:
        found = self._source.load_orders([i for i in ids if i not in self._orders])
        for order_id in ids:
            self._orders.setdefault(order_id, found.get(order_id))

    def _load_touches(self, customer_ids: list[str], since: datetime) -> None:
        ids = [c for c in customer_ids if not self._touches_cover(c, since)]
        if not ids:
            return
        found = self._source.load_touches(ids, since)
        for customer_id in ids:
            pending = [t for t in self._touches.get(customer_id, []) if t.seq >= 10**15]
            self._touches[customer_id] = found.get(customer_id, []) + pending
            self._touches_since[customer_id] = since
        if self._latest_touches_since is None or since > self._latest_touches_since:
            self._latest_touches_since = since

    def _touches_cover(self, customer_id: str, since: datetime) -> bool:
        loaded_since = self._touches_since.get(customer_id)
        return loaded_since is not None and loaded_since <= since

    def _load_bindings(self, customer_ids: list[str]) -> None:
        ids = [c for c in customer_ids if c not in self._bindings]
        found = self._source.load_bindings(ids)
        for customer_id in ids:
            self._bindings[customer_id] = found.get(customer_id)

    def adopt_orders(self, orders: dict[str, OrderState]) -> None:
        """Serve orders the caller already loaded (the release job reads them by due date)."""
        self._orders.update(orders)

    # Reads ------------------------------------------------------------------------------------

    def known_event(self, event_id: str) -> KnownEvent | None:
        if event_id not in self._events:
            self._load_events([event_id])
        return self._events[event_id]

    def promoter(self, promoter_id: str) -> PromoterState | None:
        if promoter_id not in self._promoters:
            self._load_promoters([promoter_id])
        return self._promoters[promoter_id]

    def order(self, order_id: str) -> OrderState | None:
        if order_id not in self._orders:
            self._load_orders([order_id])
        return self._orders[order_id]

    def touches(self, customer_id: str, since: datetime) -> list[TouchRecord]:
        self._load_touches([customer_id], since)
        return self._touches.get(customer_id, [])

    def binding(self, customer_id: str) -> str | None:
        if customer_id not in self._bindings:
            self._load_bindings([customer_id])
        return self._bindings[customer_id]

    def check_clearing_headroom(self, currency: str, net_minor: int) -> None:
        """Reject an order whose `net_minor` would take the clearing account beyond the limit.

        Clearing holds every order's net until it is distributed, so every other account's balance
        is a part of it: bounding clearing at `MAX_BALANCE_MINOR` bounds every balance. It is one
        stored row per currency, read once per batch, plus what this batch already added.
        """
        key = AccountKey(AccountKind.CLEARING.value, MALL_OWNER, currency)
        if key not in self._stored_balances:
            self._stored_balances[key] = self._source.load_balance(key)
        after = self._stored_balances[key] + self.changes.balance_deltas.get(key, 0) + net_minor
        if after > MAX_BALANCE_MINOR:
            raise RejectedEvent(
                f"lines: this order would take the books' {currency} balance to "
                f"{format_amount(after, currency)}, beyond the limit of "
                f"{format_amount(MAX_BALANCE_MINOR, currency)} {currency} per account")

    def tally(self, kind: str, owner_id: str, period: str = "") -> object | None:
        """A plans v2 accumulator: its stored text as loaded, or the value this batch set (None
        if never written)."""
        self._load_tallies_of(tally_owner(kind, owner_id))
        known = self._tallies.get(f"{kind}|{owner_id}|{period}")
        return None if known is None else known[0]

    def _load_tallies_of(self, owner: str) -> None:
        """On the first miss, every promoter read so far and every merchant and region the batch
        names are loaded in one query; later misses load what was read since."""
        if owner in self._tally_owners:
            return
        owners = {owner} | self._tally_candidates | {
            PROMOTER_OWNER + p for p, state in self._promoters.items() if state is not None}
        while owners:
            missing = sorted(owners - self._tally_owners)
            found = self._source.load_tallies(missing, self._tally_periods)
            for found_key, value in found.items():
                self._tallies.setdefault(found_key, value)
            self._tally_owners.update(missing)
            # The regions' agents earn on the batch's orders: their own rows come along.
            owners = {PROMOTER_OWNER + str(value[0]) for key, value in found.items()
                      if key.startswith("agent|")} - self._tally_owners

    def add_to_tally(self, kind: str, owner_id: str, period: str,
                     amount: Fraction | int) -> tuple[Fraction | int, Fraction | int]:
        """Add `amount` to a numeric accumulator; (before, after), ints while whole."""
        key = f"{kind}|{owner_id}|{period}"
        owner = tally_owner(kind, owner_id)
        self._load_tallies_of(owner)
        known = self._tallies.get(key)
        before: Fraction | int = 0
        version = 0
        if known is not None:
            value, version = known
            before = value if isinstance(value, int | Fraction) else tally_number(str(value))
        after = before + amount
        if isinstance(after, Fraction) and after.denominator == 1:
            after = after.numerator
        self._tallies[key] = (after, version)
        stored = self.changes.tallies.get(key)
        self.changes.tallies[key] = (owner, period, after,
                                     stored[3] if stored is not None else version)
        return before, after

    def set_tally(self, kind: str, owner_id: str, period: str, value: object) -> None:
        key = f"{kind}|{owner_id}|{period}"
        owner = tally_owner(kind, owner_id)
        self._load_tallies_of(owner)
        read = self._tallies.get(key)
        version = read[1] if read is not None else 0
        stored = self.changes.tallies.get(key)
        stored_version = stored[3] if stored is not None else version
        self._tallies[key] = (value, version)
        self.changes.tallies[key] = (owner, period, value, stored_version)

    # Writes -----------------------------------------------------------------------------------

    def decide(self, event: Event, status: str, reason: str | None) -> None:
        """Record a decision about `event`: the workspace answers with it from now on, and the
        batch's changes write it (a new row, or the stored row rewritten at the attempt count it
        had before this batch). One call per event, so it does its lookups once."""
        event_id = event.event_id
        if event_id not in self._events:
            self._load_events([event_id])
        known = self._events[event_id]
        stored_events = self._stored_events
        if event_id in stored_events:
            stored = stored_events[event_id]
        else:
            stored = stored_events[event_id] = known
        attempt = known.attempts + 1 if known is not None else 1
        self._events[event_id] = KnownEvent(event.payload_hash, status, reason, attempt)
        self.changes.record_event(RecordedEvent(event, status, reason, attempt), stored)

    def add_promoter(self, promoter: PromoterState) -> None:
        self._promoters[promoter.promoter_id] = promoter
        self._tally_owners.add(PROMOTER_OWNER + promoter.promoter_id)  # joined now: owns none
        self.changes.promoter_changed(promoter)

    def add_touch(self, customer_id: str, promoter_id: str, ts: datetime) -> None:
        self._touches.setdefault(customer_id, []).append(
            TouchRecord(promoter_id, ts, self._next_touch_seq)
        )
        self._next_touch_seq += 1

    def bind(self, customer_id: str, promoter_id: str) -> None:
        self._bindings[customer_id] = promoter_id

    def add_order(self, order: OrderState) -> None:
        self._orders[order.order_id] = order
        self.changes.order_changed(order)
