"""The demo's lifecycle step leaves real data for the Finance page: an applicant approved with the
richest promoter's invite code (joined under it), a payee and a withdrawal paid through a bank
batch and its result file; the books still verify, and running the step again changes nothing."""

from __future__ import annotations

from settlement.applications import list_applications
from settlement.bank_batches import list_batches
from settlement.people_books import promoter_status
from settlement.plan_store import store_versions
from settlement.withdrawals import WithdrawalStatus, list_withdrawals
from tests.settlement.helpers import assert_books_verified, at, balances
from tests.settlement.money_out import balance, cipher, earn_available

WHEN = at("2026-03-21T00:00:00Z")


def test_the_lifecycle_step_approves_an_applicant_and_pays_a_withdrawal(
        books, plans, ev, tmp_path, monkeypatch):
    from api.demo_lifecycle import APPLICANT, DEMO_ACTOR, lifecycle_step

    monkeypatch.setenv("FENRUN_BANK_FILE_DIR", str(tmp_path / "bank"))
    with books.begin() as conn:  # the demo settles with its plan stored
        store_versions(conn, plans.versions)
    earn_available(books, plans, ev, "P1", "20000.00")  # 2,000.00 available
    earn_available(books, plans, ev, "P2", "10000.00", day=3)
    sealer = cipher()
    lifecycle_step(books, sealer, "CNY", tmp_path, WHEN)

    with books.connect() as conn:
        [application] = list_applications(conn, sealer, user_id=APPLICANT)
        joined = promoter_status(conn, APPLICANT)
        [withdrawal] = list_withdrawals(conn)
        [batch] = list_batches(conn)
    assert (application.status, application.decided_by, application.inviter_id) == (
        "approved", DEMO_ACTOR, "P1")
    assert joined is not None and joined.parent_id == "P1"
    assert (withdrawal.promoter_id, withdrawal.amount_minor, withdrawal.status,
            withdrawal.decided_by, withdrawal.batch_id) == (
        "P1", 50_000, WithdrawalStatus.PAID, DEMO_ACTOR, batch.batch_id)  # a quarter
    assert (tmp_path / "bank" / f"{batch.batch_id}.csv").exists()
    p1 = balance(books, "P1")
    assert (p1.available_minor, p1.withdrawing_minor, p1.paid_minor) == (150_000, 0, 50_000)
    assert_books_verified(books)

    before = balances(books)
    lifecycle_step(books, sealer, "CNY", tmp_path, WHEN)  # the demo run twice
    assert balances(books) == before
    with books.connect() as conn:
        assert len(list_withdrawals(conn)) == 1 and len(list_batches(conn)) == 1
