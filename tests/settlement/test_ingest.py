"""One way into the books: every writer applies, tallies and releases the same way; a rejected
event is decided again when it comes back (an early touch heals once its promoter has joined)
while an applied event is applied at most once; the rejection history stays in the books."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from settlement import tables as t
from settlement.engine import APPLIED, CONFLICT, DUPLICATE, REJECTED
from settlement.ingest import Ingest, Tally, retry_rejected
from settlement.plan import PlanBook
from settlement.plan_store import store_versions
from settlement.rejections import list_rejected
from tests.settlement.helpers import assert_books_verified, at, promoter


@pytest.fixture
def stored(books, plans):
    """Books whose plan versions are stored, as every path without a plan file reads them."""
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    return books


def _history(books, event_id: str) -> list[tuple[int, str]]:
    r = t.event_rejections.c
    with books.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(r.attempt, r.reason).where(r.event_id == event_id).order_by(r.attempt))]


def _stored_event(books, event_id: str) -> tuple[str, int, str | None]:
    e = t.events.c
    with books.connect() as conn:
        return tuple(conn.execute(select(e.status, e.attempts, e.reason)
                                  .where(e.event_id == event_id)).one())


def test_ingest_applies_in_micro_batches_tallies_and_releases_by_the_last_instant(stored, ev):
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "100.00")),
              ev.confirmed("2026-03-03T00:00:00Z", "o1"),
              ev.touch("2026-03-04T00:00:00Z", "y", "nobody"),
              ev.touch("2026-03-11T00:00:00Z", "x", "A")]
    ingest = Ingest(stored, batch_size=2)
    outcomes = ingest.apply(events)
    assert [o.status for o in outcomes] == [APPLIED] * 4 + [REJECTED, APPLIED]
    assert ingest.release() == 1  # held 7 days from 03-03: due by the last instant, 03-11
    assert ingest.tally == Tally(applied=5, rejected=1, released=1)
    again = Ingest(stored, batch_size=500)
    again.apply(events[:4])
    assert again.tally == Tally(duplicate=4)
    assert promoter(stored, "A") == {"pending": "0.00", "available": "10.00", "paid": "0.00"}
    assert_books_verified(stored)


def test_a_touch_that_arrived_before_its_promoter_heals_when_it_is_delivered_again(stored, ev):
    touch = ev.touch("2026-03-02T10:00:00Z", "x", "A")
    first, = Ingest(stored, 500).apply([touch])
    assert first.status == REJECTED and "A has not joined" in first.reason
    Ingest(stored, 500).apply([ev.join("2026-03-01T08:00:00Z", "A")])  # the join arrives late
    healed, = Ingest(stored, 500).apply([touch])
    assert healed.status == APPLIED
    Ingest(stored, 500).apply([ev.paid("2026-03-02T10:05:00Z", "o1", "x",
                                       ("tea", "food", "100.00"))])
    assert promoter(stored, "A")["pending"] == "10.00"
    assert _stored_event(stored, touch.event_id) == (APPLIED, 2, None)
    assert _history(stored, touch.event_id) == [(1, "promoter_id: A has not joined")]
    again, = Ingest(stored, 500).apply([touch])
    assert again.status == DUPLICATE  # applied once, never twice
    assert _stored_event(stored, touch.event_id) == (APPLIED, 2, None)
    assert_books_verified(stored)


def test_a_rejected_event_delivered_again_with_other_content_is_a_conflict(stored, ev):
    ev.touch("2026-03-02T10:00:00Z", "x", "A")
    touch = ev.touch("2026-03-02T10:00:00Z", "x", "A")
    Ingest(stored, 500).apply([touch])
    Ingest(stored, 500).apply([ev.join("2026-03-01T08:00:00Z", "A")])
    other = ev("touch", "2026-03-02T10:00:00Z", customer_id="y", promoter_id="A",
               event_id=touch.event_id)
    outcome, = Ingest(stored, 500).apply([other])
    assert outcome.status == CONFLICT
    assert _stored_event(stored, touch.event_id)[:2] == (REJECTED, 1)


def test_the_same_rejected_event_twice_in_one_batch_is_recorded_once_per_attempt(stored, ev):
    touch = ev.touch("2026-03-02T10:00:00Z", "x", "A")
    join = ev.join("2026-03-01T08:00:00Z", "A")
    outcomes = Ingest(stored, 500).apply([touch, join, touch])
    assert [o.status for o in outcomes] == [REJECTED, APPLIED, APPLIED]
    assert _stored_event(stored, touch.event_id) == (APPLIED, 2, None)
    assert _history(stored, touch.event_id) == [(1, "promoter_id: A has not joined")]


def test_retry_reapplies_stored_payloads_and_keeps_every_reason(stored, ev):
    early = ev.touch("2026-03-02T10:00:00Z", "x", "A")
    orphan = ev.join("2026-03-01T08:00:00Z", "B", "Z")
    Ingest(stored, 500).apply([early, orphan])
    Ingest(stored, 500).apply([ev.join("2026-03-01T08:00:00Z", "A"),
                               ev.join("2026-03-01T09:00:00Z", "Z")])  # Z joins after B's ts
    with stored.connect() as conn:
        listed = {r.event_id: r for r in list_rejected(conn, limit=10)}
    assert set(listed) == {early.event_id, orphan.event_id}
    assert listed[early.event_id].attempts == 1 and listed[early.event_id].type == "touch"
    result = retry_rejected(stored, batch_size=500)
    assert {o.event_id: o.status for o in result.outcomes} == {early.event_id: APPLIED,
                                                               orphan.event_id: REJECTED}
    assert result.tally == Tally(applied=1, rejected=1)
    assert _stored_event(stored, orphan.event_id) == (
        REJECTED, 2, "parent_id: Z joined after this event")
    assert _history(stored, orphan.event_id) == [
        (1, "parent_id: Z has not joined yet"), (2, "parent_id: Z joined after this event")]
    with stored.connect() as conn:
        assert list_rejected(conn, event_type="touch", limit=10) == []
        assert [r.event_id for r in list_rejected(conn, limit=10)] == [orphan.event_id]
    named = retry_rejected(stored, batch_size=500, event_ids=[early.event_id, "missing"])
    assert [o.status for o in named.outcomes] == [DUPLICATE]
    assert named.unknown == ["missing"]
    assert_books_verified(stored)


def test_the_plan_book_of_a_running_writer_follows_versions_stored_meanwhile(stored, plans, ev):
    ingest = Ingest(stored, 500)  # a long-lived writer, like a worker
    ingest.apply([ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
                  ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "100.00"))])
    raised = PlanBook(plans.versions).versions[0].document | {
        "effective_from": "2026-03-05T00:00:00Z", "levels": ["0.20", "0.05", "0.02"]}
    from settlement.plan import build_version

    with stored.begin() as conn:
        store_versions(conn, [build_version(raised)])
    outcome, = ingest.apply([ev.paid("2026-03-06T00:00:00Z", "o2", "x", ("tea", "food", "100.00"))])
    assert outcome.status == APPLIED
    assert promoter(stored, "A")["pending"] == "30.00"  # 10.00 at the old rate, 20.00 at the new
    confirm, = ingest.apply([ev.confirmed("2026-03-07T00:00:00Z", "o2")])
    assert confirm.status == APPLIED


def test_a_version_that_would_change_settled_history_is_refused(stored, plans, ev):
    from settlement.errors import PlanError
    from settlement.plan import build_version

    Ingest(stored, 500).apply([ev.join("2026-03-01T08:00:00Z", "A"),
                               ev.touch("2026-03-02T10:00:00Z", "x", "A"),
                               ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("t", "food", "1.00"))])
    base = plans.versions[0].document
    backdated = build_version(base | {"effective_from": "2026-03-02T10:05:00Z",
                                      "levels": ["0.20", "0.05", "0.02"]})
    with pytest.raises(PlanError, match="effective_from: 2026-03-02T10:05:00"):
        with stored.begin() as conn:
            store_versions(conn, [backdated])
    rejected, = Ingest(stored, 500).apply([ev.touch("2026-03-09T00:00:00Z", "y", "nobody")])
    assert rejected.status == REJECTED  # changed nothing: it does not hold new versions back
    later = build_version(base | {"effective_from": "2026-03-02T10:05:01Z"})
    with stored.begin() as conn:
        assert store_versions(conn, [later]) == [later.version_id]
    with stored.begin() as conn:
        assert store_versions(conn, [later]) == []  # storing a known version again is harmless
    assert at("2026-03-02T10:05:01Z") == later.effective_from
