"""The settlement worker: Kafka in, the same `apply_batch` as `fenrun settle`, ledger out.

One loop, one thread: poll, choose what may be applied (buffer.choose; claims.py checks the
caught-up claims a choice rests on against the broker), apply it in ONE database
transaction together with the partitions' next offsets, frontiers and the outbox rows, commit,
then commit the offsets to Kafka (informational: on every assignment the worker seeks to the
offsets stored in the database, which is what makes the effect exactly-once). Poison messages
and rejected events are copied to the dead-letter topic before the transaction commits, so a
crash can repeat them (at-least-once) but never lose them. Holds are released on a schedule up
to the group's release instant, and the outbox is relayed, from the same loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Connection, Engine, func, select

from settlement.engine import APPLIED, CONFLICT, REJECTED, Outcome
from settlement.errors import InvalidEvent, PlanError
from settlement.events import OrderRefunded
from settlement.guarantees import post_guarantees
from settlement.ingest import Tally
from settlement.order_screen import ScreenFor, screen_of
from settlement.plan_store import PlanWatch
from settlement.service import apply_batch, in_transaction, release_batch
from settlement.stream.buffer import Item, PartitionState, decode
from settlement.stream.claims import View, choose_checked, release_instant_checked
from settlement.stream.config import StreamSettings
from settlement.stream.outbox import relay_once, stage_entries, stage_releases
from settlement.stream.progress import (
    load_progress,
    mark_released,
    released_through,
    save_progress,
)

log = logging.getLogger(__name__)
RELEASE_LOCK_ID = 0x66656E72756E  # "fenrun": one releasing worker at a time on PostgreSQL
HEARTBEAT_S = 0.5
MAX_LAGS_KEPT = 1_000_000
END_OFFSETS_TIMEOUT_MS = 5_000  # a claim the broker cannot confirm in time is not trusted


class _RolesChanged(Exception):
    """The plan book read in this transaction changed whether payments conflict with each other:
    roll back, then choose again under the new rule (nothing was applied or published)."""


@dataclass
class WorkerStats:
    """Counts since start; `lags_ms` = DB commit time minus the message's produce timestamp."""

    tally: Tally = field(default_factory=Tally)  # the outcomes, counted as every writer counts
    dead_lettered: int = 0
    relayed: int = 0
    transactions: int = 0
    lags_ms: list[float] = field(default_factory=list)
    commit_times: list[float] = field(default_factory=list)  # epoch ms, parallel to lags_ms

    @property
    def applied(self) -> int:
        return self.tally.applied


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker.drop(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.adopt(assigned)


class StreamWorker:
    """A member of the settlement consumer group; `run` until `should_stop` or idle."""

    def __init__(self, settings: StreamSettings, engine: Engine,
                 plans: PlanWatch | None = None, screen: ScreenFor | None = None) -> None:
        bootstrap = settings.require_bootstrap()
        self.s = settings
        self.engine = engine
        # The order-time risk screen configured at the entry point, as `Ingest` runs it.
        self.screen_for = screen
        # Read inside every step's transaction: a version stored while the worker runs is used
        # from the next step on (settlement/plan_store.py says why that is deterministic).
        self.plans = plans or PlanWatch()
        # The book keeps plans v2 accumulators: payments are ordered against other partitions'
        # payments too (buffer.choose), as `fenrun settle` orders them.
        self.tallies = False
        self.consumer = self._consumer()
        self._offsets: KafkaConsumer | None = None  # end offsets only (claims.py), made lazily
        self._unassigned_since: float | None = None
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
        self.parts: dict[int, PartitionState] = {}
        self.stats = WorkerStats()
        self._partitions: set[int] = set()
        self._saved: dict[int, Any] = {}
        self._saved_at = 0.0
        self._next_release = 0.0
        self._next_relay = 0.0

    def _consumer(self) -> KafkaConsumer:
        s = self.s
        return KafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap, group_id=s.consumer_group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms, heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024)

    def _rejoin_if_stuck(self) -> None:
        """A member that never gets an assignment starts over as a new member.

        Seen with Tansu 0.6 after a member was SIGKILLed: the group can loop in JoinGroup /
        SyncGroup failures forever. Nothing is lost: partitions always resume from the database.
        """
        if self.consumer.assignment():
            self._unassigned_since = None
            return
        now = time.monotonic()
        self._unassigned_since = self._unassigned_since or now
        if now - self._unassigned_since < self.s.rejoin_after_s:
            return
        log.warning("no assignment for %.0fs: leaving and rejoining the group",
                    now - self._unassigned_since)
        self.drop([TopicPartition(self.s.orders_topic, pid) for pid in list(self.parts)])
        self.consumer.close()
        self.consumer = self._consumer()
        self.consumer.subscribe([self.s.orders_topic], listener=_Rebalance(self))
        self._unassigned_since = None

    # Assignment ---------------------------------------------------------------------------

    def drop(self, revoked: Any) -> None:
        for tp in revoked:
            self.parts.pop(tp.partition, None)
            self._saved.pop(tp.partition, None)

    def adopt(self, assigned: Any) -> None:
        """Resume each new partition where the database says, whatever Kafka committed."""
        with self.engine.connect() as conn:
            rows = load_progress(conn, self.s.consumer_group, self.s.orders_topic)
        for tp in assigned:
            if tp.topic != self.s.orders_topic or tp.partition in self.parts:
                continue
            row = rows.get(tp.partition)
            if row is None:
                self.consumer.seek_to_beginning(tp)
                self.parts[tp.partition] = PartitionState(tp.partition, 0, None)
            else:
                self.consumer.seek(tp, row.next_offset)
                self.parts[tp.partition] = PartitionState(tp.partition, row.next_offset,
                                                          row.high_ts)
        log.info("assigned partitions %s", sorted(self.parts))

    # Loop ---------------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False,
            exit_when_idle_s: float | None = None) -> WorkerStats:
        self._read_roles()
        self.consumer.subscribe([self.s.orders_topic], listener=_Rebalance(self))
        idle_since: float | None = None
        try:
            while not should_stop():
                applied = self.step()
                self._rejoin_if_stuck()
                now = time.monotonic()
                if now >= self._next_release:
                    self.stats.tally.released += self.release()
                    self._next_release = now + self.s.release_interval_s
                if now >= self._next_relay:
                    self.stats.relayed += self.relay()
                    self._next_relay = now + self.s.relay_interval_s
                if exit_when_idle_s is None:
                    continue
                idle = applied == 0 and self._idle()
                idle_since = (idle_since or now) if idle else None
                if idle_since is not None and now - idle_since >= exit_when_idle_s:
                    self.stats.tally.released += self.release()
                    self.stats.relayed += self.relay()
                    break
        finally:
            self.close()
        return self.stats

    def _read_roles(self) -> None:
        """Whether payments conflict with each other, from the stored plan book, at start."""
        try:
            with self.engine.connect() as conn:
                self._set_roles(self.plans.current(conn).keeps_tallies)
        except PlanError:
            pass  # no version yet: the first step's transaction says so

    def _set_roles(self, tallies: bool) -> None:
        """Follow the plan book: whether payments conflict with each other."""
        if tallies == self.tallies:
            return
        self.tallies = tallies
        log.info("payments %s ordered against each other: the plan book %s plans v2 "
                 "accumulators", "are" if tallies else "are no longer",
                 "keeps" if tallies else "keeps no")

    def _idle(self) -> bool:
        assigned = bool(self.consumer.assignment())
        return assigned and all(p.caught_up and not p.items for p in self.parts.values())

    def close(self) -> None:
        self.consumer.close()
        if self._offsets is not None:
            self._offsets.close()
        self.producer.close()

    def step(self) -> int:
        """Poll once, apply what may go in one transaction; returns how many messages went."""
        blocked = any(p.items for p in self.parts.values())
        if self._poll(timeout_ms=10 if blocked else self.s.poll_timeout_ms):
            self._heartbeat(force=True)  # others may go as far as we have read, at once
        if not self.parts:
            return 0
        tallies = self.tallies  # the rule `chosen` obeys; `_apply` checks the book still asks it
        chosen = choose_checked(self.parts, self._view(), self.s.apply_batch_max, tallies,
                                self._end_offsets)
        if not chosen:
            self._heartbeat()
            return 0
        started = time.time()
        try:
            outcomes = in_transaction(self.engine,
                                      lambda conn: self._apply(conn, chosen, tallies))
        except _RolesChanged:
            return 0  # choose again under the new rule (what is published does not change)
        committed_ms = time.time() * 1000
        self._after_commit(chosen, outcomes, committed_ms)
        log.debug("applied %d in %.3fs", sum(map(len, chosen.values())), time.time() - started)
        return sum(len(items) for items in chosen.values())

    def _poll(self, timeout_ms: int) -> int:
        """Read into the buffers; returns how many messages arrived."""
        records = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.s.poll_max_records)
        arrived = sum(len(messages) for messages in records.values())
        for tp, messages in records.items():
            part = self.parts.get(tp.partition)
            if part is None:
                continue
            for message in messages:
                if message.offset < part.position:
                    continue  # already buffered (a fetch raced a seek)
                part.add(decode(message, tp.partition, part.last_key))
        for pid, part in self.parts.items():
            tp = TopicPartition(self.s.orders_topic, pid)
            highwater = self.consumer.highwater(tp)
            part.caught_up = highwater is not None and part.position >= highwater
            self._flow(tp, part)
        return arrived

    def _flow(self, tp: TopicPartition, part: PartitionState) -> None:
        """Bound memory: stop fetching a partition whose buffer is full, resume at half."""
        if not part.paused and len(part.items) >= self.s.buffer_max_per_partition:
            self.consumer.pause(tp)
            part.paused = True
        elif part.paused and len(part.items) < self.s.buffer_max_per_partition // 2:
            self.consumer.resume(tp)
            part.paused = False

    def _topic_partitions(self) -> set[int]:
        found = self.consumer.partitions_for_topic(self.s.orders_topic)
        if found:
            self._partitions = set(found)
        return self._partitions | set(self.parts)

    def _view(self) -> View:
        with self.engine.connect() as conn:
            rows = load_progress(conn, self.s.consumer_group, self.s.orders_topic)
        others = self._topic_partitions() - set(self.parts)
        return View(rows, others, datetime.now(UTC), self.s.idle_ttl_s)

    def _end_offsets(self, partitions: Collection[int]) -> dict[int, int] | None:
        """Where the broker will put each partition's next message (asked after `_view`).

        Asked on a connection of its own: on the group consumer's, the request would queue
        behind its long-polling fetch (the broker answers a connection's requests in order).
        """
        topic = self.s.orders_topic
        try:
            if self._offsets is None:
                self._offsets = KafkaConsumer(bootstrap_servers=self.s.kafka_bootstrap,
                                              group_id=None, enable_auto_commit=False)
            ends = self._offsets.end_offsets([TopicPartition(topic, pid) for pid in partitions],
                                             timeout_ms=END_OFFSETS_TIMEOUT_MS)
        except KafkaError as error:
            log.info("end offsets unknown (%s): trusting no caught-up claim this step", error)
            return None
        return {tp.partition: offset for tp, offset in ends.items()}

    # One transaction ----------------------------------------------------------------------

    def _apply(self, conn: Connection, chosen: dict[int, list[Item]],
               tallies: bool) -> list[Outcome]:
        """Apply `chosen` (chosen with payments ordered iff `tallies`) in this transaction."""
        items = sorted((item for batch in chosen.values() for item in batch),
                       key=lambda item: item.key)
        pairs = [(item, item.event) for item in items if item.event is not None]
        plans = self.plans.current(conn)  # under the shared plan lock: no version lands after
        if plans.keeps_tallies != tallies:  # chosen under the other rule: choose again
            self._set_roles(plans.keeps_tallies)
            raise _RolesChanged
        outcomes = apply_batch(conn, plans, [event for _, event in pairs],
                               screen=screen_of(self.screen_for, plans))
        entry_ids: list[str] = []
        dead = [(item, "invalid", item.error or "") for item in items if item.event is None]
        for (item, event), outcome in zip(pairs, outcomes, strict=True):
            if outcome.status == APPLIED:
                entry_ids.append(f"event:{event.event_id}")
                if isinstance(event.body, OrderRefunded):  # a refund may first release the hold
                    entry_ids.append(f"release:{event.body.order_id}")
            elif outcome.status in (REJECTED, CONFLICT):
                dead.append((item, outcome.status, outcome.reason or outcome.status))
        now = datetime.now(UTC)
        stage_entries(conn, entry_ids, now)
        self._dead_letter(dead)
        rows = [self.parts[pid].progress_after(chosen.get(pid, [])) for pid in self.parts]
        save_progress(conn, self.s.consumer_group, self.s.orders_topic,
                      [row for row in rows if row is not None], now)
        return outcomes

    def _dead_letter(self, dead: list[tuple[Item, str, str]]) -> None:
        """Publish and wait for the broker before the DB commits: never lost, maybe repeated."""
        for item, kind, reason in dead:
            headers = [("fenrun-dlq-kind", kind.encode()), ("fenrun-dlq-reason", reason.encode()),
                       ("fenrun-source", f"{self.s.orders_topic}/{item.partition}/"
                                         f"{item.offset}".encode())]
            if item.event is not None:
                headers.append(("fenrun-event-id", item.event.event_id.encode()))
            self.producer.send(self.s.dlq_topic, key=item.message_key, value=item.value,
                               headers=headers)
        if dead:
            self.producer.flush()
            self.stats.dead_lettered += len(dead)

    def _after_commit(self, chosen: dict[int, list[Item]], outcomes: list[Outcome],
                      committed_ms: float) -> None:
        offsets = {}
        for pid, items in chosen.items():
            part = self.parts.get(pid)
            if part is None:
                continue
            for item in part.pop_applied(len(items)):
                if len(self.stats.lags_ms) < MAX_LAGS_KEPT:
                    self.stats.lags_ms.append(committed_ms - item.timestamp_ms)
                    self.stats.commit_times.append(committed_ms)
            offsets[TopicPartition(self.s.orders_topic, pid)] = OffsetAndMetadata(
                part.next_offset, "", -1)
        self.stats.tally.add(outcomes)
        self.stats.transactions += 1
        self._saved_at = time.monotonic()
        self._saved = {}
        if offsets:
            self.consumer.commit_async(offsets)

    def _heartbeat(self, force: bool = False) -> None:
        """Publish frontiers that moved without applying anything (reading on, being idle)."""
        rows = {pid: row for pid, part in self.parts.items()
                if (row := part.progress_after([])) is not None}
        stale = time.monotonic() - self._saved_at >= HEARTBEAT_S
        if rows == self._saved and not stale and not force:
            return
        now = datetime.now(UTC)
        in_transaction(self.engine, lambda conn: save_progress(
            conn, self.s.consumer_group, self.s.orders_topic, list(rows.values()), now))
        self._saved = rows
        self._saved_at = time.monotonic()

    # Schedules ----------------------------------------------------------------------------

    def release(self) -> int:
        """Release holds up to the group's release instant (booked at each hold's due time).

        Not `Ingest.release` (by the last instant applied): another partition may still hold an
        earlier refund or confirmation, so the stream releases only up to what every partition
        has applied, one worker at a time, staging the entries in the outbox.
        """
        total = 0
        while True:
            released, done = in_transaction(self.engine, self._release_batch)
            total += released
            if done:
                return total

    def _release_batch(self, conn: Connection) -> tuple[int, bool]:
        if conn.dialect.name == "postgresql":
            if not conn.execute(select(func.pg_try_advisory_xact_lock(RELEASE_LOCK_ID))).scalar():
                return 0, True  # another worker is releasing right now
        group, now = self.s.consumer_group, datetime.now(UTC)
        rows = load_progress(conn, group, self.s.orders_topic)
        as_of = release_instant_checked(View(rows, self._topic_partitions(), now,
                                             self.s.idle_ttl_s), self._end_offsets)
        through = released_through(conn, group)
        if as_of is None or (through is not None and as_of <= through):
            return 0, True
        plans = self.plans.current(conn)
        released = release_batch(conn, plans, as_of, self.s.release_batch)
        stage_releases(conn, through, as_of, now)
        done = released < self.s.release_batch
        if done:
            post_guarantees(conn, plans, as_of)  # the months of promoter guarantees now ended
            mark_released(conn, group, as_of)
        return released, done

    def relay(self) -> int:
        total = 0
        while True:
            sent = relay_once(self.engine, self.producer, self.s.commissions_topic,
                              self.s.relay_batch)
            total += sent
            if sent < self.s.relay_batch:
                return total


def run_worker(settings: StreamSettings, database_url: str,
               exit_when_idle_s: float | None = None,
               should_stop: Callable[[], bool] = lambda: False,
               screen: ScreenFor | None = None) -> WorkerStats:
    """Entry point of one worker process: open the books, make sure topics exist, run.
    `screen`: the order-time risk screen (`SettlementSettings.order_screen_for`)."""
    from settlement.db import create_db_engine, ensure_schema
    from settlement.stream.producer import ensure_topics

    engine = create_db_engine(database_url)
    ensure_schema(engine)
    plans = PlanWatch()
    try:
        with engine.connect() as conn:
            screen_of(screen, plans.current(conn))  # a cap that does not fit the currency: now
    except (PlanError, InvalidEvent) as error:
        raise ValueError(str(error)) from None
    ensure_topics(settings.require_bootstrap(), {
        settings.dlq_topic: 1, settings.commissions_topic: settings.commissions_partitions})
    try:
        return StreamWorker(settings, engine, plans, screen).run(should_stop, exit_when_idle_s)
    finally:
        engine.dispose()
