"""`fenrun plan`: versions in another currency than the books are refused, unquoted decimals get a
hint, and `list`, `show` and `diff` say what is stored and what changed between versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from settlement.errors import PlanError
from settlement.plan import parse_plan_text
from tests.conftest import DEFAULT_PLAN

LATER = (DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")
         .replace('platform_take_rate: "0.05"', 'platform_take_rate: "0.06"')
         .replace("hold_days: 7", "hold_days: 14"))
IN_USD = LATER.replace("currency: CNY", "currency: USD")


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", db_url)
    for name, text in (("plan", DEFAULT_PLAN), ("later", LATER), ("usd", IN_USD)):
        (tmp_path / f"{name}.yaml").write_text(text)
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def test_a_version_in_another_currency_is_refused_at_plan_apply(cli) -> None:
    assert cli("plan", "apply", cli.tmp / "plan.yaml").exit_code == 0
    result = cli("plan", "apply", cli.tmp / "usd.yaml")
    assert result.exit_code == 2
    assert ("currency: version 2026-06-01T00:00:00Z settles in USD but the books settle in CNY"
            in result.stderr)
    assert "2026-06-01" not in cli("plan", "list").stdout


def test_a_version_in_another_currency_is_refused_at_settle(cli) -> None:
    events = cli.tmp / "e.jsonl"
    events.write_text(json.dumps({"event_id": "j", "type": "promoter_joined",
                                  "ts": "2026-07-01T00:00:00Z", "promoter_id": "A"}) + "\n")
    assert cli("settle", events, "--plan", cli.tmp / "plan.yaml").exit_code == 0
    result = cli("settle", events, "--plan", cli.tmp / "usd.yaml")
    assert result.exit_code == 2
    assert "currency:" in result.stderr and "USD" in result.stderr and "CNY" in result.stderr


def test_one_file_mixing_currencies_is_refused() -> None:
    with pytest.raises(PlanError, match="currency: version 2026-06-01T00:00:00Z settles in USD"):
        parse_plan_text(DEFAULT_PLAN + "\n---\n" + IN_USD)


@pytest.mark.parametrize(("line", "field"), [
    ("platform_take_rate: 0.05", "platform_take_rate"),
    ("payout_minimum: 100", "payout_minimum"),
])
def test_unquoted_decimals_get_a_hint_to_quote_them(line: str, field: str) -> None:
    key = line.split(":")[0]
    original = next(ln for ln in DEFAULT_PLAN.splitlines() if ln.startswith(f"{key}:"))
    with pytest.raises(PlanError) as caught:
        parse_plan_text(DEFAULT_PLAN.replace(original, line))
    message = str(caught.value)
    assert message.startswith(f"{field}: ")
    assert "quote" in message and line.split(": ")[1] in message


def test_list_shows_every_stored_version(cli) -> None:
    assert cli("plan", "apply", cli.tmp / "plan.yaml").exit_code == 0
    assert cli("plan", "apply", cli.tmp / "later.yaml").exit_code == 0
    result = cli("plan", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["version", "effective_from", "currency", "content_hash",
                                "recorded_at"]
    assert lines[1].startswith("2026-01-01T00:00:00Z") and " CNY " in lines[1]
    assert lines[2].startswith("2026-06-01T00:00:00Z")
    assert len(lines) == 3


def test_show_prints_a_version_rules_readably(cli) -> None:
    cli("plan", "apply", cli.tmp / "plan.yaml")
    cli("plan", "apply", cli.tmp / "later.yaml")
    newest = cli("plan", "show")
    assert newest.exit_code == 0, newest.output
    assert "version 2026-06-01T00:00:00Z" in newest.stdout
    assert "platform take rate: 0.06 (6%)" in newest.stdout
    assert "hold: 14 days" in newest.stdout
    at = cli("plan", "show", "--at", "2026-03-01T00:00:00Z").stdout
    assert "version 2026-01-01T00:00:00Z" in at
    assert "levels: 0.10 (10%), 0.05 (5%), 0.02 (2%)" in at
    assert "electronics: levels 0.03 (3%), 0.01 (1%), 0 (0%); platform take rate 0.02 (2%)" in at
    assert "attribution: position, lookback 30 days, first 0.6, last 0.4" in at
    assert "payout minimum: 100.00 CNY" in at
    by_id = cli("plan", "show", "2026-01-01T00:00:00Z")
    assert by_id.stdout == at
    unknown = cli("plan", "show", "2030-01-01T00:00:00Z")
    assert unknown.exit_code == 2 and "2030-01-01T00:00:00Z is not known" in unknown.stderr
    before = cli("plan", "show", "--at", "2025-01-01T00:00:00Z")
    assert before.exit_code == 2 and "no plan version is in force" in before.stderr


def test_diff_names_each_changed_key(cli) -> None:
    cli("plan", "apply", cli.tmp / "plan.yaml")
    cli("plan", "apply", cli.tmp / "later.yaml")
    result = cli("plan", "diff", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "effective_from: 2026-01-01T00:00:00Z -> 2026-06-01T00:00:00Z",
        "hold_days: 7 -> 14",
        "platform_take_rate: 0.05 -> 0.06",
    ]
    same = cli("plan", "diff", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert same.stdout.strip() == "no difference"


def test_show_prints_plans_v2_keys_and_warns_when_a_merchant_could_pay(cli) -> None:
    (cli.tmp / "v2.yaml").write_text(DEFAULT_PLAN + 'fixed_commissions: {SKU-1: ["5.00"]}\n'
                                     "max_levels: 2\n")
    cli("plan", "apply", cli.tmp / "v2.yaml")
    shown = cli("plan", "show").stdout
    assert "fixed commissions: {'SKU-1': ['5.00']}" in shown
    assert "max levels: 2" in shown
    assert ("warning: fixed_commissions without caps.order_share or caps.per_order: a "
            "merchant's remainder can be negative") in shown
