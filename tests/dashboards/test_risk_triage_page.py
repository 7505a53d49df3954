"""Proves the Risk triage page is a work queue: cases by money at risk, a case's evidence (flags,
orders and refunds on a timeline, the devices and accounts it shares as a graph), decisions with
a name and a note from the page that reach the ledger; and below, the anomaly model's flags in
review order with the unpaid commission a hold can still protect."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from settlement.db import create_db_engine
from settlement.read_model import promoter_balances
from settlement.reports import verify_ledger
from tests.dashboards.apptest import VIEWS, run_script
from tests.risk_cases_store import build_case_books
from tests.risk_store import write_flags

PAGE = VIEWS / "risk_triage.py"


def _run_page(store: Path, monkeypatch: pytest.MonkeyPatch, books: str | None = None) -> AppTest:
    url = books or f"sqlite:///{store / 'no-books.db'}"
    return run_script(PAGE, monkeypatch, {"FENRUN_FEATURE_STORE_DIR": str(store),
                                          "FENRUN_DATABASE_URL": url})


def test_flags_with_money_to_hold_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_flags(tmp_path)
    app = _run_page(tmp_path, monkeypatch)
    assert "No cases to work: no books at" in app.info[0].value
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["flagged promoters"] == "4 of 6"
    assert metrics["unpaid commission at stake (CNY)"] == "1700.00"
    assert len(app.error) == 1 and "2 flagged promoters have 1700.00 CNY" in app.error[0].value
    holdable, everyone = (frame.value for frame in app.dataframe)
    assert list(holdable["promoter"]) == ["R4", "R1"]
    assert list(holdable["unpaid"]) == ["1200.00", "500.00"]
    assert list(everyone["promoter"]) == ["R1", "R2", "R3", "R4"]
    assert list(everyone["claw-back owed"]) == ["0.00", "0.00", "50.00", "0.00"]
    assert everyone.iloc[0, -1].startswith("touches_90d")


def test_no_flags_yet_says_which_command_makes_them(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(tmp_path, monkeypatch)
    assert "fenrun risk flag" in app.info[-1].value
    assert not app.dataframe


def test_the_queue_and_a_case_s_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(tmp_path, monkeypatch, build_case_books(tmp_path))
    queue = app.dataframe[0].value
    assert list(queue["case"]) == [1, 2] and list(queue["money at risk"]) == ["764.83", "250.00"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["money at risk (CNY)"] == "764.83" and metrics["orders"] == "3"
    assert app.json[0].value and '"f1"' in app.json[0].value
    orders = app.dataframe[1].value
    assert list(orders["order"]) == ["f1", "f2", "f3"]
    assert list(orders["commission at risk"]) == ["340.00", "255.00", "169.83"]
    dot = app.get("graphviz_chart")[0].proto.spec
    assert '"promoter:F" -- "account:cf1"' in dot and '"device:dF"' in dot
    assert '"promoter:U" -- "promoter:F"' in dot
    assert len(app.get("vega_lite_chart")) == 1  # the timeline


def test_confirming_from_the_page_reaches_the_ledger(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = build_case_books(tmp_path)
    app = _run_page(tmp_path, monkeypatch, url)
    app.button(key="risk_dismiss").click().run()
    assert "by: '' must name who acted" in app.warning[0].value
    app.text_input(key="risk_by").input("ana")
    app.text_area(key="risk_note").input("same phone as the promoter")
    app.button(key="risk_confirm").click().run()
    assert not app.exception
    assert app.success[0].value == ("Case #1 confirmed by ana: 764.83 CNY reversed in 3 ledger "
                                    "entries, promoter suspended.")
    assert list(app.dataframe[0].value["case"]) == [2]  # the queue moved on
    engine = create_db_engine(url)
    with engine.connect() as conn:
        assert verify_ledger(conn) == []
        assert promoter_balances(conn, "CNY")["F"].pending_minor == 0
    engine.dispose()
    app.selectbox(key="risk_case").select(2).run()
    app.text_area(key="risk_note").input("a promotion day")
    app.button(key="risk_dismiss").click().run()
    assert app.success[0].value == "Case #2 is now dismissed (ana)."
    assert "No cases in this view" in app.info[0].value
