"""Publishing a JSON-lines event file to the orders topic, keyed and ordered for the worker.

Events are sent in the order `fenrun settle` would apply them (timestamp, ties in file order),
each with its position in that order as the `fenrun-seq` header, keyed as `keys.message_key`
says. Lines that do not parse are sent after them, unkeyed, exactly as read: the worker sends
them to the dead-letter topic, which makes this command handy to demonstrate poison handling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from settlement.errors import InvalidEvent
from settlement.events import parse_json_line
from settlement.stream.keys import SEQ_HEADER, message_key


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def prepare(lines: Iterable[str]) -> list[Outgoing]:
    """Sort, key and number the events of a file; unparseable lines go last, unkeyed."""
    good: list[tuple[Any, str]] = []
    bad: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            good.append((parse_json_line(text), text))
        except InvalidEvent:
            bad.append(text)
    good.sort(key=lambda pair: pair[0].ts)
    customer_of_order: dict[str, str] = {}
    out = []
    for seq, (event, text) in enumerate(good):
        key = message_key(event.payload, customer_of_order)
        out.append(Outgoing(key.encode() if key else None, text.encode(),
                            [(SEQ_HEADER, str(seq).encode())]))
    out.extend(Outgoing(None, text.encode(), []) for text in bad)
    return out


def read_file(path: Path) -> list[Outgoing]:
    with path.open(encoding="utf-8") as handle:
        return prepare(handle)


def publish(bootstrap: str, topic: str, messages: Sequence[Outgoing]) -> int:
    """Send and wait for every acknowledgement; returns how many were sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             batch_size=256 * 1024)
    try:
        for message in messages:
            producer.send(topic, key=message.key, value=message.value, headers=message.headers)
        producer.flush()
    finally:
        producer.close()
    return len(messages)


def ensure_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(name, count, 1) for name, count in partitions.items()
               if name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created it meanwhile
    finally:
        admin.close()
