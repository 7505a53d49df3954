"""Proves the README's promise: right after `fenrun demo` (here on a smaller mall, in a fresh
folder, with a shell that has none of the demo's own settings), every command the README lists
works (exit 0), or refuses with a message naming the command to run first; a second `fenrun train
all` on the same books registers no new version."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from mlflow.tracking import MlflowClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from settlement import tables as t
from settlement.db import create_db_engine

pytestmark = pytest.mark.slow
PROMOTERS, DAYS, SEED = 300, 90, 7
NAMES_A_COMMAND = re.compile(r"`fenrun [a-z-]+[^`]*`")


@dataclass(frozen=True)
class AfterDemo:
    folder: Path
    last_event_at: str  # ISO instant of the newest settled event
    last_day: str  # its date
    evaluate_day: str  # a cutoff with a whole 30-day window after it


def _fenrun(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _versions(name: str) -> list[str]:
    uri = "sqlite:///.fenrun/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return sorted(str(v.version) for v in client.search_model_versions(f"name = '{name}'"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AfterDemo]:
    folder = tmp_path_factory.mktemp("after-demo")
    with pytest.MonkeyPatch.context() as env:
        env.chdir(folder)  # every default path (.fenrun/...) lands here
        for key in [k for k in os.environ if k.startswith("FENRUN_") and "TEST" not in k]:
            env.delenv(key)
        env.delenv("FENRUN_LTV_HORIZON_DAYS", raising=False)
        result = _fenrun("demo", "--promoters", str(PROMOTERS), "--days", str(DAYS),
                         "--seed", str(SEED))
        assert result.exit_code == 0, result.output
        assert "step ended with status" not in result.output, result.output
        env.delenv("FENRUN_LTV_HORIZON_DAYS", raising=False)  # the demo's own, not the shell's
        engine = create_db_engine("sqlite:///.fenrun/fenrun.db")
        with engine.connect() as conn:
            last = conn.execute(select(func.max(t.events.c.ts))).scalar_one()
        engine.dispose()
        yield AfterDemo(folder, last.isoformat(), f"{last:%Y-%m-%d}",
                        f"{last - timedelta(days=31):%Y-%m-%d}")


def _works_or_says_what_first(result: Result) -> None:
    if result.exit_code != 0:
        assert NAMES_A_COMMAND.search(result.output), (
            f"exit {result.exit_code} without naming the command to run first:\n{result.output}")


def test_demo_leaves_one_version_of_each_trained_model(demo: AfterDemo) -> None:
    assert _versions("fenrun-segments") == ["1"]
    assert _versions("fenrun-anomaly") == ["1"]


def test_train_all_works_and_a_second_run_registers_nothing(demo: AfterDemo) -> None:
    first = _fenrun("train", "all")
    assert first.exit_code == 0, first.output
    assert "fenrun-segments v1 -> champion: same data fingerprint" in first.output
    assert "no fraud labels" in first.output  # the anomaly run without --labels says why
    before = {n: _versions(n) for n in ("fenrun-segments", "fenrun-anomaly", "fenrun-ltv")}
    again = _fenrun("train", "all")
    assert again.exit_code == 0, again.output
    assert {n: _versions(n) for n in before} == before


def test_train_segments_and_anomaly_without_labels_work(demo: AfterDemo) -> None:
    segments = _fenrun("train", "segments")
    assert segments.exit_code == 0, segments.output
    assert "no new version registered" in segments.output
    assert _versions("fenrun-segments") == ["1"]
    anomaly = _fenrun("train", "anomaly")
    assert anomaly.exit_code == 0, anomaly.output
    assert "-> champion" not in anomaly.output  # unlabelled: cannot beat the labelled champion
    assert ("no fraud labels" in anomaly.output  # the first unlabelled run says why
            or "no new version registered" in anomaly.output)  # (train all ran it before)
    count = len(_versions("fenrun-anomaly"))
    again = _fenrun("train", "anomaly")
    assert again.exit_code == 0 and "no new version registered" in again.output
    assert len(_versions("fenrun-anomaly")) == count  # the same unlabelled run: nothing new


def test_ltv_promoters_works_without_an_ltv_champion(demo: AfterDemo) -> None:
    result = _fenrun("ltv", "promoters", "--as-of", demo.last_day)
    assert result.exit_code == 0, result.output
    assert "promoters with acquired customers" in result.output
    if "BG/NBD" in result.output:  # no LTV champion: said so, with the command that makes one
        assert "run `fenrun train ltv` first" in result.output


def test_ltv_promoters_with_the_champion_demanded_names_the_command(demo: AfterDemo) -> None:
    result = _fenrun("ltv", "promoters", "--as-of", demo.last_day, "--use-champion")
    if not _versions_with_champion("fenrun-ltv"):
        assert result.exit_code == 2
        assert "run `fenrun train ltv` first" in result.output
    else:
        assert result.exit_code == 0, result.output


def _versions_with_champion(name: str) -> bool:
    uri = "sqlite:///.fenrun/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return "champion" in (client.get_registered_model(name).aliases or {})


@pytest.mark.parametrize("args", [
    ("risk", "flag", "--as-of", "{at}"),
    ("risk", "scan", "--as-of", "{at}"),
    ("drift", "--as-of", "{at}"),
    ("features", "build", "--as-of", "{at}"),
    ("ltv", "evaluate", "--cutoff", "{cutoff}", "--horizon-days", "30", "--out", "ltv.csv"),
    ("balances", "--format", "json"),
    ("ledger", "verify"),
    ("release", "--as-of", "{at}"),
    ("payouts", "run", "--as-of", "{at}"),
    ("payouts", "list"),
    ("db", "upgrade"),
    ("risk", "cases"),
    ("risk", "case", "1"),
])
def test_readme_command_works_after_the_demo(demo: AfterDemo, args: tuple[str, ...]) -> None:
    filled = [a.format(at=demo.last_event_at, cutoff=demo.evaluate_day) for a in args]
    result = _fenrun(*filled)
    _works_or_says_what_first(result)
    assert result.exit_code in (0, 2), result.output


def test_risk_flag_after_the_demo_stores_the_list(demo: AfterDemo) -> None:
    result = _fenrun("risk", "flag", "--as-of", demo.last_event_at)
    assert result.exit_code == 0, result.output
    assert "promoters flagged by models:/fenrun-anomaly@champion v1" in result.output
    balances = json.loads(_fenrun("balances", "--format", "json").output)
    assert balances["promoters"]  # the books the flags' unpaid amounts were read from


def test_demo_ends_with_rate_suggestions_some_approved(demo: AfterDemo) -> None:
    from settlement import read_model

    engine = create_db_engine("sqlite:///.fenrun/fenrun.db")
    with engine.connect() as conn:
        approved = read_model.list_suggestions(conn, status="approved")
        stored = read_model.list_suggestions(conn, limit=10_000)
        logged = read_model.rate_assignments(conn)
    engine.dispose()
    assert len(stored) > 50 and 1 <= len(approved) <= 5
    assert {a.suggestion_id for a in logged} >= {r.suggestion_id for r in approved}
    assert "promoter overrides (level-1 base rate)" in _fenrun("plan", "show").output
    listed = _fenrun("rates", "list", "--status", "approved")
    assert listed.exit_code == 0 and f"{len(approved)} suggestion(s)" in listed.output
def test_the_demo_leaves_open_risk_cases_to_work(demo: AfterDemo) -> None:
    queue = _fenrun("risk", "cases")
    assert queue.exit_code == 0, queue.output
    assert "case(s), by money at risk:" in queue.output and "self_referral" in queue.output
