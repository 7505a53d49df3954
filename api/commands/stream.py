"""`fenrun consume`, `fenrun produce`, `fenrun relay`: the live path over Kafka.

All three need FENRUN_KAFKA_BOOTSTRAP; without it fenrun stays in-process (`fenrun settle`).
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from settlement.config import SettlementSettings
from settlement.db import create_db_engine, ensure_schema
from settlement.stream.config import StreamSettings


def _settings() -> tuple[StreamSettings, str]:
    stream = StreamSettings()
    try:
        bootstrap = stream.require_bootstrap()
    except ValueError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from None
    return stream, bootstrap


def consume(
    exit_when_idle: Annotated[float | None, typer.Option(
        "--exit-when-idle", help="stop after this many seconds with nothing left to apply")] = None,
) -> None:
    """Run a settlement worker in the consumer group (exactly-once effect on the ledger)."""
    from settlement.stream.worker import run_worker

    stream, _ = _settings()
    logging.basicConfig(level=stream.log_level,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints every thread's stack
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    try:
        books = SettlementSettings()
        stats = run_worker(stream, books.database_url, exit_when_idle,
                           should_stop=lambda: stopping["now"], screen=books.order_screen_for)
    except ValueError as error:
        typer.echo(f"fenrun: {error}", err=True)
        raise typer.Exit(2) from None
    tally = stats.tally
    typer.echo(f"applied {tally.applied}, already applied {tally.duplicate}, rejected "
               f"{tally.refused}, dead-lettered {stats.dead_lettered}, holds released "
               f"{tally.released}, entries relayed {stats.relayed}")


def produce(
    events: Annotated[Path, typer.Argument(help="JSON-lines event file")],
    partitions: Annotated[int, typer.Option(help="partitions if the topic is created")] = 6,
) -> None:
    """Publish an event file to the orders topic, keyed by customer or promoter, in ts order."""
    from settlement.stream.producer import ensure_topics, publish, read_file

    stream, bootstrap = _settings()
    try:
        messages = read_file(events)
    except OSError as error:
        typer.echo(f"fenrun: EVENTS: cannot read {events}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    ensure_topics(bootstrap, {stream.orders_topic: partitions})
    started = time.monotonic()
    sent = publish(bootstrap, stream.orders_topic, messages)
    typer.echo(f"published {sent} messages to {stream.orders_topic} in "
               f"{time.monotonic() - started:.2f}s")


def relay(
    once: Annotated[bool, typer.Option(help="relay what is staged, then exit")] = False,
) -> None:
    """Relay the outbox to the commissions topic (the worker also does it in its loop)."""
    from kafka import KafkaProducer

    from settlement.stream.outbox import relay_once

    stream, bootstrap = _settings()
    engine = create_db_engine(SettlementSettings().database_url)
    ensure_schema(engine)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    total = 0
    try:
        while True:
            sent = relay_once(engine, producer, stream.commissions_topic, stream.relay_batch)
            total += sent
            if once and sent < stream.relay_batch:
                break
            if sent == 0:
                time.sleep(stream.relay_interval_s)
    finally:
        producer.close()
        engine.dispose()
    typer.echo(f"relayed {total} entries to {stream.commissions_topic}")


def register(app: typer.Typer) -> None:
    app.command("consume")(consume)
    app.command("produce")(produce)
    app.command("relay")(relay)
