"""`fenrun privacy` covers payees: a promoter's export shows its payees decrypted, erasure removes
the payee's name and account and keeps the ledger's amounts (the books still verify), and key
rotation re-encrypts payee columns; an erase while money is on its way to the payee (a withdrawal
waiting for a reviewer, approved, or sent and not yet answered by the bank) is refused whole,
naming the withdrawal, and goes through once the bank's result settles it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from settlement import finance_tables as f
from settlement.bank_batches import apply_results, send_batch
from settlement.payees import ERASED, active_payee, payee_details
from settlement.payment_channels import BankFileChannel, LineResult
from settlement.people_errors import ErasureRefused
from settlement.personal_data import DataCipher, UndecryptableData, generate_key, parse_keys
from settlement.privacy import erase_person, export_person, not_current, rotate_keys
from settlement.withdrawals import decide_withdrawal, request_withdrawal
from tests.settlement.helpers import assert_books_verified, at, balances
from tests.settlement.money_out import CARD, balance, card_payee, earn_available, rules

WHEN = at("2026-03-21T09:00:00Z")
LATER = at("2026-04-01T00:00:00Z")


@pytest.fixture
def keys():
    return generate_key(), generate_key()


@pytest.fixture
def payee_books(books, plans, ev, keys):
    """P1 has 20,000.00 available and a bank card payee sealed under the old key."""
    earn_available(books, plans, ev, "P1", "200000.00")
    card_payee(books, DataCipher(parse_keys(keys[0])), "P1")
    return books


def _erase(books, person: str = "P1") -> dict[str, int]:
    with books.begin() as conn:
        return erase_person(conn, person, "test:dpo", "request 7", LATER)


def test_the_export_shows_the_payee_decrypted(payee_books, keys):
    with payee_books.begin() as conn:
        document = export_person(conn, DataCipher(parse_keys(keys[0])), "P1", "test:dpo", LATER)
    [payee] = document["payees"]
    assert (payee["holder_name"], payee["account"], payee["bank_name"], payee["method"]) == (
        "张三丰", CARD, "ICBC", "bank_card")


def test_erase_removes_the_payee_and_keeps_the_ledger(payee_books, keys, tmp_path):
    sealer = DataCipher(parse_keys(keys[0]))
    paid = request_withdrawal(payee_books, rules(), "P1", 50_000, "k1", "P1", WHEN)
    decide_withdrawal(payee_books, paid.withdrawal_id, True, "ann", "checked", WHEN)
    made, _ = send_batch(payee_books, sealer, BankFileChannel(tmp_path), "CNY", "ann", WHEN)
    apply_results(payee_books, [LineResult(made.batch.batch_id, 1, "paid", None)], WHEN)
    ledger_before = balances(payee_books)
    assert _erase(payee_books) == {"applications": 0, "invite_link_uses": 0, "payees": 1}
    with payee_books.connect() as conn:
        row = conn.execute(select(f.payees)).one()
        assert active_payee(conn, "P1") is None  # nothing can be sent to it any more
    assert (row.holder_name_sealed, row.account_sealed, row.holder_masked,
            row.account_masked) == ("", "", ERASED, ERASED)
    assert balances(payee_books) == ledger_before
    assert balance(payee_books, "P1").paid_minor == 50_000 - 150
    assert_books_verified(payee_books)
    with payee_books.begin() as conn:
        document = export_person(conn, sealer, "P1", "test:dpo", LATER)
    assert (document["payees"][0]["holder_name"], document["payees"][0]["account"]) == (None, None)
    assert document["audit"][-1]["detail"] == (
        "applications 0, invite_link_uses 0, payees 1; request 7")


def test_rotation_re_encrypts_payees_and_skips_erased_ones(books, plans, ev, keys):
    old_key, new_key = keys
    old = DataCipher(parse_keys(old_key))
    for promoter in ("P1", "P2"):
        earn_available(books, plans, ev, promoter, "1000.00")
        card_payee(books, old, promoter)
    _erase(books, "P2")  # its columns are "" now: nothing to rotate, nothing left behind
    both = DataCipher(parse_keys(f"{new_key},{old_key}"))
    with books.connect() as conn:
        assert not_current(conn, both) == 2  # P1's name and account
    done = rotate_keys(books, both, "test:ops", LATER)
    assert (done.rotated, done.left) == (2, 0)
    new_only = DataCipher(parse_keys(new_key))
    with books.connect() as conn:
        [p1] = conn.execute(select(f.payees.c.payee_id).where(f.payees.c.promoter_id == "P1"))
        assert payee_details(conn, new_only, p1[0])[:2] == ("张三丰", CARD)
        with pytest.raises(UndecryptableData):
            payee_details(conn, old, p1[0])


def _refused(books, match: str) -> None:
    before = balances(books)
    with pytest.raises(ErasureRefused, match=match):
        _erase(books)
    with books.connect() as conn:  # nothing erased
        assert conn.execute(select(f.payees.c.account_masked)).scalar_one() != ERASED
    assert balances(books) == before


def test_erase_is_refused_while_a_withdrawal_is_on_its_way(payee_books, keys, tmp_path):
    sealer = DataCipher(parse_keys(keys[0]))
    w = request_withdrawal(payee_books, rules(), "P1", 50_000, "k1", "P1", WHEN)
    _refused(payee_books, f"withdrawal {w.withdrawal_id} is waiting for a reviewer")
    decide_withdrawal(payee_books, w.withdrawal_id, True, "ann", "checked", WHEN)
    _refused(payee_books, f"withdrawal {w.withdrawal_id} is approved and not yet sent")
    made, _ = send_batch(payee_books, sealer, BankFileChannel(tmp_path), "CNY", "ann", WHEN)
    batch_id = made.batch.batch_id
    _refused(payee_books, f"withdrawal {w.withdrawal_id} was sent in bank batch {batch_id}")
    apply_results(payee_books, [LineResult(batch_id, 1, "failed", "account closed")], WHEN)
    assert _erase(payee_books)["payees"] == 1  # settled (failed: the money is available again)
    assert balance(payee_books, "P1").withdrawing_minor == 0
    assert_books_verified(payee_books)


def test_a_rejected_request_no_longer_blocks_the_erase(payee_books):
    w = request_withdrawal(payee_books, rules(), "P1", 50_000, "k1", "P1", WHEN)
    decide_withdrawal(payee_books, w.withdrawal_id, False, "ann", "not the account owner", WHEN)
    assert _erase(payee_books)["payees"] == 1
