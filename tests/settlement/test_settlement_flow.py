"""The settlement rules end to end, on SQLite and PostgreSQL: splits, holds, refunds, replays."""

from __future__ import annotations

from settlement.engine import APPLIED, CONFLICT, DUPLICATE, REJECTED
from settlement.events import parse_event
from tests.settlement.helpers import assert_books_verified, balances, promoter, settle


def brief_tree(ev):
    return [ev.join("2026-03-01T08:00:00Z", "A"), ev.join("2026-03-01T09:00:00Z", "B", "A"),
            ev.join("2026-03-01T10:00:00Z", "C", "B")]


def test_the_brief_example_pays_two_levels(books, plans, ev):
    events = brief_tree(ev) + [
        ev.touch("2026-03-02T10:00:00Z", "B", "A"),
        ev.paid("2026-03-02T10:05:00Z", "o1", "B", ("tea", "food", "100.00")),
        ev.touch("2026-03-03T11:00:00Z", "C", "B"),
        ev.paid("2026-03-03T11:05:00Z", "o2", "C", ("cup", "home", "50.00")),
    ]
    outcomes = settle(books, plans, events)
    assert {o.status for o in outcomes} == {APPLIED}
    assert promoter(books, "A")["pending"] == "12.50"  # 10.00 as L1 on o1, 2.50 as L2 on o2
    assert promoter(books, "B")["pending"] == "5.00"
    assert "C" not in balances(books)["promoters"]
    assert balances(books)["merchants"]["m1"]["payable"] == "125.00"
    assert balances(books)["platform"]["revenue"] == "7.50"
    assert_books_verified(books)


def test_category_rates_and_missing_ancestors_stay_with_the_merchant(books, plans, ev):
    events = [ev.join("2026-03-01T08:00:00Z", "A"),
              ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tv", "electronics", "1000.00"))]
    settle(books, plans, events)
    assert promoter(books, "A")["pending"] == "30.00"  # electronics L1 is 3%
    assert balances(books)["platform"]["revenue"] == "20.00"  # electronics take is 2%
    assert balances(books)["merchants"]["m1"]["payable"] == "950.00"


def test_position_attribution_splits_first_and_last(books, plans, ev):
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.join("2026-03-01T08:00:00Z", "B"),
              ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              ev.touch("2026-03-03T10:00:00Z", "x", "B"),
              ev.paid("2026-03-04T10:00:00Z", "o1", "x", ("tea", "food", "100.00"))]
    settle(books, plans, events)
    assert promoter(books, "A")["pending"] == "6.00"
    assert promoter(books, "B")["pending"] == "4.00"


def test_lifetime_binding_credits_when_no_touch_is_in_the_window(books, plans, ev):
    events = [ev.join("2026-01-01T08:00:00Z", "A"),
              ev.touch("2026-01-02T10:00:00Z", "x", "A", kind="register"),
              ev.paid("2026-06-01T10:00:00Z", "o1", "x", ("tea", "food", "100.00"))]
    settle(books, plans, events)
    assert promoter(books, "A")["pending"] == "10.00"


def test_hold_releases_seven_days_after_confirmation(books, plans, ev):
    base = [ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
            ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "100.00")),
            ev.confirmed("2026-03-05T00:00:00Z", "o1")]
    settle(books, plans, base, as_of="2026-03-11T23:59:59Z")
    assert promoter(books, "A") == {"pending": "10.00", "available": "0.00", "paid": "0.00"}
    settle(books, plans, [], as_of="2026-03-12T00:00:00Z")  # confirmed_at + 7 days <= as-of
    assert promoter(books, "A") == {"pending": "0.00", "available": "10.00", "paid": "0.00"}
    assert_books_verified(books)


