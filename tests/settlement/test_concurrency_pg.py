"""Parallel workers on PostgreSQL settle overlapping streams without doubling or losing anything.

Four workers each apply the whole stream with different batch sizes, so their transactions collide
on events, orders and hot balance rows; then four payout runs race at the same instant. The books
must equal a single worker's result on a separate database, to the fen. Likewise four writers
redelivering the same rejected touches at once, after their promoters joined, apply each once.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.ingest import Ingest
from settlement.payouts import run_payouts
from settlement.plan_store import store_versions
from settlement.service import apply_events, release_due, sort_events
from tests.conftest import EventFactory
from tests.settlement.helpers import assert_books_verified, at, balances

pytestmark = pytest.mark.integration


def stream(seed: int = 11):
    rng = random.Random(seed)
    ev = EventFactory()
    promoters = [f"P{i}" for i in range(25)]
    events = [ev.join(f"2026-02-01T00:{i:02d}:00Z", p, rng.choice(promoters[:i]) if i else None)
              for i, p in enumerate(promoters)]
    for n in range(400):
        day, minute = 1 + n // 40, n % 40
        customer = f"c{rng.randint(1, 60)}"
        for k in range(rng.randint(1, 3)):
            events.append(ev.touch(f"2026-03-{day:02d}T{k:02d}:{minute:02d}:00Z", customer,
                                   rng.choice(promoters)))
        order = f"o{n}"
        events.append(ev.paid(f"2026-03-{day:02d}T05:{minute:02d}:00Z", order, customer,
                              ("a", "food", f"{rng.randint(500, 90000)}.00"),
                              ("b", "electronics", f"{rng.randint(1, 9000)}.50"),
                              merchant=f"m{rng.randint(1, 3)}"))
        events.append(ev.confirmed(f"2026-03-{day:02d}T06:{minute:02d}:00Z", order))
        if rng.random() < 0.2:
            events.append(ev.refunded(f"2026-03-{day + 9:02d}T07:{minute:02d}:00Z", order,
                                      ("a", "100.00")))
    return sort_events(events)


def test_parallel_workers_and_payout_runs_match_a_single_worker(postgres_url, sqlite_url, plans):
    events = stream()
    as_of = at("2026-04-30T00:00:00Z")

    reference = create_db_engine(sqlite_url)
    upgrade(reference)
    apply_events(reference, plans, events, 100)
    release_due(reference, plans, as_of)
    expected_payouts = run_payouts(reference, plans, as_of)

    books = create_db_engine(postgres_url)
    upgrade(books)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(apply_events, books, plans, events, size) for size in (37, 50, 64, 91)]
        for run in runs:
            run.result()
    with ThreadPoolExecutor(max_workers=4) as pool:
        payout_runs = [pool.submit(run_payouts, books, plans, as_of) for _ in range(4)]
        made = [p for run in payout_runs for p in run.result()]

    assert expected_payouts and len(made) == len(expected_payouts)
    assert sorted((p.promoter_id, p.amount_minor) for p in made) == sorted(
        (p.promoter_id, p.amount_minor) for p in expected_payouts)
    assert balances(books) == balances(reference)
    assert_books_verified(books)
    books.dispose()
    reference.dispose()


def test_parallel_redeliveries_of_rejected_events_apply_each_once(postgres_url, sqlite_url,
                                                                  plans):
    ev = EventFactory()
    promoters = [f"P{i}" for i in range(8)]
    joins = [ev.join("2026-02-01T00:00:00Z", p) for p in promoters]
    touches = [ev.touch(f"2026-03-01T{n // 60:02d}:{n % 60:02d}:00Z", f"c{n}", promoters[n % 8])
               for n in range(120)]
    orders = [ev.paid(f"2026-03-02T{n // 60:02d}:{n % 60:02d}:00Z", f"o{n}", f"c{n}",
                      ("a", "food", f"{100 + n}.00")) for n in range(120)]

    reference = create_db_engine(sqlite_url)
    upgrade(reference)
    books = create_db_engine(postgres_url)
    upgrade(books)
    for engine in (reference, books):
        with engine.begin() as conn:
            store_versions(conn, plans.versions)
    Ingest(reference, 50).apply(joins + touches + orders)

    early = Ingest(books, 50)
    early.apply(touches)  # before any promoter joined: all rejected
    Ingest(books, 50).apply(joins)
    assert early.tally.rejected == len(touches)
    writers = [Ingest(books, size) for size in (7, 13, 40, 120)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for run in [pool.submit(w.apply, touches) for w in writers]:
            run.result()
    assert sum(w.tally.applied for w in writers) == len(touches)
    assert sum(w.tally.duplicate for w in writers) == 3 * len(touches)
    Ingest(books, 50).apply(orders)

    with books.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.touches)).scalar_one() == 120
        e = t.events.c
        attempts = conn.execute(select(e.attempts, func.count()).where(e.type == "touch")
                                .group_by(e.attempts)).all()
        assert [tuple(row) for row in attempts] == [(2, 120)]
        assert conn.execute(select(func.count()).select_from(t.event_rejections)
                            ).scalar_one() == 120
    assert balances(books) == balances(reference)
    assert_books_verified(books)
    books.dispose()
    reference.dispose()


def test_parallel_workers_under_every_plans_v2_rule_match_a_single_worker(postgres_url,
                                                                        sqlite_url):
    """The plans v2 accumulators (month GMV, ladder and grade GMV, day grants) are rows written
    at the version read: four colliding writers end with a single writer's books."""
    from settlement.plan import PlanBook, parse_plan_text
    from tests.conftest import DEFAULT_PLAN
    from tests.settlement.test_plans_v2_properties import OPTIONAL_KEYS

    keys = sorted(set(OPTIONAL_KEYS) - {"order_caps"})
    plans = PlanBook(parse_plan_text(DEFAULT_PLAN.replace("2026-01-01", "2026-01-31")
                                     + "".join(OPTIONAL_KEYS[k] + "\n" for k in keys)))
    events = stream(seed=5)
    reference = create_db_engine(sqlite_url)
    upgrade(reference)
    apply_events(reference, plans, events, 100)
    books = create_db_engine(postgres_url)
    upgrade(books)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(apply_events, books, plans, events, size) for size in (37, 50, 64, 91)]
        for run in runs:
            run.result()
    assert balances(books) == balances(reference)
    with books.connect() as conn, reference.connect() as ref:
        tallies = select(t.plan_tallies.c.tally_key, t.plan_tallies.c.value).order_by(
            t.plan_tallies.c.tally_key)
        assert conn.execute(tallies).all() == ref.execute(tallies).all()
    assert_books_verified(books)
    books.dispose()
    reference.dispose()
