"""`fenrun events rejected` lists what the books refused and why; `fenrun events retry` sends it
through the same use case again: what applies now is applied once, what is still wrong stays
rejected with its new reason, and `fenrun settle` answers as before."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import DEFAULT_PLAN

EARLY_TOUCH = {"event_id": "t1", "type": "touch", "ts": "2026-03-02T10:00:00Z",
               "customer_id": "x", "promoter_id": "A"}
ORPHAN = {"event_id": "j2", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z",
          "promoter_id": "B", "parent_id": "Z"}
JOINS = [{"event_id": "j1", "type": "promoter_joined", "ts": "2026-03-01T08:00:00Z",
          "promoter_id": "A"},
         {"event_id": "j3", "type": "promoter_joined", "ts": "2026-03-01T09:00:00Z",
          "promoter_id": "Z"}]
ORDER = {"event_id": "p1", "type": "order_paid", "ts": "2026-03-02T10:05:00Z", "order_id": "o1",
         "customer_id": "x", "merchant_id": "m1", "currency": "CNY",
         "lines": [{"sku": "a", "category": "food", "amount": "100.00"}]}


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'books.db'}")
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    def settle(name: str, records: list) -> object:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return run("settle", path, "--plan", tmp_path / "plan.yaml")

    run.settle = settle
    return run


def test_rejected_events_are_listed_and_healed_by_a_retry(cli):
    first = cli.settle("early.jsonl", [EARLY_TOUCH, ORPHAN])
    assert first.exit_code == 1 and "promoter_id: A has not joined" in first.stderr
    assert cli.settle("joins.jsonl", JOINS).exit_code == 0
    listed = cli("events", "rejected")
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()
    assert rows[0].split() == ["event_id", "type", "ts", "attempts", "reason"]
    assert rows[1].split()[:4] == ["j2", "promoter_joined", "2026-03-01T08:00:00Z", "1"]
    assert rows[2].split()[:4] == ["t1", "touch", "2026-03-02T10:00:00Z", "1"]
    assert "parent_id: Z has not joined yet" in rows[1]
    assert cli("events", "rejected", "--type", "touch", "--limit", "5").stdout.count("\n") == 2

    retried = cli("events", "retry", "--all")
    assert retried.exit_code == 1  # j2 is still wrong: Z joined after it
    assert "t1: applied" in retried.stdout
    assert "j2: rejected: parent_id: Z joined after this event" in retried.stdout
    assert "applied 1, already applied 0, rejected 1" in retried.stdout
    assert cli.settle("order.jsonl", [ORDER]).exit_code == 0
    balances = json.loads(cli("balances", "--format", "json").stdout)
    assert balances["promoters"]["A"]["pending"] == "10.00"

    again = cli("events", "retry", "t1", "j2", "nope")
    assert "t1: already applied" in again.stdout and "nope: no such event" in again.stderr
    assert again.exit_code == 1
    left = cli("events", "rejected").stdout.splitlines()
    assert len(left) == 2 and left[1].split()[:4] == ["j2", "promoter_joined",
                                                      "2026-03-01T08:00:00Z", "3"]
    assert cli("ledger", "verify").exit_code == 0


def test_retry_needs_ids_or_all_and_bounds_its_arguments(cli):
    assert cli("events", "retry").exit_code == 2
    assert "--limit" in cli("events", "rejected", "--limit", "0").stderr
    both = cli("events", "retry", "t1", "--all")
    assert both.exit_code == 2 and "--all" in both.stderr


def test_nothing_rejected_is_said_plainly(cli):
    assert cli.settle("joins.jsonl", JOINS).exit_code == 0
    assert cli("events", "rejected").stdout.strip() == "no rejected events"
    done = cli("events", "retry", "--all")
    assert done.exit_code == 0 and "applied 0, already applied 0, rejected 0" in done.stdout
