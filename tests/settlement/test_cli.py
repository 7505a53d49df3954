"""The `fenrun` CLI: exit codes, line-numbered rejections, JSON balances, verification, exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app
from settlement.db import create_db_engine
from settlement.risk_cases import record_flags
from settlement.risk_domain import RiskFlag
from tests.conftest import DEFAULT_PLAN

BRIEF = [
    {"event_id": "e1", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z", "promoter_id": "A"},
    {"event_id": "e2", "type": "promoter_joined", "ts": "2026-03-01T09:00:00Z", "promoter_id": "B",
     "parent_id": "A"},
    {"event_id": "e3", "type": "touch", "ts": "2026-03-02T01:00:00Z", "customer_id": "x",
     "promoter_id": "B"},
    {"event_id": "e4", "type": "order_paid", "ts": "2026-03-02T10:05:00+08:00", "order_id": "o1",
     "customer_id": "x", "merchant_id": "m1", "currency": "CNY",
     "lines": [{"sku": "a", "category": "food", "amount": "2000.00"}]},
    {"event_id": "e5", "type": "order_confirmed", "ts": "2026-03-03T00:00:00Z", "order_id": "o1"},
]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    run.tmp = tmp_path
    run.url = url
    return run


def write_events(path: Path, records: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_settle_then_balances_as_json(cli):
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    result = cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    assert result.exit_code == 0, result.output
    assert "applied 5" in result.output
    document = json.loads(cli("balances", "--format", "json").output)
    assert document["promoters"]["B"] == {"pending": "200.00", "available": "0.00",
                                          "paid": "0.00"}
    assert document["promoters"]["A"]["pending"] == "100.00"
    assert document["merchants"] == {"m1": {"payable": "1600.00"}}
    assert document["platform"] == {"revenue": "100.00"}


def test_bad_lines_are_reported_with_their_number_and_the_rest_applied(cli):
    records = BRIEF[:2] + ['{"not json', {**BRIEF[2], "event_id": "t2", "promoter_id": "nobody"},
                           {**BRIEF[3], "lines": [{"sku": "a", "category": "f",
                                                   "amount": "1.001"}]}]
    events = write_events(cli.tmp / "e.jsonl", records)
    result = cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    assert result.exit_code == 1
    assert f"{events}:3: line: not valid JSON" in result.stderr
    assert f"{events}:4: promoter_id: nobody has not joined" in result.stderr
    assert f"{events}:5: lines[0].amount" in result.stderr
    assert "applied 2" in result.stdout


def test_a_plan_error_applies_nothing(cli):
    bad_plan = cli.tmp / "bad.yaml"
    bad_plan.write_text(DEFAULT_PLAN.replace('"0.10", "0.05", "0.02"', '"0.1","0.1","0.1","0.1"'))
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    result = cli("settle", events, "--plan", bad_plan)
    assert result.exit_code == 2
    assert "at most 3" in result.stderr
    assert json.loads(cli("balances", "--format", "json").output)["promoters"] == {}


def test_a_changed_plan_version_is_refused(cli):
    cli("plan", "apply", cli.tmp / "plan.yaml")
    changed = cli.tmp / "changed.yaml"
    changed.write_text(DEFAULT_PLAN.replace("hold_days: 7", "hold_days: 3"))
    result = cli("plan", "apply", changed)
    assert result.exit_code == 2 and "already stored with different content" in result.stderr


def test_replaying_a_file_is_harmless(cli):
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    before = cli("balances", "--format", "json").output
    result = cli("settle", events)
    assert result.exit_code == 0 and "already applied 5" in result.output
    assert cli("balances", "--format", "json").output == before


def test_payout_run_exports_csv_and_verify_passes(cli):
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    export = cli.tmp / "payouts.csv"
    result = cli("payouts", "run", "--as-of", "2026-03-10T00:00:00Z", "--export", export)
    assert result.exit_code == 0, result.output
    rows = export.read_text().splitlines()
    assert rows[0] == ("payout_id,promoter_id,currency,amount,status,as_of,hold_reason,"
                       "decided_by,payee")
    assert sorted(r.split(",")[1:5] for r in rows[1:]) == [["A", "CNY", "100.00", "paid"],
                                                           ["B", "CNY", "200.00", "paid"]]
    assert cli("ledger", "verify").exit_code == 0


def test_payout_run_keeps_back_only_what_an_open_case_puts_at_risk(cli):
    more = [{"event_id": "e6", "type": "touch", "ts": "2026-03-02T02:00:00Z", "customer_id": "y",
             "promoter_id": "B"},
            {"event_id": "e7", "type": "order_paid", "ts": "2026-03-02T03:00:00Z",
             "order_id": "o2", "customer_id": "y", "merchant_id": "m1", "currency": "CNY",
             "lines": [{"sku": "a", "category": "food", "amount": "1000.00"}]},
            {"event_id": "e8", "type": "order_confirmed", "ts": "2026-03-03T00:00:00Z",
             "order_id": "o2"}]
    events = write_events(cli.tmp / "e.jsonl", BRIEF + more)
    cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    engine = create_db_engine(cli.url)
    with engine.begin() as conn:
        [case_id] = record_flags(conn, [RiskFlag("B", "self_referral", "high",
                                                 {"orders": ["o1"]})],
                                 datetime(2026, 3, 9, tzinfo=UTC))
    engine.dispose()
    result = cli("payouts", "run", "--as-of", "2026-03-10T00:00:00Z")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [paid] = [line for line in lines if line.split()[1:2] == ["B"]]
    assert paid.split()[2:] == ["100.00", "CNY", "paid"]  # 300.00 earned, 200.00 at risk
    assert (f"200.00 CNY kept back until risk case #{case_id} about B (1 released order) "
            "is decided") in result.output
    assert "1 paid, 0 awaiting approval" in result.output  # A: 50.00 left, under the minimum
    unheld = cli("payouts", "run", "--as-of", "2026-03-11T00:00:00Z", "--no-hold-flagged")
    assert "2 paid" in unheld.output  # asked to ignore the case: A 150.00, B 200.00
    assert cli("ledger", "verify").exit_code == 0


def test_verify_fails_when_a_balance_was_tampered_with(cli):
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    engine = create_db_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance_minor = balance_minor - 1 "
                          "WHERE owner_id = 'B' AND account_kind = 'promoter_pending'"))
    result = cli("ledger", "verify")
    assert result.exit_code == 1
    assert "promoter_pending/B/CNY" in result.stderr


def test_bad_arguments_name_the_option(cli):
    result = cli("payouts", "run", "--as-of", "yesterday")
    assert result.exit_code == 2 and "--as-of" in result.stderr
    missing = cli("settle", cli.tmp / "missing.jsonl", "--plan", cli.tmp / "plan.yaml")
    assert missing.exit_code == 2 and "EVENTS: cannot read" in missing.stderr
    assert "no books at" in cli("release", "--as-of", "2026-03-01T00:00:00Z").stderr
    assert cli("db", "upgrade").exit_code == 0
    assert "no plan version is stored" in cli("release", "--as-of", "2026-03-01T00:00:00Z").stderr


def test_a_file_out_of_time_order_is_applied_in_time_order(cli):
    shuffled = [BRIEF[3], BRIEF[1], "", BRIEF[2], BRIEF[0], {**BRIEF[4], "ts": "no time"}]
    events = write_events(cli.tmp / "e.jsonl", shuffled)
    result = cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"{events}:6: ts: not an ISO-8601 timestamp (got 'no time')"
    assert "applied 4" in result.stdout
    document = json.loads(cli("balances", "--format", "json").output)
    assert document["promoters"]["B"]["pending"] == "200.00"


def test_equal_timestamps_keep_their_file_order(cli):
    same = "2026-03-01T08:00:00Z"
    records = [{**BRIEF[0], "ts": same}, {**BRIEF[1], "ts": same}]
    events = write_events(cli.tmp / "e.jsonl", records)
    assert cli("settle", events, "--plan", cli.tmp / "plan.yaml").exit_code == 0
    reversed_file = write_events(cli.tmp / "r.jsonl", [
        {**records[1], "event_id": "x2", "promoter_id": "D", "parent_id": "E"},
        {**records[0], "event_id": "x1", "promoter_id": "E"}])
    result = cli("settle", reversed_file)
    assert result.exit_code == 1 and "parent_id: E has not joined" in result.stderr


def test_plan_apply_refuses_a_version_reaching_back_over_settled_events(cli):
    events = write_events(cli.tmp / "e.jsonl", BRIEF)
    assert cli("settle", events, "--plan", cli.tmp / "plan.yaml").exit_code == 0
    backdated = cli.tmp / "backdated.yaml"
    backdated.write_text(DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-03-02T00:00:00Z")
                         .replace('"0.10", "0.05"', '"0.20", "0.05"'))
    result = cli("plan", "apply", backdated)
    assert result.exit_code == 2
    assert "not after the last settled payment or touch (2026-03-02T02:05:00+00:00)" in \
        result.stderr
    forward = cli.tmp / "forward.yaml"
    forward.write_text(DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-03-04T00:00:00Z"))
    assert "stored 1 new plan version(s): 2026-03-04T00:00:00Z" in cli(
        "plan", "apply", forward).output
