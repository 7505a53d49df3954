"""Proves the Risk triage page shows the flagged promoters in review order, why each is unusual,
and the unpaid commission a hold can still protect, in currency units."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.apptest import VIEWS, run_script
from tests.risk_store import write_flags

PAGE = VIEWS / "risk_triage.py"


def _run_page(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return run_script(PAGE, monkeypatch, {"FENRUN_FEATURE_STORE_DIR": str(store)})


def test_flags_with_money_to_hold_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_flags(tmp_path)
    app = _run_page(tmp_path, monkeypatch)
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
    assert len(app.info) == 1 and "fenrun risk flag" in app.info[0].value
    assert not app.dataframe