def test_partial_then_full_refund_returns_everyone_to_zero(books, plans, ev):
    events = brief_tree(ev) + [
        ev.touch("2026-03-02T10:00:00Z", "x", "C"),
        ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "33.33"), ("b", "home", "66.67")),
        ev.refunded("2026-03-03T10:00:00Z", "o1", ("a", "10.01")),
    ]
    settle(books, plans, events)
    assert promoter(books, "C")["pending"] == "8.99"  # floor(89.99 * 0.10)
    settle(books, plans, [ev.refunded("2026-03-04T10:00:00Z", "o1", ("a", "23.32"),
                                      ("b", "66.67"))])
    document = balances(books)
    assert all(row["pending"] == "0.00" for row in document["promoters"].values())
    assert document["merchants"]["m1"]["payable"] == "0.00"
    assert document["platform"]["revenue"] == "0.00"
    assert_books_verified(books)


def test_refund_after_release_is_clawed_back_and_netted(books, plans, ev):
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "2000.00")),
              ev.confirmed("2026-03-03T00:00:00Z", "o1")]
    settle(books, plans, events, as_of="2026-03-10T00:00:00Z")
    assert promoter(books, "A")["available"] == "200.00"
    settle(books, plans, [ev.refunded("2026-03-20T00:00:00Z", "o1", ("tea", "1500.00"))])
    assert promoter(books, "A") == {"pending": "0.00", "available": "50.00", "paid": "0.00"}
    assert_books_verified(books)


def test_refund_after_the_hold_ended_claws_back_even_if_no_release_ran(books, plans, ev):
    """The books do not depend on when the release job happened to run."""
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("tea", "food", "2000.00")),
              ev.confirmed("2026-03-03T00:00:00Z", "o1"),
              ev.refunded("2026-03-20T00:00:00Z", "o1", ("tea", "2000.00"))]
    settle(books, plans, events)
    assert promoter(books, "A") == {"pending": "0.00", "available": "0.00", "paid": "0.00"}
    assert_books_verified(books)


def test_replaying_events_changes_nothing(books, plans, ev):
    events = brief_tree(ev) + [ev.touch("2026-03-02T10:00:00Z", "x", "C"),
                               ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "10.00"))]
    settle(books, plans, events)
    before = balances(books)
    outcomes = settle(books, plans, events)
    assert {o.status for o in outcomes} == {DUPLICATE}
    assert balances(books) == before


def test_a_reused_event_id_with_another_payload_is_a_conflict(books, plans, ev):
    settle(books, plans, [ev.join("2026-03-01T08:00:00Z", "A", event_id="same")])
    outcome, = settle(books, plans, [ev.join("2026-03-01T08:00:00Z", "Z", event_id="same")])
    assert outcome.status == CONFLICT
    assert set(balances(books)["promoters"]) == set()


def test_a_rejected_event_is_decided_again_on_redelivery_and_stays_rejected_if_still_wrong(
        books, plans, ev):
    orphan = ev.join("2026-03-01T08:00:00Z", "B", "A", event_id="orphan")
    first, = settle(books, plans, [orphan])
    assert first.status == REJECTED and first.reason == "parent_id: A has not joined yet"
    settle(books, plans, [ev.join("2026-03-01T09:00:00Z", "A")])  # A joins, but after B's ts
    again, = settle(books, plans, [orphan])
    assert again.status == REJECTED and again.reason == "parent_id: A joined after this event"
    assert set(balances(books)["promoters"]) == set()


