"""The Kafka path of `POST /v1/events`: when `FENRUN_KAFKA_BOOTSTRAP` is set, parsed events are
published to the orders topic for the settlement worker instead of applied here.

Keyed as `fenrun produce` keys them (`settlement.stream.keys.message_key`): promoter events by
promoter, touches and payments by customer, confirmations and refunds by the customer of the
payment this process saw (a bounded memory of `MAX_ORDERS_REMEMBERED` orders), else by an
explicit `customer_id`, else by the order id, exactly as the file producer falls back. Sent in
timestamp order with `acks=all`, and the answer (202) waits for every acknowledgement, so an id
in it is on the broker. Unparseable elements are answered `rejected` and not published.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from settlement.events import Event
from settlement.service import sort_events
from settlement.stream.keys import message_key

MAX_ORDERS_REMEMBERED = 200_000
SEND_TIMEOUT_S = 30.0


class OrdersPublisher:
    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaProducer  # heavy, and only when a broker is configured

        self.topic = topic
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                       batch_size=256 * 1024)
        self._customers: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, events: Sequence[Event]) -> list[str | None]:
        with self._lock:
            learnt: dict[str, str] = dict(self._customers)
            keys = [message_key(event.payload, learnt) for event in events]
            for order, customer in learnt.items():
                if order not in self._customers:
                    self._customers[order] = customer
            while len(self._customers) > MAX_ORDERS_REMEMBERED:
                self._customers.popitem(last=False)
        return keys

    def publish(self, events: Sequence[Event]) -> list[str]:
        """Send the events in time order and wait for the broker; returns their ids as sent."""
        ordered = sort_events(events)
        futures: list[Any] = []
        for key, event in zip(self._keys(ordered), ordered, strict=True):
            value = json.dumps(event.payload, ensure_ascii=False).encode("utf-8")
            futures.append(self._producer.send(
                self.topic, key=key.encode("utf-8") if key else None, value=value))
        self._producer.flush(timeout=SEND_TIMEOUT_S)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_S)  # raises if the broker did not take it
        return [event.event_id for event in ordered]

    def close(self) -> None:
        self._producer.close()
