"""The pipelined writer leaves books byte-identical to the batch-by-batch reading path.

On SQLite and PostgreSQL: the bench's events and a simulated mall give the same dump of every
table either way; redeliveries, re-payments and re-joins (keys the pipeline guessed new) and a
foreign writer between batches make it fall back and still agree; a writer error stops the
ingest with exactly the batches before it committed; and while it holds the book on
PostgreSQL, another writer waits instead of interleaving.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, select

from benchmarks.settle_bench import PLAN as BENCH_PLAN
from benchmarks.settle_bench import generate
from features.simulator import SimulationConfig, simulate
from settlement import pipeline
from settlement.book_lock import let_go_book, try_hold_book
from settlement.db import create_db_engine, upgrade
from settlement.engine import APPLIED, DUPLICATE, REJECTED
from settlement.event_file import index_file, read_in_order
from settlement.events import Event, parse_timestamp
from settlement.ingest import Ingest
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.schema import metadata
from settlement.scratch import scratch_postgres
from settlement.service import release_due, sort_events
from tests.conftest import EventFactory, _postgres_admin_url
from tests.settlement.helpers import assert_books_verified

BATCH = 400
WALL_CLOCK = {("event_rejections", "rejected_at"), ("plan_versions", "recorded_at")}


@pytest.fixture(params=["sqlite", "postgresql"])
def two_books(request, tmp_path) -> tuple[Engine, Engine]:
    """Two empty books of the same kind: one settled batch by batch, one pipelined."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'reading.db'}", f"sqlite:///{tmp_path / 'piped.db'}"]
    else:
        urls = [request.getfixturevalue("postgres_url"),
                request.getfixturevalue("second_postgres_url")]
    engines = []
    for url in urls:
        engine = create_db_engine(url)
        upgrade(engine)
        engines.append(engine)
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()


@pytest.fixture
def second_postgres_url() -> Any:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL not configured")
    with scratch_postgres(admin_url, "fenrun_test") as url:
        yield url


def _store_plan(books: Engine, plan_text: str) -> None:
    with books.begin() as conn:
        store_versions(conn, parse_plan_text(plan_text))