def test_invalid_transitions_are_rejected_with_reasons(books, plans, ev):
    events = [
        ev.join("2026-03-01T08:00:00Z", "A"),
        ev.join("2026-03-01T08:30:00Z", "A"),                                      # second join
        ev.touch("2026-03-01T09:00:00Z", "A", "A"),                                # self-referral
        ev.touch("2026-03-01T09:00:00Z", "x", "nobody"),                           # unknown
        ev.confirmed("2026-03-01T09:30:00Z", "o1"),                                # before paid
        ev.paid("2026-03-01T10:00:00Z", "o1", "x", ("a", "food", "10.00")),
        ev.confirmed("2026-03-02T10:00:00Z", "o1"),
        ev.confirmed("2026-03-03T10:00:00Z", "o1"),                                # twice
        ev.refunded("2026-03-03T11:00:00Z", "o1", ("a", "10.01")),                 # too much
        ev.paid("2025-12-31T10:00:00Z", "o0", "x", ("a", "food", "10.00")),        # before plan
        ev.paid("2026-03-04T10:00:00Z", "o2", "x", ("a", "food", "10.00"), currency="USD"),
    ]
    outcomes = {o.event_id: o for o in settle(books, plans, events)}
    reasons = {e.event_id: outcomes[e.event_id] for e in events}
    statuses = [reasons[e.event_id].status for e in events]
    assert statuses == [APPLIED, REJECTED, REJECTED, REJECTED, REJECTED, APPLIED, APPLIED,
                        REJECTED, REJECTED, REJECTED, REJECTED]
    texts = [reasons[e.event_id].reason for e in events]
    assert "already joined" in texts[1] and "self-referral" in texts[2]
    assert "has not joined" in texts[3] and "has not been paid" in texts[4]
    assert "already confirmed" in texts[7] and "exceeds" in texts[8]
    assert "no plan version" in texts[9] and "currency" in texts[10]
    assert_books_verified(books)


def test_late_touches_never_reattribute_a_paid_order(books, plans, ev):
    settle(books, plans, [ev.join("2026-03-01T08:00:00Z", "A"),
                          ev.join("2026-03-01T08:00:00Z", "B"),
                          ev.touch("2026-03-02T10:00:00Z", "x", "A"),
                          ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00"))])
    settle(books, plans, [ev.touch("2026-03-02T09:00:00Z", "x", "B")])  # arrives late
    assert promoter(books, "A")["pending"] == "10.00"
    assert "B" not in balances(books)["promoters"]


def test_suspended_promoters_earn_nothing_but_their_parent_still_does(books, plans, ev):
    events = brief_tree(ev) + [
        ev("promoter_suspended", "2026-03-01T12:00:00Z", promoter_id="C"),
        ev.touch("2026-03-02T10:00:00Z", "x", "C"),
        ev.paid("2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00")),
    ]
    settle(books, plans, events)
    assert "C" not in balances(books)["promoters"]
    assert promoter(books, "B")["pending"] == "5.00"
    assert balances(books)["merchants"]["m1"]["payable"] == "88.00"  # 100 - 5 - 5 - 2


def test_a_buyer_never_earns_on_their_own_order_through_the_tree(books, plans, ev):
    events = brief_tree(ev) + [ev.touch("2026-03-02T10:00:00Z", "A", "C"),
                               ev.paid("2026-03-02T10:05:00Z", "o1", "A", ("a", "food", "100.00"))]
    settle(books, plans, events)
    assert "A" not in balances(books)["promoters"]  # A is C's grandparent and the buyer
    assert promoter(books, "C")["pending"] == "10.00"


def test_extra_fields_are_kept(books, plans):
    event = parse_event({"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
                         "promoter_id": "A", "device_hash": "d1"})
    settle(books, plans, [event])
    from sqlalchemy import select

    from settlement.tables import events
    with books.connect() as conn:
        payload = conn.execute(select(events.c.payload)).scalar_one()
    assert '"device_hash":"d1"' in payload


def test_streaming_callers_can_hold_events_whose_reference_is_missing(books, plans, ev):
    from settlement.engine import WAITING
    from settlement.service import apply_batch

    child = ev.join("2026-03-01T09:00:00Z", "B", "A")
    with books.begin() as conn:
        outcome, = apply_batch(conn, plans, [child], defer_missing=True)
    assert outcome.status == WAITING and "has not joined" in outcome.reason
    settle(books, plans, [ev.join("2026-03-01T08:00:00Z", "A")])
    with books.begin() as conn:
        outcome, = apply_batch(conn, plans, [child], defer_missing=True)
    assert outcome.status == APPLIED


def test_a_reference_that_exists_only_later_in_time_is_rejected_for_good(books, plans, ev):
    settle(books, plans, [ev.join("2026-03-01T10:00:00Z", "A")])
    outcome, = settle(books, plans, [ev.touch("2026-03-01T09:00:00Z", "x", "A")])
    assert outcome.status == REJECTED and "joined after" in outcome.reason
