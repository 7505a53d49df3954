"""Withdrawals move money through the ledger one entry per step: requested (reserved), approved,
paid or failed (returned to available); large requests and new payees wait for a reviewer who
must say why; retries with the same request key change nothing; bad requests change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from settlement import tables as t
from settlement.errors import NotFound, WithdrawalRefused
from settlement.withdrawals import (
    AUTO,
    WithdrawalHold,
    WithdrawalStatus,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)
from tests.settlement.helpers import assert_books_verified, at
from tests.settlement.money_out import balance, card_payee, cipher, earn_available, rules

WHEN = at("2026-03-21T09:00:00Z")


@pytest.fixture
def rich(books, plans, ev):
    """P1 has 20,000.00 available and a bank card payee."""
    earn_available(books, plans, ev, "P1", "200000.00")
    card_payee(books, cipher(), "P1")
    return books


def _entries(books, withdrawal_id: int) -> list[str]:
    j = t.journal_entries.c
    with books.connect() as conn:
        return sorted(conn.execute(select(j.kind).where(
            j.entry_id.like(f"withdrawal:{withdrawal_id}:%"))).scalars())


def test_a_first_request_to_a_new_payee_waits_and_reserves_the_money(rich):
    w = request_withdrawal(rich, rules(), "P1", 50_000, "k1", "P1", WHEN)
    assert (w.status, w.hold_reason, w.fee_minor) == (WithdrawalStatus.REQUESTED,
                                                      WithdrawalHold.NEW_PAYEE, 150)
    after = balance(rich, "P1")
    assert (after.available_minor, after.withdrawing_minor) == (1_950_000, 50_000)
    assert _entries(rich, w.withdrawal_id) == ["wd_requested"]
    assert_books_verified(rich)


def test_above_the_review_limit_waits_even_for_a_known_payee(rich):
    w = request_withdrawal(rich, rules(withdrawal_review_limit="100.00"), "P1", 10_001, "k1",
                           "P1", WHEN)
    assert w.hold_reason == WithdrawalHold.REVIEW_LIMIT


def test_a_retry_with_the_same_key_reserves_nothing_twice(rich):
    first = request_withdrawal(rich, rules(), "P1", 50_000, "k1", "P1", WHEN)
    again = request_withdrawal(rich, rules(), "P1", 50_000, "k1", "P1", WHEN)
    assert again == first
    assert balance(rich, "P1").withdrawing_minor == 50_000
    with pytest.raises(WithdrawalRefused, match="request_key: 'k1' was used for withdrawal"):
        request_withdrawal(rich, rules(), "P1", 60_000, "k1", "P1", WHEN)


def test_approval_and_rejection_record_who_and_why(rich):
    a = request_withdrawal(rich, rules(), "P1", 50_000, "k1", "P1", WHEN)
    b = request_withdrawal(rich, rules(), "P1", 70_000, "k2", "P1", WHEN)
    with pytest.raises(WithdrawalRefused, match="note: must be 1 to"):
        decide_withdrawal(rich, a.withdrawal_id, True, "finance-ann", "  ", WHEN)
    approved = decide_withdrawal(rich, a.withdrawal_id, True, "finance-ann", "ID checked", WHEN)
    rejected = decide_withdrawal(rich, b.withdrawal_id, False, "finance-bo", "card closed", WHEN)
    assert (approved.status, approved.decided_by, approved.note) == (
        WithdrawalStatus.APPROVED, "finance-ann", "ID checked")
    assert (rejected.status, rejected.decided_by, rejected.note) == (
        WithdrawalStatus.REJECTED, "finance-bo", "card closed")
    assert _entries(rich, b.withdrawal_id) == ["wd_rejected", "wd_requested"]
    after = balance(rich, "P1")
    assert (after.available_minor, after.withdrawing_minor) == (1_950_000, 50_000)
    with pytest.raises(WithdrawalRefused, match="is rejected, not waiting for a reviewer"):
        decide_withdrawal(rich, b.withdrawal_id, True, "finance-ann", "changed my mind", WHEN)
    with pytest.raises(NotFound, match="no withdrawal 999"):
        decide_withdrawal(rich, 999, True, "finance-ann", "why", WHEN)
    assert_books_verified(rich)


@pytest.mark.parametrize(("amount", "key", "message"), [
    (2_000_001, "k", "amount: 20000.01 is more than the 20000.00 CNY P1 has available"),
    (999, "k", "amount: 9.99 is below the minimum withdrawal of 10.00 CNY"),
    (1_000, "", "request_key: must be 1 to 128 characters"),
])
def test_bad_requests_are_refused_and_change_nothing(rich, amount, key, message):
    with pytest.raises(WithdrawalRefused, match=message):
        request_withdrawal(rich, rules(), "P1", amount, key, "P1", WHEN)
    assert balance(rich, "P1").available_minor == 2_000_000
    with rich.connect() as conn:
        assert list_withdrawals(conn) == []
    assert_books_verified(rich)


def test_the_daily_count_is_per_utc_day(rich):
    for n in range(3):
        request_withdrawal(rich, rules(), "P1", 1_000, f"k{n}", "P1", WHEN)
    with pytest.raises(WithdrawalRefused, match="made 3 withdrawal requests on 2026-03-21"):
        request_withdrawal(rich, rules(), "P1", 1_000, "k3", "P1", WHEN)
    assert balance(rich, "P1").withdrawing_minor == 3_000
    request_withdrawal(rich, rules(), "P1", 1_000, "k4", "P1", at("2026-03-22T00:00:00Z"))


def test_a_promoter_without_a_payee_is_told_to_add_one(books, plans, ev):
    earn_available(books, plans, ev, "P2", "5000.00")
    with pytest.raises(WithdrawalRefused, match="P2 has no payee; add one first"):
        request_withdrawal(books, rules(), "P2", 1_000, "k", "P2", WHEN)


def test_auto_approved_below_the_limit_once_the_payee_was_paid(rich):
    from settlement import finance_tables as f

    first = request_withdrawal(rich, rules(), "P1", 50_000, "k1", "P1", WHEN)
    with rich.begin() as conn:  # as if the bank had paid it (the bank file test does it really)
        conn.execute(f.withdrawals.update().values(status=WithdrawalStatus.PAID))
    second = request_withdrawal(rich, rules(), "P1", 50_000, "k2", "P1", WHEN)
    assert first.hold_reason == WithdrawalHold.NEW_PAYEE
    assert (second.status, second.hold_reason, second.decided_by) == (
        WithdrawalStatus.APPROVED, None, AUTO)
    assert _entries(rich, second.withdrawal_id) == ["wd_approved", "wd_requested"]
