"""`fenrun risk cases|case|investigate|confirm|dismiss`: the work queue at the terminal, with who
decided and why on the case's trail, confirming twice booking nothing, errors naming the field."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from api.cli import app
from serving.risk_cases import open_cases
from settlement.db import create_db_engine
from settlement.risk_domain import RiskFlag
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.test_risk_cases import _mall


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e.payload) for e in _mall(EventFactory())) + "\n")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    assert run("settle", events, "--plan", tmp_path / "plan.yaml").exit_code == 0
    run.url = url
    return run


def _open(url: str) -> list[int]:
    engine = create_db_engine(url)
    try:
        return open_cases(engine, [
            RiskFlag("F", "self_referral", "high", {"orders": ["f1", "f2", "f3"]}),
            RiskFlag("H2", "velocity", "medium", {"orders": ["x1"]})])
    finally:
        engine.dispose()


def test_the_queue_a_case_and_a_confirmation_twice(cli):
    assert "no cases" in cli("risk", "cases").output
    case_f, case_h2 = _open(cli.url)
    queue = cli("risk", "cases").output.splitlines()
    assert queue[0] == "2 case(s), by money at risk:"
    assert f"#{case_f}" in queue[1] and "764.83 CNY" in queue[1] and "self_referral" in queue[1]
    shown = cli("risk", "case", case_f).output
    assert "promoter F, open, 764.83 CNY at risk" in shown and "f2" in shown
    noted = cli("risk", "note", case_f, "--by", "ana", "--note", "phone matches the join")
    assert f"note added to case #{case_f} (open)" in noted.output
    taken = cli("risk", "investigate", case_f, "--by", "ana", "--note", "checking devices")
    assert f"case #{case_f} is now investigating" in taken.output
    confirmed = cli("risk", "confirm", case_f, "--by", "ana", "--note", "same phone")
    assert confirmed.exit_code == 0, confirmed.output
    assert "reversed 764.83 CNY" in confirmed.output and "promoter F suspended" in confirmed.output
    again = cli("risk", "confirm", case_f, "--by", "bob")
    assert "already confirmed: nothing changed" in again.output
    trail = cli("risk", "case", case_f).output
    assert "ana" in trail and "same phone" in trail and "recovered" in trail
    assert "phone matches the join" in trail
    assert cli("ledger", "verify").exit_code == 0
    assert f"#{case_h2}" in cli("risk", "cases").output
    assert f"#{case_f}" in cli("risk", "cases", "--status", "confirmed").output


def test_dismissal_needs_a_note_and_errors_name_the_field(cli):
    _case_f, case_h2 = _open(cli.url)
    missing = cli("risk", "dismiss", case_h2, "--by", "ana")
    assert missing.exit_code == 2 and "--note" in missing.output
    done = cli("risk", "dismiss", case_h2, "--by", "ana", "--note", "a promotion day")
    assert f"case #{case_h2} is now dismissed" in done.output
    refused = cli("risk", "confirm", case_h2, "--by", "ana")
    assert refused.exit_code == 2 and "dismissed; it cannot be confirmed" in refused.stderr
    unknown = cli("risk", "case", "999")
    assert unknown.exit_code == 2 and "case_id: no risk case 999" in unknown.stderr
    bad = cli("risk", "cases", "--status", "closed")
    assert bad.exit_code == 2 and "--status: 'closed'" in bad.stderr


def _recovered(cli) -> dict[str, str]:
    shown = cli("balances", "--format", "json")
    assert shown.exit_code == 0, shown.output
    merchants = json.loads(shown.output)["merchants"]
    return {owner: m["risk_recovered"] for owner, m in merchants.items() if "risk_recovered" in m}


def test_balances_show_what_confirmed_fraud_recovered_for_merchants(cli):
    assert _recovered(cli) == {}  # no confirmed case: the document reads as it always did
    case_f, _ = _open(cli.url)
    assert cli("risk", "confirm", case_f, "--by", "ana", "--note", "same phone").exit_code == 0
    recovered = _recovered(cli)
    assert recovered and sum(Decimal(amount) for amount in recovered.values()) == Decimal("764.83")
