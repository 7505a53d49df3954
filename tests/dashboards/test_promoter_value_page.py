"""Proves the Promoter value page shows totals, segments, channels and the promoters who cost more
than they bring with confidence, in currency units, for the snapshot the reviewer picks, and names
the basis in every table (margin, with GMV beside; "gmv" for a snapshot stored before it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from features.profiles.store import ANOMALY_FLAGS_TABLE, write_snapshot
from tests.dashboards.apptest import VIEWS, run_script
from tests.promoter_value_store import build_value_store

PAGE = VIEWS / "promoter_value.py"


def _run_page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return run_script(PAGE, monkeypatch, {"FENRUN_FEATURE_STORE_DIR": str(store)})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("value")
    build_value_store(root)
    return root


def test_newest_snapshot_by_segment_channel_and_losing_promoter(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(store, monkeypatch)
    assert "2026-04-01" in str(app.selectbox[0].value)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["promoters"] == "5" and metrics["acquired customers"] == "116"
    assert metrics["CAC (CNY)"] == "11600.00"
    assert metrics["contribution LTV (CNY)"] == "9368.50"  # tests/promoter_value_store.py
    assert metrics["LTV/CAC (margin)"] == "0.81" and metrics["LTV/CAC (GMV)"] == "3.54"
    assert any("Basis: margin" in c.value for c in app.caption)
    assert len(app.error) == 1 and "3 promoters cost more" in app.error[0].value
    segments, channels, losing, everyone = (frame.value for frame in app.dataframe)
    for table in (segments, channels, losing, everyone):  # every table says its basis
        assert (table["basis"] == "margin").all()
        assert {"LTV/CAC (GMV)", "GMV LTV"} <= set(table.columns)
    assert list(segments["segment"]) == ["high-GMV veterans", "low-GMV novices", "(no segment)"]
    assert list(segments["CAC"]) == ["5500.00", "6000.00", "100.00"]
    assert list(segments["contribution LTV"]) == ["8595.00", "770.00", "3.50"]
    assert set(channels["channel"]) == {"qr_poster", "wechat_chat"}
    assert "LTV/CAC (margin)" in channels.columns
    assert list(losing["promoter_id"]) == ["P-LOSS", "P-OK", "P-MEH"]
    assert list(losing["CAC"]) == ["4000.00", "2500.00", "2000.00"]
    assert list(losing["GMV LTV"]) == ["2000.00", "7500.00", "1600.00"]
    assert everyone["promoter_id"].iloc[0] == "P-LOSS"  # lowest shrunk ratio first
    assert len(everyone) == 5


def test_filters_narrow_the_promoter_table(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(store, monkeypatch)
    app.multiselect[1].select("high-GMV veterans").run()
    assert not app.exception
    assert set(app.dataframe[-1].value["promoter_id"]) == {"P-STAR", "P-OK"}


def test_an_older_snapshot_without_segments_says_how_to_get_them(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(store, monkeypatch)
    app.selectbox[0].select_index(1).run()
    assert not app.exception
    assert "2026-03-01" in str(app.selectbox[0].value)
    assert any("fenrun train segments" in c.value for c in app.caption)
    # stored by the code before the margin basis: GMV only, and the page says so
    assert any("Basis: gmv" in c.value for c in app.caption)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["contribution LTV (CNY)"] == "n/a" and metrics["LTV/CAC (gmv)"] == "3.54"
    channels, losing, everyone = (frame.value for frame in app.dataframe)
    assert (everyone["basis"] == "gmv").all() and (everyone["contribution LTV"] == "").all()
    assert list(losing["promoter_id"]) == ["P-LOSS", "P-MEH"]


def test_no_snapshot_yet_says_which_command_makes_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run_page(tmp_path, monkeypatch)
    assert len(app.info) == 1 and "fenrun ltv promoters" in app.info[0].value
    assert not app.dataframe


def test_promoters_on_the_risk_flag_list_are_marked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_value_store(tmp_path)
    flags = pd.DataFrame({"as_of": pd.Timestamp("2026-04-01T00:00:00Z"), "currency": "CNY",
                          "model_version": "1", "promoter_id": ["P-STAR", "P-OK"],
                          "score": [0.9, 0.1], "rank": [1, 2], "flagged": [True, False],
                          "reasons": ["touches_90d 107 (median 1, +71.5 sd)", ""],
                          "pending_minor": 0, "available_minor": 0, "paid_minor": 0,
                          "clawback_minor": 0, "unpaid_minor": 0})
    write_snapshot(flags, tmp_path, ANOMALY_FLAGS_TABLE)
    app = _run_page(tmp_path, monkeypatch)
    assert len(app.warning) == 1 and "1 of these promoters" in app.warning[0].value
    everyone = app.dataframe[-1].value.set_index("promoter_id")
    assert everyone.loc["P-STAR", "risk"] == "flagged"
    assert (everyone.drop(index="P-STAR")["risk"] == "").all()
