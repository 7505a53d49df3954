"""Money out through the real `fenrun` CLI, end to end: a withdrawal above the review limit waits,
is approved with a reason, is written to the bank file (the only output with the clear account),
is marked paid by the result file, and the balances and `ledger verify` agree; a failed line
returns the money to available; bad input (more than available, below the minimum, over the
daily count, a malformed result file) gets a clear error and changes nothing; statements of the
month are built, reconciled and exported as CSV and Excel."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app
from settlement.personal_data import generate_key
from tests.conftest import DEFAULT_PLAN
from tests.finance_store import CARD, earn

EVENTS = earn(1, "P1", "200000.00")


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'books.db'}")
    monkeypatch.setenv("FENRUN_DATA_KEYS", generate_key())
    monkeypatch.setenv("FENRUN_BANK_FILE_DIR", str(tmp_path / "bank"))
    monkeypatch.setenv("FENRUN_WITHDRAWAL_FEE_FIXED", "2.00")
    monkeypatch.setenv("FENRUN_WITHDRAWAL_DAILY_COUNT", "3")
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    settled = run("settle", tmp_path / "e.jsonl", "--plan", tmp_path / "plan.yaml",
                  "--as-of", "2026-03-20T00:00:00Z")
    assert settled.exit_code == 0, settled.output
    run.tmp = tmp_path
    return run


def _p1(cli) -> dict[str, str]:
    return json.loads(cli("balances", "--format", "json").stdout)["promoters"]["P1"]


def _request(cli, amount: str, key: str):
    return cli("withdrawals", "request", "P1", amount, "--key", key,
               "--as-of", "2026-03-21T00:00:00Z")


def _results(cli, rows: list[str]) -> Path:
    path = cli.tmp / "result.csv"
    path.write_text("batch_id,line_id,status,reason\n" + "\n".join(rows) + "\n")
    return path


def test_a_large_withdrawal_waits_is_approved_sent_paid_and_the_books_agree(cli):
    added = cli("payees", "add", "P1", "--method", "bank_card", "--name", "张三丰",
                "--account", CARD, "--bank", "ICBC")
    assert added.exit_code == 0, added.output
    assert CARD not in added.stdout and "****0123" in added.stdout and "张**" in added.stdout
    assert cli("payees", "list").stdout.count("****0123") == 1

    asked = _request(cli, "15000.00", "req-1")
    assert asked.exit_code == 0, asked.output
    assert "requested (review_limit)" in asked.stdout
    assert _request(cli, "15000.00", "req-1").stdout == asked.stdout  # a retry: nothing new
    assert _p1(cli)["available"] == "5000.00"
    assert "nothing to send" in cli("bank", "send").stdout  # waiting: not sent yet

    approved = cli("withdrawals", "approve", "1", "--note", "called P1, ID checked")
    assert approved.exit_code == 0 and "approved by cli:" in approved.stdout
    sent = cli("bank", "send")
    assert sent.exit_code == 0 and "1 line(s), 14998.00 CNY" in sent.stdout, sent.output
    [batch_file] = (cli.tmp / "bank").glob("*.csv")
    [line] = list(csv.DictReader(batch_file.open(encoding="utf-8")))
    assert (line["payee_name"], line["account"], line["bank"], line["amount"]) == (
        "张三丰", CARD, "ICBC", "14998.00")

    done = cli("bank", "results", _results(cli, [f"{line['batch_id']},1,paid,"]))
    assert done.exit_code == 0 and "1 paid, 0 failed" in done.stdout, done.output
    assert _p1(cli) == {"pending": "0.00", "available": "5000.00", "paid": "14998.00"}
    assert cli("ledger", "verify").exit_code == 0
    again = cli("bank", "results", cli.tmp / "result.csv")
    assert "0 paid, 0 failed, 1 already recorded" in again.stdout
    assert "paid" in cli("withdrawals", "list", "--status", "paid").stdout


def test_a_failed_line_returns_the_money_to_available(cli):
    cli("payees", "add", "P1", "--method", "alipay", "--name", "Ada", "--account",
        "ada@example.com")
    assert _request(cli, "300.00", "r1").exit_code == 0  # a new payee: waits
    cli("withdrawals", "approve", "1", "--note", "first to this payee, checked")
    sent = cli("bank", "send")
    batch_id = sent.stdout.split()[1].rstrip(":")
    failed = cli("bank", "results", _results(cli, [f"{batch_id},1,failed,no such account"]))
    assert failed.exit_code == 0 and "0 paid, 1 failed" in failed.stdout, failed.output
    assert _p1(cli)["available"] == "20000.00"
    assert "failed" in cli("withdrawals", "list", "--promoter", "P1").stdout
    assert cli("ledger", "verify").exit_code == 0


def test_bad_input_gets_a_clear_error_and_changes_nothing(cli):
    cli("payees", "add", "P1", "--method", "wechat", "--name", "Ada", "--account", "wx_ada")
    before = _p1(cli)
    too_much = _request(cli, "20000.01", "a")
    assert too_much.exit_code == 2
    assert "amount: 20000.01 is more than the 20000.00 CNY P1 has available" in too_much.output
    too_little = _request(cli, "9.99", "b")
    assert "below the minimum withdrawal of 10.00 CNY" in too_little.output
    for n in range(3):
        assert _request(cli, "10.00", f"ok-{n}").exit_code == 0
    over = _request(cli, "10.00", "c")
    assert over.exit_code == 2 and "at most 3 a day" in over.output
    assert _p1(cli)["available"] == "19970.00"
    cli("withdrawals", "approve", "1", "--note", "ok")
    sent = cli("bank", "send")
    batch_id = sent.stdout.split()[1].rstrip(":")
    bad = cli("bank", "results", _results(cli, [f"{batch_id},1,maybe,"]))
    assert bad.exit_code == 1 and "status 'maybe' must be paid or failed" in bad.output
    unknown = cli("bank", "results", _results(cli, [f"{batch_id},7,paid,"]))
    assert unknown.exit_code == 1 and f"batch {batch_id} has no line 7" in unknown.output
    assert _p1(cli)["paid"] == before["paid"]
    assert "no results yet" in cli("bank", "list").stdout
    assert "approved by cli:" in cli("withdrawals", "list", "--status", "approved").stdout
    no_note = cli("withdrawals", "reject", "2", "--note", " ")
    assert no_note.exit_code == 1 and "note: must be 1 to" in no_note.output
    assert cli("ledger", "verify").exit_code == 0


def test_statements_of_the_month_are_built_and_exported(cli):
    cli("payees", "add", "P1", "--method", "wechat", "--name", "Ada", "--account", "wx_ada")
    _request(cli, "500.00", "r")
    cli("withdrawals", "reject", "1", "--note", "asked by mistake")
    out = cli.tmp / "statements"
    built = cli("statements", "build", "--period", "2026-03", "--out", out, "--show")
    assert built.exit_code == 0, built.output
    assert "2026-03: 1 statement(s)" in built.stdout
    rows = list(csv.DictReader((out / "statements-2026-03.csv").open(encoding="utf-8")))
    assert [(r["promoter_id"], r["opening"], r["commission"], r["closing"]) for r in rows] == [
        ("P1", "0.00", "20000.00", "20000.00")]
    book = load_workbook(out / "statements-2026-03.xlsx")
    assert book["statements"]["A2"].value == "P1"
    shown = cli("statements", "show", "P1", "--period", "2026-03")
    assert "20000.00" in shown.stdout
    missing = cli("statements", "show", "P1", "--period", "2026-02")
    assert missing.exit_code == 2 and "no statement of P1 for 2026-02" in missing.output
    bad = cli("statements", "build", "--period", "March")
    assert bad.exit_code == 2 and "period: a period is a month" in bad.output


def test_a_balance_passing_the_threshold_gets_a_statement(cli, monkeypatch):
    unset = cli("statements", "threshold", "--as-of", "2026-03-21T00:00:00Z")
    assert unset.exit_code == 2 and "FENRUN_STATEMENT_THRESHOLD is not set" in unset.output
    monkeypatch.setenv("FENRUN_STATEMENT_THRESHOLD", "15000.00")
    made = cli("statements", "threshold", "--as-of", "2026-03-21T00:00:00Z")
    assert made.exit_code == 0, made.output
    assert "1 promoter(s) passed 15000.00 CNY" in made.stdout and "20000.00" in made.stdout
    again = cli("statements", "threshold", "--as-of", "2026-03-22T00:00:00Z")
    assert "0 promoter(s) passed" in again.stdout  # it was above already: no new statement


def test_a_payout_decision_at_the_terminal_needs_a_reason(cli):
    run = cli("payouts", "run", "--as-of", "2026-03-20T00:00:00Z", "--no-hold-flagged")
    assert "awaiting approval" in run.stdout
    missing = cli("payouts", "approve", "1")
    assert missing.exit_code == 2 and "--note" in missing.output
    blank = cli("payouts", "approve", "1", "--note", " ")
    assert blank.exit_code == 2 and "--note: say why" in blank.output
    assert "awaiting_approval" in cli("payouts", "list").stdout
    done = cli("payouts", "reject", "1", "--note", "withdrawal instead")
    assert done.exit_code == 0 and "rejected" in done.stdout


def test_balances_show_what_is_withdrawing_only_when_some_is(cli):
    table = cli("balances").stdout
    assert table.splitlines()[0].split() == ["promoter", "pending", "available", "paid"]
    assert "withdrawing" not in table and "withdrawing" not in _p1(cli)
    cli("payees", "add", "P1", "--method", "alipay", "--name", "Ada", "--account",
        "ada@example.com")
    assert _request(cli, "300.00", "r1").exit_code == 0  # reserved: waits for a reviewer
    assert _p1(cli) == {"pending": "0.00", "available": "19700.00", "paid": "0.00",
                        "withdrawing": "300.00"}
    cli("withdrawals", "approve", "1", "--note", "first to this payee, checked")
    cli("bank", "send")  # in transit: still withdrawing
    assert _p1(cli)["withdrawing"] == "300.00"
    header, p1 = cli("balances").stdout.splitlines()[:2]
    assert header.split() == ["promoter", "pending", "available", "paid", "withdrawing"]
    assert p1.split() == ["P1", "0.00", "19700.00", "0.00", "300.00"]
