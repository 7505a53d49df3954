"""Commands that move money refuse an --as-of in the future (beyond a small stated tolerance),
unless --allow-future says a simulated mall is being replayed on purpose."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.common import AS_OF_TOLERANCE
from tests.conftest import DEFAULT_PLAN

FAR = "2099-01-01T00:00:00Z"
EVENTS = [
    {"event_id": "e1", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z", "promoter_id": "A"},
    {"event_id": "e2", "type": "touch", "ts": "2026-03-02T01:00:00Z", "customer_id": "x",
     "promoter_id": "A"},
    {"event_id": "e3", "type": "order_paid", "ts": "2026-03-02T10:00:00Z", "order_id": "o1",
     "customer_id": "x", "merchant_id": "m1", "currency": "CNY",
     "lines": [{"sku": "a", "category": "food", "amount": "2000.00"}]},
    {"event_id": "e4", "type": "order_confirmed", "ts": "2026-03-03T00:00:00Z", "order_id": "o1"},
]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'books.db'}")
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def _pending(cli) -> str:
    return json.loads(cli("balances", "--format", "json").stdout)["promoters"]["A"]["pending"]


def test_the_tolerance_is_small_and_stated() -> None:
    assert timedelta(0) < AS_OF_TOLERANCE <= timedelta(minutes=5)


def test_settle_refuses_a_future_as_of_before_storing_anything(cli) -> None:
    result = cli("settle", cli.tmp / "e.jsonl", "--plan", cli.tmp / "plan.yaml", "--as-of", FAR)
    assert result.exit_code == 2
    assert "--as-of: 2099-01-01T00:00:00+00:00 is in the future" in result.stderr
    assert "--allow-future" in result.stderr
    assert "no books at" in cli("balances").stderr


@pytest.mark.parametrize("command", [["release"], ["payouts", "run", "--no-hold-flagged"]])
def test_release_and_payouts_refuse_a_future_as_of(cli, command: list[str]) -> None:
    assert cli("settle", cli.tmp / "e.jsonl", "--plan", cli.tmp / "plan.yaml").exit_code == 0
    result = cli(*command, "--as-of", FAR)
    assert result.exit_code == 2
    assert "is in the future" in result.stderr
    assert _pending(cli) == "200.00"  # the hold is still on


def test_allow_future_replays_on_purpose(cli) -> None:
    assert cli("settle", cli.tmp / "e.jsonl", "--plan", cli.tmp / "plan.yaml").exit_code == 0
    result = cli("release", "--as-of", FAR, "--allow-future")
    assert result.exit_code == 0 and "holds released: 1" in result.stdout
    assert _pending(cli) == "0.00"


def test_an_instant_within_the_tolerance_is_now(cli) -> None:
    assert cli("settle", cli.tmp / "e.jsonl", "--plan", cli.tmp / "plan.yaml").exit_code == 0
    soon = (datetime.now(UTC) + AS_OF_TOLERANCE / 2).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli("release", "--as-of", soon).exit_code == 0
