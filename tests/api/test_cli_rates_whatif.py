"""`fenrun rates what-if` prints the exact cost change of a past window under given or pending
rates and leaves the books as they were; `fenrun rates experiment report` prints treated against
control with intervals. Bad input names the field and exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from settlement.db import create_db_engine
from tests.conftest import DEFAULT_PLAN
from tests.rate_store import store, suggestion

EVENTS = [
    {"event_id": "e1", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z", "promoter_id": "A"},
    {"event_id": "e2", "type": "promoter_joined", "ts": "2026-03-01T09:00:00Z", "promoter_id": "B",
     "parent_id": "A"},
    {"event_id": "e3", "type": "touch", "ts": "2026-03-02T01:00:00Z", "customer_id": "x",
     "promoter_id": "B"},
    {"event_id": "e4", "type": "order_paid", "ts": "2026-03-02T10:05:00Z", "order_id": "o1",
     "customer_id": "x", "merchant_id": "m1", "currency": "CNY",
     "lines": [{"sku": "a", "category": "food", "amount": "2000.00"}]},
]
WINDOW = ("--from", "2026-03-02T00:00:00Z", "--to", "2026-03-05T00:00:00Z")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    assert run("settle", tmp_path / "events.jsonl", "--plan", tmp_path / "plan.yaml",
               "--as-of", "2026-03-03T00:00:00Z").exit_code == 0
    run.tmp, run.url = tmp_path, url  # type: ignore[attr-defined]
    return run


def test_what_if_with_given_rates_is_exact_and_changes_nothing(cli) -> None:
    (cli.tmp / "rates.yaml").write_text('B: "0.12"\n')
    before = cli("balances").stdout
    result = cli("rates", "what-if", *WINDOW, "--rates", cli.tmp / "rates.yaml")
    assert result.exit_code == 0, result.output
    # o1 food 2000.00: B level 1 200.00 -> 240.00; A level 2 100.00 on both sides.
    assert "books 300.00, scenario 340.00, change +40.00" in result.stdout
    assert "m1" in result.stdout and "level 1" in result.stdout
    assert "1 promoters re-rated (given rates)" in result.stdout
    assert cli("balances").stdout == before
    assert cli("ledger", "verify").exit_code == 0


def test_what_if_under_the_pending_suggestions_shows_the_prediction(cli) -> None:
    engine = create_db_engine(cli.url)
    store(engine, [suggestion("B", proposed="0.11")])
    engine.dispose()
    result = cli("rates", "what-if", *WINDOW)
    assert result.exit_code == 0, result.output
    assert "(pending suggestions)" in result.stdout
    assert "change +20.00" in result.stdout  # 2000.00 × 1 %
    assert "summed over 1 suggestion(s)" in result.stdout
    assert "12.30" in result.stdout  # the stored margin prediction


@pytest.mark.parametrize(("text", "message"), [
    ("B: 0.12\n", "--rates .*B: 0.12 must be a quoted decimal"),
    ('B: "0.97"\n', r"promoter_overrides\.B: 0\.97 plus the platform take"),
    ("- B\n", "expected a mapping"),
])
def test_bad_rates_are_refused_naming_the_field(cli, text: str, message: str) -> None:
    import re

    (cli.tmp / "rates.yaml").write_text(text)
    result = cli("rates", "what-if", *WINDOW, "--rates", cli.tmp / "rates.yaml")
    assert result.exit_code == 2
    assert re.search(message, result.stderr), result.stderr


def test_without_pending_suggestions_or_rates_it_says_what_to_do(cli) -> None:
    result = cli("rates", "what-if", *WINDOW)
    assert result.exit_code == 2 and "no pending suggestion" in result.stderr


def test_experiment_report_without_an_experiment_says_how_to_start_one(cli) -> None:
    result = cli("rates", "experiment", "report")
    assert result.exit_code == 2 and "FENRUN_RATES_CONTROL_SHARE" in result.stderr


def test_experiment_report_prints_treated_against_control(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.rates_books import build_rates_books

    books = build_rates_books(tmp_path)
    monkeypatch.setenv("FENRUN_DATABASE_URL", books.url)
    result = CliRunner().invoke(app, ["rates", "experiment", "report"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # Mar 1 .. Apr 1 (31 days), per 30-day cycle: GMV treated (100 + 200) / 2, control 25.
    gmv = next(line for line in result.stdout.splitlines() if line.strip().startswith("gmv"))
    assert gmv.split()[1:4] == ["145.16", "24.19", "+120.97"], gmv
    assert "2 treated, 2 control" in result.stdout and "Welch" in result.stdout