def dump(books: Engine, serials: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order, but the wall-clock columns.

    `serials=False` leaves out generated row ids (touch_id, posting_id) and sorts the rest: a
    PostgreSQL sequence never gives back the values of a rolled-back batch.
    """
    found = {}
    with books.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in WALL_CLOCK
                       and (serials or c.autoincrement is not True)]
            rows = [tuple(row) for row in conn.execute(
                select(*columns).order_by(*table.primary_key.columns)).all()]
            found[table.name] = rows if serials else sorted(rows, key=repr)
    return found


def by_reading(books: Engine, events: Sequence[Event]) -> list[Any]:
    ingest = Ingest(books, BATCH)
    return [o.status for start in range(0, len(events), BATCH)
            for o in ingest.apply(events[start:start + BATCH])]


def pipelined(books: Engine, events: Sequence[Event]) -> list[Any]:
    ingest = Ingest(books, BATCH)
    batches = ((start, events[start:start + BATCH]) for start in range(0, len(events), BATCH))
    return [o.status for _, outcomes in ingest.apply_batches(batches) for o in outcomes]


def test_the_bench_events_give_identical_books(two_books, monkeypatch):
    reading, piped = two_books
    events = generate(1200, seed=5)
    for books in two_books:
        _store_plan(books, BENCH_PLAN)
    expected = by_reading(reading, events)
    read_again = []
    original = Ingest._apply_reading

    def counted(self, batch):
        read_again.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(Ingest, "_apply_reading", counted)
    assert pipelined(piped, events) == expected
    assert read_again == []  # nothing fell back: the state kept across batches stayed right
    assert dump(piped) == dump(reading)
    assert_books_verified(piped)


def test_rows_changed_again_in_later_batches_need_no_fallback(two_books, monkeypatch):
    """Paid, confirmed, suspended, refunded and reinstated in four batches: each batch's update
    expects the version the previous batch wrote, from the state kept across batches."""
    reading, piped = two_books
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    ev = EventFactory()
    batches = [
        [ev.join("2026-02-01T00:00:00Z", "P0"), ev.join("2026-02-01T00:00:01Z", "P1", "P0"),
         ev.touch("2026-02-02T00:00:00Z", "c1", "P1"),
         ev.paid("2026-02-02T00:00:01Z", "o1", "c1", ("a", "food", "10.00"),
                 ("b", "home", "5.00"))],
        [ev.confirmed("2026-02-03T00:00:00Z", "o1"),
         ev("promoter_suspended", "2026-02-03T00:00:01Z", promoter_id="P0")],
        [ev.refunded("2026-02-04T00:00:00Z", "o1", ("a", "4.00"))],
        [ev.refunded("2026-02-20T00:00:00Z", "o1", ("b", "5.00")),
         ev("promoter_reinstated", "2026-02-20T00:00:01Z", promoter_id="P0")],
    ]
    read_again = []
    original = Ingest._apply_reading
    monkeypatch.setattr(Ingest, "_apply_reading",
                        lambda self, batch: read_again.append(batch) or original(self, batch))
    piped_statuses = [o.status for _, outcomes in Ingest(piped, BATCH).apply_batches(
        enumerate(batches)) for o in outcomes]
    assert read_again == []
    monkeypatch.setattr(Ingest, "_apply_reading", original)
    assert piped_statuses == [s for batch in batches for s in by_reading(reading, batch)]
    assert set(piped_statuses) == {APPLIED}
    assert dump(piped) == dump(reading)


def test_a_rejected_repeat_of_a_stored_order_or_join_is_decided_as_the_reading_path_does(
        two_books):
    """A second payment of a stored order or a second join of a stored promoter, each rejected
    for another reason too (no row of theirs is written, so no key could catch a wrong guess),
    then events that need the stored order and promoter in the next batches."""
    reading, piped = two_books
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    ev = EventFactory()
    before = [ev.join("2026-02-01T00:00:00Z", "P0"), ev.join("2026-02-01T00:00:01Z", "P1", "P0"),
              ev.touch("2026-02-02T00:00:00Z", "c1", "P1"),
              ev.paid("2026-02-02T00:00:01Z", "o1", "c1", ("a", "food", "10.00"))]
    batches = [
        [ev.join("2026-02-03T00:00:00Z", "P1", "P-nobody"),  # already joined / no such parent
         ev.paid("2026-02-03T00:00:01Z", "o1", "c1", ("a", "food", "1.00"), currency="USD")],
        [ev.touch("2026-02-04T00:00:00Z", "c2", "P1"), ev.confirmed("2026-02-04T00:00:01Z", "o1")],
    ]
    for books in two_books:
        Ingest(books, BATCH).apply(before)
    piped_statuses = [(o.status, o.reason) for _, outcomes in Ingest(piped, BATCH).apply_batches(
        enumerate(batches)) for o in outcomes]
    expected = []
    for batch in batches:
        expected += [(o.status, o.reason) for o in Ingest(reading, BATCH).apply(batch)]
    assert piped_statuses == expected
    assert [status for status, _ in expected] == [REJECTED, REJECTED, APPLIED, APPLIED]
    assert dump(piped) == dump(reading)


def test_replaying_the_same_events_changes_nothing(two_books):
    _, piped = two_books
    events = generate(600, seed=6)
    _store_plan(piped, BENCH_PLAN)
    pipelined(piped, events)
    before = dump(piped)
    assert set(pipelined(piped, events)) == {DUPLICATE}  # the first key taken: read from then on
    assert dump(piped) == before
    assert_books_verified(piped)


def test_starting_afresh_at_the_memory_bound_gives_the_same_books(two_books, monkeypatch):
    reading, piped = two_books
    events = generate(900, seed=8)
    for books in two_books:
        _store_plan(books, BENCH_PLAN)
    fresh = []
    original = pipeline.Workspace
    monkeypatch.setattr(pipeline, "MAX_HELD", 150)  # a fresh workspace every batch or two
    monkeypatch.setattr(pipeline, "Workspace",
                        lambda *args, **kwargs: fresh.append(1) or original(*args, **kwargs))
    assert pipelined(piped, events) == by_reading(reading, events)
    assert len(fresh) > 3
    assert dump(piped) == dump(reading)


def test_a_simulated_mall_settles_to_identical_books(two_books, tmp_path):
    reading, piped = two_books
    simulate(tmp_path / "sim", SimulationConfig(promoters=300, days=20, seed=4))
    path = tmp_path / "sim" / "events.jsonl"
    plan_text = (tmp_path / "sim" / "plan.yaml").read_text()
    for books in two_books:
        _store_plan(books, plan_text)
    index = index_file(path)
    events = [event for batch, _ in read_in_order(path, index, BATCH) for _, event in batch]
    assert pipelined(piped, events) == by_reading(reading, events)
    assert dump(piped) == dump(reading)
    assert_books_verified(piped)
    # the order-time screen ran on the pipelined path too: its holds and cases are in the dump
    with piped.connect() as conn:
        held = conn.exec_driver_sql("SELECT count(*) FROM order_holds").scalar_one()
        cases = conn.exec_driver_sql("SELECT count(*) FROM risk_cases").scalar_one()
    assert held > 0 and cases > 0


def test_a_mall_with_every_plan_rule_settles_to_identical_books(two_books, tmp_path,
                                                               monkeypatch):
    """Plans v2 accumulators (merchant months, ladders, grades, day grants, agents) carried from
    batch to batch give the books the reading path gives."""
    reading, piped = two_books
    simulate(tmp_path / "sim", SimulationConfig(promoters=300, days=20, seed=5, plan_rules=True))
    path = tmp_path / "sim" / "events.jsonl"
    plan_text = (tmp_path / "sim" / "plan.yaml").read_text()
    for books in two_books:
        _store_plan(books, plan_text)
    index = index_file(path)
    events = [event for batch, _ in read_in_order(path, index, BATCH) for _, event in batch]
    expected = by_reading(reading, events)
    read_again: list[int] = []
    original = Ingest._apply_reading
    monkeypatch.setattr(Ingest, "_apply_reading",
                        lambda self, batch: read_again.append(len(batch)) or original(self, batch))
    assert pipelined(piped, events) == expected
    assert read_again == []  # the accumulators were carried, not read again
    assert dump(piped) == dump(reading)
    assert_books_verified(piped)
    with piped.connect() as conn:
        tallies = conn.exec_driver_sql("SELECT count(*) FROM plan_tallies").scalar_one()
    assert tallies > 0


TERMS = ('promoter_terms: {P000135: {hold_days: 0}, P000000: {hold_days: 1}, '
         'P000180: {hold_days: 2, guarantee: {per_month: "5000.00", months: 2}}, '
         'P000064: {guarantee: {per_month: "300.00", months: 1}}}\n')


def test_a_mall_with_promoter_terms_settles_to_identical_books(two_books, tmp_path):
    """Promoter holds and guarantees (posted by the release after January's local end) give the
    same books pipelined and by reading; a second release run posts nothing more."""
    simulate(tmp_path / "sim", SimulationConfig(promoters=300, days=20, seed=5, plan_rules=True))
    path = tmp_path / "sim" / "events.jsonl"
    plan_text = (tmp_path / "sim" / "plan.yaml").read_text() + TERMS
    for books in two_books:
        _store_plan(books, plan_text)
    index = index_file(path)
    events = [event for batch, _ in read_in_order(path, index, BATCH) for _, event in batch]
    reading, piped = two_books
    assert pipelined(piped, events) == by_reading(reading, events)
    plans = PlanBook(parse_plan_text(plan_text))
    for books in two_books:
        release_due(books, plans, parse_timestamp("2026-02-01T00:00:00Z"))
    assert dump(piped) == dump(reading)
    assert_books_verified(piped)
    release_due(piped, plans, parse_timestamp("2026-02-02T00:00:00Z"), batch_size=7)
    assert dump(piped) == dump(reading)
    with piped.connect() as conn:
        months = conn.exec_driver_sql(
            "SELECT count(*) FROM plan_tallies WHERE substr(tally_key, 1, 10) = 'guarantee|'"
        ).scalar_one()
        topups = conn.exec_driver_sql(
            "SELECT count(*) FROM journal_entries WHERE kind = 'guarantee_topup'").scalar_one()
        at_once = conn.exec_driver_sql(
            "SELECT count(*) FROM orders WHERE release_due_at = confirmed_at").scalar_one()
    assert months == 2 and topups >= 1  # January of P000180 and of P000064
    assert at_once > 0  # orders whose level-1 promoter holds 0 days


def _tricky(factory: EventFactory) -> list[Event]:
    """A stream whose later batches repeat ids the pipeline takes as new, plus rejections."""
    ev = factory
    events = [ev.join("2026-02-01T00:00:00Z", "P0"), ev.join("2026-02-01T00:00:01Z", "P1", "P0")]
    for n in range(900):
        ts = f"2026-02-{2 + n // 60:02d}T{n % 60 // 10:02d}:{n % 10:02d}:00Z"
        events.append(ev.touch(ts, f"c{n % 50}", "P1" if n % 3 else "P0",
                               kind="register" if n % 7 == 0 else "click"))
        events.append(ev.paid(ts, f"o{n}", f"c{n % 50}", ("s", "food", "10.00")))
        if n % 4 == 0:
            events.append(ev.confirmed(ts, f"o{n}"))
        if n % 9 == 0:
            events.append(ev.touch(ts, f"c{n}", "P-unknown"))  # rejected: never joined
    return sort_events(events)


def test_ids_taken_before_fall_back_to_reading_and_agree(two_books):
    reading, piped = two_books
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    first = _tricky(EventFactory())
    late = [e for e in first if e.type == "order_paid"][-5:]
    again = EventFactory("re-")
    repeated = first[-700:] + [  # redeliveries, a second payment of an order, a second join
        again.paid(late[0].payload["ts"], late[0].payload["order_id"], "c1", ("s", "food", "1.00")),
        again.join("2026-02-20T00:00:00Z", "P1")]
    events = first + sort_events(repeated)
    statuses = pipelined(piped, events)
    assert statuses == by_reading(reading, events)
    assert statuses.count(DUPLICATE) > 600 and REJECTED in statuses and APPLIED in statuses
    assert dump(piped) == dump(reading)


def test_a_write_by_another_connection_between_batches_is_noticed(two_books, monkeypatch):
    reading, piped = two_books
    if piped.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL other writers wait for the book instead (next test)")
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    events = _tricky(EventFactory())
    # Another writer settles a touch for a customer the pipeline already holds, after the
    # pipeline committed its first batch and before it writes the second.
    foreign = EventFactory("other-").touch("2026-02-02T00:00:30Z", "c3", "P0", kind="register")

    class Meddling(queue.Queue):
        gets = 0

        def get(self, *args: Any, **kwargs: Any) -> Any:
            item = super().get(*args, **kwargs)
            Meddling.gets += 1
            if Meddling.gets == 2:
                Ingest(piped, BATCH).apply([foreign])
            return item

    original_init = pipeline._Writer.__init__

    def init(self, *args: Any) -> None:
        original_init(self, *args)
        self.jobs = Meddling(maxsize=1)

    monkeypatch.setattr(pipeline._Writer, "__init__", init)
    statuses = pipelined(piped, events)
    expected = by_reading(reading, events[:BATCH])
    by_reading(reading, [foreign])
    expected += by_reading(reading, events[BATCH:])
    assert statuses == expected
    assert dump(piped) == dump(reading)


def test_other_writers_wait_while_the_book_is_held(two_books):
    _, piped = two_books
    if piped.dialect.name != "postgresql":
        pytest.skip("the book lock is PostgreSQL's")
    _store_plan(piped, DEFAULT_PLAN_TEXT)
    foreign = EventFactory().join("2026-02-01T00:00:00Z", "P0")
    done = threading.Event()

    def other_writer() -> None:
        Ingest(piped, BATCH).apply([foreign])
        done.set()

    with piped.connect() as conn:
        assert try_hold_book(conn)
        worker = threading.Thread(target=other_writer)
        worker.start()
        time.sleep(1.0)
        assert not done.is_set()  # it waits for the book
        let_go_book(conn)
    worker.join(timeout=30)
    assert done.is_set()


def test_a_writer_error_stops_the_ingest_at_the_last_committed_batch(two_books, monkeypatch):
    reading, piped = two_books
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    events = _tricky(EventFactory())
    original = pipeline.write_flush
    calls = {"n": 0}

    def failing(conn, prepared) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            original(conn, prepared)  # half of the batch is sent, then the writer breaks
            raise OSError("disk on fire")
        original(conn, prepared)

    monkeypatch.setattr(pipeline, "write_flush", failing)
    with pytest.raises(OSError, match="disk on fire"):
        pipelined(piped, events)
    by_reading(reading, events[:2 * BATCH])
    assert dump(piped) == dump(reading)
    assert_books_verified(piped)
    # The book is given back: another writer goes on, and the rest settles as if never broken.
    monkeypatch.setattr(pipeline, "write_flush", original)
    assert pipelined(piped, events[2 * BATCH:]) == by_reading(reading, events[2 * BATCH:])
    assert dump(piped, serials=False) == dump(reading, serials=False)


def test_a_held_book_makes_the_pipeline_read_every_batch(two_books):
    reading, piped = two_books
    if piped.dialect.name != "postgresql":
        pytest.skip("the book lock is PostgreSQL's")
    for books in two_books:
        _store_plan(books, DEFAULT_PLAN_TEXT)
    events = _tricky(EventFactory())
    with piped.connect() as conn:
        assert try_hold_book(conn)  # someone else keeps the book: no state may be kept
        holder_done = threading.Event()
        result: dict[str, Any] = {}

        def run() -> None:
            result["statuses"] = pipelined(piped, events)
            holder_done.set()

        # Our own session holds it exclusively: the pipeline cannot take it and reads instead,
        # and its reading transactions then wait for the holder.
        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)
        assert not holder_done.is_set()
        let_go_book(conn)
    worker.join(timeout=120)
    assert result["statuses"] == by_reading(reading, events)
    assert dump(piped) == dump(reading)


DEFAULT_PLAN_TEXT = """
effective_from: 2026-01-01T00:00:00Z
currency: CNY
platform_take_rate: "0.05"
levels: ["0.10", "0.05", "0.02"]
attribution: {model: position, first: "0.6", last: "0.4", lookback_days: 30}
customer_binding: lifetime
hold_days: 7
payout_minimum: "100.00"
review_limit: "10000.00"
"""

