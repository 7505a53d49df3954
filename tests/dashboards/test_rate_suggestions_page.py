"""Proves the Rate suggestions page shows the pending suggestions (current → proposed, predicted
change with its interval, guardrail trail, explanation), the exact what-if cost of what is
pending per segment, the experiment's realised against predicted chart, and records an approval
and a rejection made on the page with the name and reason given."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from settlement import read_model
from settlement.db import create_db_engine
from tests.dashboards.apptest import VIEWS, run_script
from tests.rates_books import build_rates_books

PAGE = VIEWS / "rate_suggestions.py"


def _run(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return run_script(PAGE, monkeypatch, {"FENRUN_DATABASE_URL": url}, timeout=60)


def test_pending_what_if_and_experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books = build_rates_books(tmp_path)
    app = _run(books.url, monkeypatch)
    pending, experiment, segments = (frame.value for frame in app.dataframe)
    assert list(pending["promoter"]) == ["T2", "P5", "T1"]  # newest run first
    t1 = pending.set_index("promoter").loc["T1"]
    assert t1["rate"] == "0.1 → 0.12" and t1["margin / cycle"] == "12.30 (4.10 to 20.50)"
    assert t1["guardrails"] == "max_step: clip → 0.12; budget: pass → 0.12"
    assert "3.4x" in t1["explanation"]
    metrics = {m.label: m.value for m in app.metric}
    # T1 100.00 at 12 % not 10 %, T2 200.00 at 11 % (shadow advice, pending): +4.00 exactly.
    assert metrics["commission in the books (CNY)"] == "35.00"
    assert metrics["under the pending rates (CNY)"] == "39.00"
    assert list(segments.itertuples(index=False)) == [("(no segment)", "35.00", "39.00",
                                                       "+4.00")]
    assert list(experiment["metric"]) == ["margin", "gmv", "commission", "retention"]
    assert len(app.get("vega_lite_chart")) == 1  # the realised vs predicted chart


def test_approve_and_reject_from_the_page(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    books = build_rates_books(tmp_path)
    app = _run(books.url, monkeypatch)
    app.selectbox[0].select(books.pending["T1"])
    app.text_input[0].input("mei")
    app.text_area[0].input("customers worth it")
    app.button[0].click().run()  # Approve
    assert not app.exception, app.exception
    assert "Approved T1: 0.1 → 0.12 (live) by mei" in app.success[0].value
    app.selectbox[0].select(books.pending["P5"])
    app.text_input[0].input("mei")
    app.text_area[0].input("too early")
    app.button[1].click().run()  # Reject
    assert "Rejected P5" in app.success[0].value
    engine = create_db_engine(books.url)
    with engine.connect() as conn:
        t1 = read_model.get_suggestion(conn, books.pending["T1"])
        p5 = read_model.get_suggestion(conn, books.pending["P5"])
    engine.dispose()
    assert (t1.status, t1.decided_by, t1.note) == ("approved", "mei", "customers worth it")
    assert t1.plan_version_id is not None
    assert (p5.status, p5.decided_by, p5.note) == ("rejected", "mei", "too early")
    assert list(app.dataframe[0].value["promoter"]) == ["T2"]  # what is still pending


def test_a_rejection_without_reason_is_refused_on_the_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    books = build_rates_books(tmp_path)
    app = _run(books.url, monkeypatch)
    app.selectbox[0].select(books.pending["P5"])
    app.text_input[0].input("mei")
    app.button[1].click().run()
    assert "needs a reason" in app.error[0].value


def test_no_books_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run(f"sqlite:///{tmp_path / 'none.db'}", monkeypatch)
    assert "No books to read" in app.info[0].value
