"""Payouts pay what cleared its hold, hold large sums for a person, and never pay twice."""

from __future__ import annotations

import pytest

from settlement.errors import PayoutError
from settlement.payouts import (
    AWAITING_APPROVAL,
    PAID,
    REJECTED,
    approve_payout,
    list_payouts,
    reject_payout,
    run_payouts,
)
from settlement.risk_actions import confirm_case, dismiss_case
from settlement.risk_cases import record_flags
from settlement.risk_domain import RiskFlag
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


def _top_earner(books, plans, ev):
    """"top" earns 200.00 on o-top-c1-2 (flagged below) and 500.00 on o-top-c2-2; "normal"
    150.00; all released by day 9."""
    events = [ev.join("2026-03-01T00:00:00Z", p) for p in ("top", "normal")]
    events += earn(ev, "top", "c1", "2000.00", 2) + earn(ev, "top", "c2", "5000.00", 2)
    events += earn(ev, "normal", "c3", "1500.00", 2)
    settle(books, plans, events, as_of="2026-03-05T00:00:00Z")
    with books.begin() as conn:
        [case_id] = record_flags(conn, [RiskFlag("top", "self_referral", "high",
                                                 {"orders": ["o-top-c1-2"]})],
                                 at("2026-03-05T00:00:00Z"))
    return case_id


def test_a_payout_keeps_back_only_what_an_open_case_puts_at_risk(books, plans, ev):
    case_id = _top_earner(books, plans, ev)
    made = {p.promoter_id: p for p in run_payouts(books, plans, at("2026-03-10T00:00:00Z"))}
    top = made["top"]
    assert (top.status, top.amount_minor, top.kept_back_minor) == (PAID, 50_000, 20_000)
    assert top.kept_back_reason == (f"200.00 CNY kept back until risk case #{case_id} about top "
                                    "(1 released order) is decided")
    assert (made["normal"].amount_minor, made["normal"].kept_back_minor) == (15_000, 0)
    assert promoter(books, "top")["available"] == "200.00"  # still in the books, not paid
    with books.connect() as conn:
        [stored] = [p for p in list_payouts(conn) if p.promoter_id == "top"]
    assert stored.kept_back_reason == top.kept_back_reason
    assert_books_verified(books)


def test_a_dismissed_case_lets_the_next_run_pay_what_it_kept_back(books, plans, ev):
    case_id = _top_earner(books, plans, ev)
    run_payouts(books, plans, at("2026-03-10T00:00:00Z"))
    dismiss_case(books, case_id, "ana", "a real customer")
    [paid] = run_payouts(books, plans, at("2026-03-11T00:00:00Z"))
    assert (paid.promoter_id, paid.amount_minor, paid.kept_back_minor) == ("top", 20_000, 0)


def test_a_confirmed_case_claws_back_instead_of_paying(books, plans, ev):
    case_id = _top_earner(books, plans, ev)
    run_payouts(books, plans, at("2026-03-10T00:00:00Z"))
    confirm_case(books, plans, case_id, "ana")
    assert run_payouts(books, plans, at("2026-03-11T00:00:00Z")) == []
    assert promoter(books, "top") == {"pending": "0.00", "available": "0.00", "paid": "500.00"}
    assert_books_verified(books)


def test_runs_can_ignore_cases(books, plans, ev):
    _top_earner(books, plans, ev)
    made = {p.promoter_id: p for p in run_payouts(books, plans, at("2026-03-10T00:00:00Z"),
                                                  hold_cases=False)}
    assert (made["top"].amount_minor, made["top"].kept_back_minor) == (70_000, 0)
