"""Proves the Finance page shows balances by party, what waits for a decision, the last ledger
verification and the statement and bank-file downloads; and that approving from the page records
who and why and moves the money, while a decision without a reason is refused and changes
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from settlement.db import create_db_engine
from settlement.withdrawals import list_withdrawals
from tests.dashboards.apptest import VIEWS, run_script
from tests.finance_store import build_finance_books

PAGE = VIEWS / "finance.py"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return build_finance_books(tmp_path)


def _run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return run_script(PAGE, monkeypatch, env)


def _withdrawals(env: dict[str, str]):
    engine = create_db_engine(env["FENRUN_DATABASE_URL"])
    with engine.connect() as conn:
        found = {w.promoter_id: w for w in list_withdrawals(conn)}
    engine.dispose()
    return found


def test_balances_waiting_items_last_check_and_downloads(env, monkeypatch):
    app = _run(env, monkeypatch)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"owed to promoters": "20100.00", "payable to merchants": "175950.00",
                       "platform revenue": "10350.00"}  # 5% of 207,000.00
    assert "Last verification 2026-03-21 09:00 UTC by test" in app.success[0].value
    promoters, merchants, waiting = (frame.value for frame in app.dataframe)
    assert list(promoters["promoter"]) == ["P1", "P2", "P3"]
    assert list(promoters["withdrawing"]) == ["15000.00", "0.00", "100.00"]
    assert [(r.kind, r.promoter, r.amount, r._6) for r in waiting.itertuples()] == [
        ("payout", "P1", "20000.00", "review_limit"),
        ("withdrawal", "P1", "15000.00", "review_limit")]
    assert list(merchants["payable"]) == ["175950.00"]
    labels = [b.proto.label for b in app.get("download_button")]
    assert labels == ["statements (CSV)", "statement lines (CSV)",
                      "statements and lines (Excel)", "bank file (CSV, payees in clear)"]


def test_approving_a_withdrawal_records_who_and_why(env, monkeypatch):
    app = _run(env, monkeypatch)
    app.selectbox[0].select("withdrawal 2: P1, 15000.00 CNY")
    app.text_input(key="who").input("Ann")
    app.text_area[0].input("called P1, ID checked")
    app.button[1].click().run()  # Approve (0 is "Verify the ledger now")
    assert not app.exception
    assert "withdrawal 2 is now approved (decided by dashboard:Ann)" in app.success[1].value
    w = _withdrawals(env)["P1"]
    assert (w.status, w.decided_by, w.note) == ("approved", "dashboard:Ann",
                                                "called P1, ID checked")
    waiting = app.dataframe[2].value
    assert list(waiting["kind"]) == ["payout"]  # P1's, still above the review limit


def test_a_decision_without_a_reason_changes_nothing(env, monkeypatch):
    app = _run(env, monkeypatch)
    app.selectbox[0].select("withdrawal 2: P1, 15000.00 CNY")
    app.text_input(key="who").input("Ann")
    app.button[2].click().run()  # Reject, no reason
    assert any("Say who you are and why" in e.value for e in app.error)
    assert _withdrawals(env)["P1"].status == "requested"


def test_a_refused_decision_says_why(env, monkeypatch):
    """P1's payout cannot be approved once its withdrawal reserved most of the balance."""
    app = _run(env, monkeypatch)
    app.selectbox[0].select("payout 1: P1, 20000.00 CNY")
    app.text_input(key="who").input("Ann")
    app.text_area[0].input("looks fine")
    app.button[1].click().run()
    assert any("has 5000.00 available, less than the 20000.00" in e.value for e in app.error)


def test_no_books_yet_says_so(tmp_path, monkeypatch):
    app = run_script(PAGE, monkeypatch, {
        "FENRUN_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"})
    assert len(app.info) == 1 and "No books to show" in app.info[0].value
