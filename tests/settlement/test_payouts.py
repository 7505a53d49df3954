"""Payouts pay what cleared its hold, hold large sums for a person, and never pay twice."""

from __future__ import annotations

import pytest

from settlement.errors import PayoutError
from settlement.payouts import (
    AWAITING_APPROVAL,
    PAID,
    REJECTED,
    REVIEW_LIMIT,
    RISK_REVIEW,
    approve_payout,
    list_payouts,
    reject_payout,
    run_payouts,
)
from tests.settlement.helpers import assert_books_verified, at, promoter, settle


def earn(ev, promoter_id: str, customer: str, amount: str, day: int):
    """Events that make `promoter_id` earn 10% of `amount`, confirmed on the same day."""
    order = f"o-{promoter_id}-{customer}-{day}"
    return [ev.touch(f"2026-03-{day:02d}T10:00:00Z", customer, promoter_id),
            ev.paid(f"2026-03-{day:02d}T10:05:00Z", order, customer, ("sku", "food", amount)),
            ev.confirmed(f"2026-03-{day:02d}T12:00:00Z", order)]


@pytest.fixture
def earned(books, plans, ev):
    events = [ev.join("2026-03-01T00:00:00Z", p) for p in ("small", "normal", "big")]
    events += earn(ev, "small", "c1", "999.00", 2)        # 99.90: below the 100.00 minimum
    events += earn(ev, "normal", "c2", "1500.00", 2)      # 150.00
    events += earn(ev, "big", "c3", "200000.00", 2)       # 20,000.00: above the review limit
    settle(books, plans, events, as_of="2026-03-05T00:00:00Z")
    return books


def test_only_released_balances_above_the_minimum_are_paid(earned, plans):
    assert run_payouts(earned, plans, at("2026-03-08T00:00:00Z")) == []  # holds not over
    made = {p.promoter_id: p for p in run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))}
    assert set(made) == {"normal", "big"}
    assert made["normal"].status == PAID and made["normal"].amount_minor == 15_000
    assert made["big"].status == AWAITING_APPROVAL
    assert promoter(earned, "normal") == {"pending": "0.00", "available": "0.00",
                                          "paid": "150.00"}
    assert promoter(earned, "big")["available"] == "20000.00"
    assert promoter(earned, "small")["available"] == "99.90"
    assert_books_verified(earned)


def test_a_second_run_pays_nothing_twice(earned, plans):
    first = run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))
    second = run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))
    assert len(first) == 2 and second == []
    assert promoter(earned, "normal")["paid"] == "150.00"


def test_approval_pays_and_rejection_leaves_the_balance_available(earned, plans):
    made = {p.promoter_id: p for p in run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))}
    paid = approve_payout(earned, plans, made["big"].payout_id)
    assert paid.status == PAID
    assert promoter(earned, "big") == {"pending": "0.00", "available": "0.00",
                                       "paid": "20000.00"}
    with pytest.raises(PayoutError, match="not awaiting approval"):
        approve_payout(earned, plans, made["big"].payout_id)
    assert_books_verified(earned)


def test_rejected_payouts_keep_the_money_available(earned, plans):
    made = {p.promoter_id: p for p in run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))}
    assert reject_payout(earned, plans, made["big"].payout_id).status == REJECTED
    assert promoter(earned, "big")["available"] == "20000.00"


def test_clawbacks_are_netted_against_the_next_payout(books, plans, ev):
    events = [ev.join("2026-03-01T00:00:00Z", "A")]
    events += earn(ev, "A", "c1", "2000.00", 2) + earn(ev, "A", "c2", "3000.00", 3)
    settle(books, plans, events, as_of="2026-03-11T00:00:00Z")
    run_payouts(books, plans, at("2026-03-11T00:00:00Z"))
    assert promoter(books, "A")["paid"] == "500.00"
    refund = ev.refunded("2026-03-12T00:00:00Z", "o-A-c1-2", ("sku", "2000.00"))
    settle(books, plans, [refund] + earn(ev, "A", "c3", "4000.00", 13),
           as_of="2026-03-25T00:00:00Z")
    assert promoter(books, "A")["available"] == "200.00"  # 400.00 earned - 200.00 clawed back
    made, = run_payouts(books, plans, at("2026-03-25T00:00:00Z"))
    assert made.amount_minor == 20_000
    assert promoter(books, "A") == {"pending": "0.00", "available": "0.00", "paid": "700.00"}
    assert_books_verified(books)


def test_every_entry_records_the_plan_version_that_produced_it(earned, plans):
    from sqlalchemy import func, select

    from settlement.tables import journal_entries

    made = {p.promoter_id: p for p in run_payouts(earned, plans, at("2026-03-10T00:00:00Z"))}
    approve_payout(earned, plans, made["big"].payout_id)
    with earned.connect() as conn:
        unversioned = conn.execute(select(func.count()).select_from(journal_entries).where(
            journal_entries.c.plan_version_id.is_(None))).scalar_one()
    assert unversioned == 0


def test_flagged_promoters_wait_for_risk_review_whatever_the_sum(earned, plans):
    made = {p.promoter_id: p for p in run_payouts(earned, plans, at("2026-03-10T00:00:00Z"),
                                                  risk_review=frozenset({"normal", "nobody"}))}
    assert (made["normal"].status, made["normal"].hold_reason) == (AWAITING_APPROVAL,
                                                                  RISK_REVIEW)
    assert (made["big"].status, made["big"].hold_reason) == (AWAITING_APPROVAL, REVIEW_LIMIT)
    assert promoter(earned, "normal")["available"] == "150.00"  # nothing left the books
    assert run_payouts(earned, plans, at("2026-03-11T00:00:00Z")) == []  # still waiting
    paid = approve_payout(earned, plans, made["normal"].payout_id)
    assert (paid.status, paid.hold_reason) == (PAID, RISK_REVIEW)  # why it waited is kept
    assert promoter(earned, "normal") == {"pending": "0.00", "available": "0.00",
                                          "paid": "150.00"}
    with earned.connect() as conn:
        reasons = {p.promoter_id: p.hold_reason for p in list_payouts(conn)}
    assert reasons == {"normal": RISK_REVIEW, "big": REVIEW_LIMIT}
    assert_books_verified(earned)
