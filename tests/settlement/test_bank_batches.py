"""Approved withdrawals and paid payouts go out in one bank batch file (the only output with the
payee's clear name and account); the bank's result file marks each line paid or failed: a paid
withdrawal leaves the books net of its fee, a failed line returns the money to available; a
malformed or contradictory result file is refused whole and changes nothing; reading the same
result twice changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from settlement import tables as t
from settlement.bank_batches import (
    apply_results,
    batch_lines,
    create_batch,
    payout_payees,
    send_batch,
)
from settlement.errors import InvalidBankFile
from settlement.ledger import AccountKind, readable_balance
from settlement.payment_channels import BankFileChannel, LineResult, parse_result_text
from settlement.payout_status import PayoutStatus
from settlement.payouts import list_payouts, payouts_csv, run_payouts
from settlement.read_accounts import raw_balances
from settlement.withdrawals import (
    WithdrawalStatus,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)
from tests.settlement.helpers import assert_books_verified, at
from tests.settlement.money_out import CARD, balance, card_payee, cipher, earn_available, rules

WHEN = at("2026-03-21T09:00:00Z")


@pytest.fixture
def sealer():
    return cipher()


@pytest.fixture
def approved(books, plans, ev, sealer):
    """P1 (20,000.00 available) asked for 12,000.00: above the review limit, approved."""
    earn_available(books, plans, ev, "P1", "200000.00")
    card_payee(books, sealer, "P1")
    w = request_withdrawal(books, rules(), "P1", 1_200_000, "k1", "P1", WHEN)
    assert w.hold_reason == "review_limit"
    decide_withdrawal(books, w.withdrawal_id, True, "finance-ann", "called the promoter", WHEN)
    return books


def _file_rows(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _result(path, rows: list[str]) -> str:
    path.write_text("batch_id,line_id,status,reason\n" + "\n".join(rows) + "\n")
    return str(path)


def test_approved_withdrawal_is_written_paid_by_the_result_and_the_books_agree(
        approved, sealer, tmp_path):
    channel = BankFileChannel(tmp_path / "bank")
    made, where = send_batch(approved, sealer, channel, "CNY", "finance-ann", WHEN)
    assert made.batch is not None and where is not None
    rows = _file_rows(where)
    assert list(rows[0]) == ["batch_id", "line_id", "payee_name", "account", "bank", "amount",
                             "currency", "memo"]
    assert rows == [{"batch_id": made.batch.batch_id, "line_id": "1", "payee_name": "张三丰",
                     "account": CARD, "bank": "ICBC", "amount": "11987.00",  # fee 1.00 + 0.1%
                     "currency": "CNY", "memo": "withdrawal 1"}]
    assert create_batch(approved, "CNY", "bank_file", "x", WHEN).batch is None  # sent once
    results = channel.read_results(_result(tmp_path / "r.csv", [
        f"{made.batch.batch_id},1,paid,"]))
    tally = apply_results(approved, results, at("2026-03-22T00:00:00Z"))
    assert (tally.paid, tally.failed, tally.unchanged) == (1, 0, 0)
    after = balance(approved, "P1")
    assert (after.available_minor, after.withdrawing_minor, after.paid_minor) == (
        800_000, 0, 1_198_700)
    with approved.connect() as conn:
        [w] = list_withdrawals(conn)
        revenue = readable_balance(AccountKind.PLATFORM_REVENUE, raw_balances(conn)[
            ("platform_revenue", "platform", "CNY")])
    assert (w.status, w.batch_id) == (WithdrawalStatus.PAID, made.batch.batch_id)
    assert revenue == 1_000_000 + 1_300  # the platform's 5% of the order, and the fee
    again = apply_results(approved, results, at("2026-03-23T00:00:00Z"))
    assert (again.paid, again.unchanged) == (0, 1)
    assert balance(approved, "P1") == after
    assert_books_verified(approved)


def test_a_failed_line_returns_the_money_to_available(approved, sealer, tmp_path):
    channel = BankFileChannel(tmp_path)
    made, _ = send_batch(approved, sealer, channel, "CNY", "finance-ann", WHEN)
    assert made.batch is not None
    results = [LineResult(made.batch.batch_id, 1, "failed", "account closed")]
    apply_results(approved, results, WHEN)
    after = balance(approved, "P1")
    assert (after.available_minor, after.withdrawing_minor, after.paid_minor) == (
        2_000_000, 0, 0)
    with approved.connect() as conn:
        [w] = list_withdrawals(conn)
    assert (w.status, w.failure_reason) == (WithdrawalStatus.FAILED, "account closed")
    with pytest.raises(InvalidBankFile, match="already settled failed; the file says paid"):
        apply_results(approved, [LineResult(made.batch.batch_id, 1, "paid", None)], WHEN)
    assert balance(approved, "P1") == after
    assert_books_verified(approved)


@pytest.mark.parametrize(("text", "message"), [
    ("", "result file: empty"),
    ("batch,line,state\nB,1,paid\n", "header: 'batch,line,state' is not"),
    ("batch_id,line_id,status\nB,one,paid\n", "line 2: line_id 'one' is not a positive integer"),
    ("batch_id,line_id,status\nB,1,done\n", "line 2: status 'done' must be paid or failed"),
    ("batch_id,line_id,status\nB,1,paid\nB,1,failed\n", "line 3: line_id 1 is named twice"),
    ("batch_id,line_id,status\nB,1,paid\nC,2,paid\n", "line 3: batch_id 'C' differs"),
    ("batch_id,line_id,status\nB,1\n", "line 2: 2 fields, expected 3"),
    ("batch_id,line_id,status\n", "result file: no lines"),
])
def test_a_malformed_result_file_is_refused_with_the_reason(text, message):
    with pytest.raises(InvalidBankFile, match=message):
        parse_result_text(text)


def test_a_result_naming_an_unknown_line_or_batch_changes_nothing(approved, sealer, tmp_path):
    made, _ = send_batch(approved, sealer, BankFileChannel(tmp_path), "CNY", "x", WHEN)
    assert made.batch is not None
    before = balance(approved, "P1")
    batch_id = made.batch.batch_id
    with pytest.raises(InvalidBankFile, match=f"batch {batch_id} has no line 2"):
        apply_results(approved, [LineResult(batch_id, 1, "paid", None),
                                 LineResult(batch_id, 2, "paid", None)], WHEN)
    with pytest.raises(InvalidBankFile, match="no bank batch 'B-NOPE'"):
        apply_results(approved, [LineResult("B-NOPE", 1, "paid", None)], WHEN)
    assert balance(approved, "P1") == before
    with approved.connect() as conn:
        assert [line.status for line in batch_lines(conn, batch_id)] == ["sent"]


def test_payouts_take_the_same_path_with_payee_and_hold_reason(books, plans, ev, sealer,
                                                               tmp_path):
    earn_available(books, plans, ev, "P1", "2000.00")  # 200.00: paid at once
    earn_available(books, plans, ev, "P2", "3000.00", day=3)  # 300.00: no payee yet
    card_payee(books, sealer, "P1")
    made = run_payouts(books, plans, at("2026-03-20T00:00:00Z"))
    assert {p.status for p in made} == {PayoutStatus.PAID}
    batch, where = send_batch(books, sealer, BankFileChannel(tmp_path), "CNY", "ann", WHEN)
    assert batch.batch is not None and where is not None
    assert batch.skipped == ["payout 2: P2 has no payee (`fenrun payees add`)"]
    [row] = _file_rows(where)
    assert (row["amount"], row["memo"], row["account"]) == ("200.00", "payout 1", CARD)
    with books.connect() as conn:
        payees = payout_payees(conn, [1, 2])
        export = payouts_csv(list_payouts(conn), payees)
    assert payees == {1: "bank_card ****0123"}
    lines = list(csv.DictReader(io.StringIO(export)))
    assert [(r["payout_id"], r["payee"], r["hold_reason"]) for r in lines] == [
        ("1", "bank_card ****0123", ""), ("2", "", "")]
    assert CARD not in export and "张三丰" not in export
    apply_results(books, [LineResult(batch.batch.batch_id, 1, "failed", "no such account")],
                  WHEN)
    assert balance(books, "P1").available_minor == 20_000
    assert balance(books, "P1").paid_minor == 0
    with books.connect() as conn:
        status = conn.execute(select(t.payouts.c.status)
                              .where(t.payouts.c.payout_id == 1)).scalar_one()
    assert status == PayoutStatus.FAILED
    assert_books_verified(books)
