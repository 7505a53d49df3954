"""What a worker holds in memory: the messages read from each owned partition, not yet applied.

`choose` picks the events that may be applied now, in ordering-key order across the worker's
partitions, stopping at the first one that must wait:
- a reader waits until every partition of other workers has applied its writers before it;
- a writer waits until every partition of other workers has applied its readers before it, and
  so does a payment when the plan book keeps plans v2 accumulators (keys.py says why);
- anything waits while one of the worker's own partitions may still hold an earlier unread
  message (its last key read is not past it).
Since the globally earliest unapplied event can always go, the group never deadlocks. Applying
every pair of events that share state in ordering-key order is what makes the ledger equal the
batch path's, which applies everything in that order.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from settlement.errors import InvalidEvent
from settlement.events import Event, parse_json_line
from settlement.stream.keys import IDLE, LOWEST, ordering_key, roles, seq_from_headers
from settlement.stream.progress import Frontiers, Progress

_EPOCH_KEY_PREFIX = "0" * 17 + "." + "0" * 12  # ts and seq of a message with no readable event


@dataclass(slots=True)
class Item:
    """One consumed message: its ordering key, the event (or why it is poison), its roles."""

    key: str
    partition: int
    offset: int
    event: Event | None
    error: str | None
    reads: bool
    writes: bool
    timestamp_ms: int
    value: bytes | None
    message_key: bytes | None
    pays: bool = False  # an order_paid: conflicts with other payments under plans v2 tallies


def decode(message: Any, partition: int, previous_key: str | None) -> Item:
    """Parse one Kafka message; poison (not UTF-8, not JSON, invalid) keeps its reason."""
    event: Event | None = None
    error: str | None = None
    try:
        event = parse_json_line((message.value or b"").decode("utf-8"))
    except UnicodeDecodeError:
        error = "value: not UTF-8 text"
    except InvalidEvent as invalid:
        error = str(invalid)
    if event is not None:
        key = ordering_key(event.ts, seq_from_headers(message.headers), partition, message.offset)
        reads, writes = roles(event)
    else:  # sorts right after the message before it in the same partition
        prefix = previous_key[:30] if previous_key else _EPOCH_KEY_PREFIX
        key = f"{prefix}.{partition:05d}.{message.offset:015d}"
        reads = writes = False
    return Item(key, partition, message.offset, event, error, reads, writes, message.timestamp,
                message.value, message.key, event is not None and event.type == "order_paid")


class PartitionState:
    """Unapplied messages of one owned partition, in offset order, and what is known of it."""

    def __init__(self, partition: int, next_offset: int, high_ts: datetime | None) -> None:
        self.partition = partition
        self.items: deque[Item] = deque()
        self.reader_keys: deque[str] = deque()
        self.writer_keys: deque[str] = deque()
        self.last_key: str | None = None
        self.caught_up = False
        self.paused = False
        self.next_offset = next_offset
        self.position = next_offset  # offset after the last message read
        self.high_ts = high_ts

    def add(self, item: Item) -> None:
        self.items.append(item)
        if item.reads:
            self.reader_keys.append(item.key)
        if item.writes:
            self.writer_keys.append(item.key)
        self.last_key = item.key
        self.position = item.offset + 1

    def pop_applied(self, count: int) -> list[Item]:
        applied = [self.items.popleft() for _ in range(count)]
        for item in applied:
            if item.reads:
                self.reader_keys.popleft()
            if item.writes:
                self.writer_keys.popleft()
            if item.event is not None and (self.high_ts is None or item.event.ts > self.high_ts):
                self.high_ts = item.event.ts
        if applied:
            self.next_offset = applied[-1].offset + 1
        return applied

    def progress_after(self, applied: list[Item]) -> Progress | None:
        """The row to publish once `applied` (a prefix of the buffer) is committed."""
        if self.last_key is None and not self.caught_up:
            return None  # nothing read yet: publishing now would only lower what is known
        fallback = IDLE if self.caught_up else (self.last_key or LOWEST)
        readers = sum(item.reads for item in applied)
        writers = sum(item.writes for item in applied)
        high = self.high_ts
        for item in applied:
            if item.event is not None and (high is None or item.event.ts > high):
                high = item.event.ts
        return Progress(
            partition=self.partition,
            next_offset=applied[-1].offset + 1 if applied else self.next_offset,
            last_key=self.last_key or LOWEST,
            reader_frontier=_at(self.reader_keys, readers, fallback),
            writer_frontier=_at(self.writer_keys, writers, fallback),
            low_frontier=self.items[len(applied)].key if len(self.items) > len(applied)
            else fallback,
            high_ts=high,
        )


def _at(keys: deque[str], index: int, fallback: str) -> str:
    return keys[index] if len(keys) > index else fallback


def choose(parts: Mapping[int, PartitionState], others: Frontiers, limit: int,
           tallies: bool = False, unread: Collection[int] = ()) -> dict[int, list[Item]]:
    """The events that may be applied now, per partition (each a prefix of its buffer).

    `tallies`: the plan book keeps plans v2 accumulators, so a payment also waits, like a
    writer, until other partitions have applied their readers (payments among them) before it.
    `unread`: own partitions whose caught-up claim is not trusted (claims.py).
    """
    waiting = sorted((part.last_key or LOWEST, pid) for pid, part in parts.items()
                     if not part.caught_up or pid in unread)
    heads = [(part.items[0].key, pid, 0) for pid, part in parts.items() if part.items]
    heapq.heapify(heads)
    chosen: dict[int, list[Item]] = {}
    taken = 0
    while heads and taken < limit:
        key, pid, index = heads[0]
        item = parts[pid].items[index]
        bound = next((b for b, q in waiting if q != pid), IDLE)
        if not key < bound:
            break
        if item.reads and not key < others.writer:
            break
        if (item.writes or (tallies and item.pays)) and not key < others.reader:
            break
        chosen.setdefault(pid, []).append(item)
        taken += 1
        if index + 1 < len(parts[pid].items):
            heapq.heapreplace(heads, (parts[pid].items[index + 1].key, pid, index + 1))
        else:
            heapq.heappop(heads)
    return chosen
