"""Payees: the name and account are stored only encrypted (bound to their column) and shown masked;
bad details are refused naming the field, never echoing the value; a new payee retires the old;
a person's export holds the clear values and erasure removes them while the rows stay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from settlement import finance_tables as f
from settlement.errors import InvalidPayee, NotFound
from settlement.payees import (
    ERASED,
    active_payee,
    add_payee,
    erase_payees,
    export_payees,
    list_payees,
    payee_details,
)
from settlement.personal_data import UndecryptableData
from tests.settlement.helpers import at, settle
from tests.settlement.money_out import CARD, cipher

WHEN = at("2026-03-21T00:00:00Z")


@pytest.fixture
def joined(books, plans, ev):
    settle(books, plans, [ev.join("2026-03-01T00:00:00Z", "P1")])
    return books


def test_stored_encrypted_shown_masked_and_clear_only_for_the_bank(joined):
    sealer = cipher()
    with joined.begin() as conn:
        payee = add_payee(conn, sealer, "P1", "bank_card", "张三丰", "6222 0212 3456 7890 123",
                          "ICBC", "ann", WHEN)
        row = conn.execute(select(f.payees)).one()
    assert (payee.holder_masked, payee.account_masked) == ("张**", "****0123")
    assert CARD not in str(tuple(row)) and "张三丰" not in str(tuple(row))
    assert row.account_sealed.startswith("pd1:")
    with joined.connect() as conn:
        assert payee_details(conn, sealer, payee.payee_id) == ("张三丰", CARD, "ICBC")
        with pytest.raises(UndecryptableData):
            payee_details(conn, cipher(), payee.payee_id)  # another key: refused, not garbage


@pytest.mark.parametrize(("method", "account", "bank", "message"), [
    ("paypal", "x@y.z", None, "method: 'paypal' must be one of wechat, alipay, bank_card"),
    ("bank_card", "1234", "ICBC", "account: a bank card number is 12 to 19 digits"),
    ("bank_card", CARD, None, "bank_name: a bank card needs its bank"),
    ("wechat", "wx id", None, "account: a wechat account is 3 to 100"),
    ("alipay", "ada@example.com", "ICBC", "bank_name: only a bank card has a bank"),
])
def test_bad_details_are_refused_naming_the_field(joined, method, account, bank, message):
    with joined.begin() as conn, pytest.raises(InvalidPayee, match=message) as refused:
        add_payee(conn, cipher(), "P1", method, "Ada", account, bank, "ann", WHEN)
    assert account not in str(refused.value) or len(account) < 5
    with joined.connect() as conn:
        assert list_payees(conn) == []


def test_a_new_payee_retires_the_old_and_unknown_promoters_are_refused(joined):
    sealer = cipher()
    with joined.begin() as conn:
        first = add_payee(conn, sealer, "P1", "wechat", "Ada", "wx_ada", None, "ann", WHEN)
        second = add_payee(conn, sealer, "P1", "alipay", "Ada", "ada@example.com", None, "ann",
                           WHEN)
        with pytest.raises(NotFound, match="promoter_id: 'NOBODY' has not joined"):
            add_payee(conn, sealer, "NOBODY", "wechat", "X", "wx_x", None, "ann", WHEN)
    with joined.connect() as conn:
        assert active_payee(conn, "P1") == second
        assert [p.retired_at for p in list_payees(conn, "P1")] == [None, WHEN]
    assert first.payee_id != second.payee_id


def test_export_has_the_clear_values_and_erasure_removes_them(joined):
    sealer = cipher()
    with joined.begin() as conn:
        add_payee(conn, sealer, "P1", "bank_card", "张三丰", CARD, "ICBC", "ann", WHEN)
        [exported] = export_payees(conn, sealer, "P1")
        assert (exported["holder_name"], exported["account"]) == ("张三丰", CARD)
        assert erase_payees(conn, "P1", WHEN) == 1
        [erased] = export_payees(conn, sealer, "P1")
        row = conn.execute(select(f.payees)).one()
    assert (erased["holder_name"], erased["account"]) == (None, None)
    assert (row.holder_name_sealed, row.account_sealed, row.account_masked) == ("", "", ERASED)
    with joined.connect() as conn:
        assert active_payee(conn, "P1") is None
