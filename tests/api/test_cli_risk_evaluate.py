"""Proves `fenrun risk evaluate`: bad settings exit 2 with a message naming the option, and a
small run prints the table and writes strict JSON of the issue's shape (per seed: pr_auc,
precision_top_1pct, recall_at_1pct_fpr for every fraud type, rings_caught_share,
fraud_commission_caught_share, honest_unpaid_held_share)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.commands.risk_evaluate import option_message
from features.simulator.config import FRAUD_TYPES

runner = CliRunner()


@pytest.mark.parametrize(("args", "named"), [
    (["--promoters", "50"], "--promoters: 50 is outside 100..100000"),
    (["--seeds", "0"], "--seeds: 0 is outside 1..100"),
    (["--seed-base", "-3"], "--seed-base: -3 must be 0 or more"),
    (["--days", "10"], "--days: 10 is outside 30..366"),
    (["--stealth", "1.5"], "--stealth: 1.5 is outside 0..1"),
    (["--self-referral", "0.2", "--device-farm", "0.2", "--refund-abuse", "0.2"],
     "--self-referral ... --click-spam: the rates add up to more than half"),
    (["--json", "/no/such/folder/out.json"], "--json: the folder /no/such/folder"),
])
def test_bad_settings_name_the_option(args: list[str], named: str) -> None:
    result = runner.invoke(app, ["risk", "evaluate", *args])
    assert result.exit_code == 2, result.output
    assert named in result.stderr


def test_a_rate_above_the_simulators_limit_is_refused_by_typer() -> None:
    result = runner.invoke(app, ["risk", "evaluate", "--click-spam", "0.5"])
    assert result.exit_code == 2 and "--click-spam" in result.stderr


def test_option_message_maps_the_field_to_the_option() -> None:
    assert option_message(ValueError("fraud.device_farm: 0.3 is outside 0..0.2")) == (
        "--device-farm: 0.3 is outside 0..0.2")
    assert option_message(ValueError("no field here")) == "no field here"


def test_a_small_run_writes_the_issue_shape(tmp_path: Path) -> None:
    out = tmp_path / "risk.json"
    result = runner.invoke(app, ["risk", "evaluate", "--promoters", "300", "--days", "40",
                                 "--seeds", "2", "--seed-base", "5", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "PR-AUC" in result.stdout and "mean" in result.stdout

    def no_nan(token: str) -> float:
        raise AssertionError(f"not strict JSON: {token}")

    document = json.loads(out.read_text(), parse_constant=no_nan)
    assert [s["seed"] for s in document["seeds"]] == [5, 6]
    for seed in document["seeds"]:
        for key in ("pr_auc", "precision_top_1pct", "rings_caught_share",
                    "fraud_commission_caught_share", "honest_unpaid_held_share"):
            assert seed[key] is None or 0.0 <= seed[key] <= 1.0, key
        assert set(seed["recall_at_1pct_fpr"]) == set(FRAUD_TYPES)
        assert seed["supervised"]["trained"] in (True, False)
    assert document["settings"]["promoters"] == 300


@pytest.fixture
def empty_books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from settlement.db import create_db_engine, upgrade

    url = f"sqlite:///{tmp_path / 'books.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    monkeypatch.setenv("FENRUN_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("FENRUN_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FENRUN_FEATURE_STORE_DIR", str(tmp_path / "features"))
    return tmp_path


def test_train_without_decided_cases_trains_nothing_and_says_why(empty_books: Path) -> None:
    result = runner.invoke(app, ["risk", "train"])
    assert result.exit_code == 2, result.output
    assert "0 decided case(s), at least 40 needed (min_labels)" in result.stderr


def test_scan_without_an_anomaly_champion_names_the_command(empty_books: Path) -> None:
    result = runner.invoke(app, ["risk", "scan", "--as-of", "2026-03-01T00:00:00Z"])
    assert result.exit_code == 2, result.output
    assert "fenrun train" in result.stderr and "anomaly" in result.stderr
