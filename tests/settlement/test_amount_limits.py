"""Every amount has a stated limit: a line, an order and a balance beyond it are rejected, naming
the field, on every way in (settle, import-orders, parsing), and the books stay readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.cli import app
from api.commands.import_orders import register as register_import
from settlement import state
from settlement.engine import APPLIED, REJECTED
from settlement.errors import InvalidEvent
from settlement.events import parse_event
from settlement.money import (
    MAX_BALANCE_MINOR,
    MAX_LINE_MINOR,
    MAX_ORDER_MINOR,
    format_amount,
    parse_amount,
)
from settlement.plan import PlanBook
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import assert_books_verified, balances, settle

HUGE = "90000000000000000.00"  # 9e18 fen: two of them overflow a BIGINT balance


def _paid(order: str, *amounts: str, event_id: str | None = None) -> dict:
    return {"event_id": event_id or f"paid-{order}", "type": "order_paid",
            "ts": "2026-03-02T10:00:00Z", "order_id": order, "customer_id": "c1",
            "merchant_id": "m1", "currency": "CNY",
            "lines": [{"sku": f"s{i}", "category": "food", "amount": a}
                      for i, a in enumerate(amounts)]}


def test_limits_leave_headroom_under_a_bigint() -> None:
    assert MAX_LINE_MINOR <= MAX_ORDER_MINOR < MAX_BALANCE_MINOR
    assert MAX_BALANCE_MINOR * 90 < 2**63 - 1  # reports may add a few balances together


def test_a_line_above_the_limit_is_rejected_naming_the_field() -> None:
    assert parse_amount(format_amount(MAX_LINE_MINOR, "CNY"), "CNY") == MAX_LINE_MINOR
    with pytest.raises(InvalidEvent) as caught:
        parse_event(_paid("o1", "1.00", format_amount(MAX_LINE_MINOR + 1, "CNY")))
    assert caught.value.field == "lines[1].amount"
    assert "at most 10000000000.00" in str(caught.value)


def test_an_order_total_above_the_limit_is_rejected_naming_the_field() -> None:
    line = format_amount(MAX_LINE_MINOR, "CNY")
    parse_event(_paid("o1", *[line] * (MAX_ORDER_MINOR // MAX_LINE_MINOR)))
    with pytest.raises(InvalidEvent) as caught:
        parse_event(_paid("o1", *[line] * (MAX_ORDER_MINOR // MAX_LINE_MINOR), "0.01"))
    assert caught.value.field == "lines"
    assert "order total" in str(caught.value)


@pytest.mark.parametrize("text", ["9" * 5000, "1" + "0" * 40 + ".00", "1." + "0" * 5000])
def test_absurdly_long_amounts_are_an_invalid_event_not_a_crash(text: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_amount(text, "CNY", "lines[0].amount")
    assert caught.value.field == "lines[0].amount"


def test_refund_amounts_have_the_same_limit() -> None:
    event = {"event_id": "r", "type": "order_refunded", "ts": "2026-03-03T00:00:00Z",
             "order_id": "o1", "lines": [{"sku": "s0", "amount": "9" * 5000}]}
    with pytest.raises(InvalidEvent) as caught:
        parse_event(event)
    assert caught.value.field == "lines[0].amount"


def test_an_event_that_would_take_the_books_beyond_the_balance_limit_is_rejected(
        books: Engine, plans: PlanBook, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bound needs 10^4 maximal orders; a smaller bound shows the same rule.
    monkeypatch.setattr(state, "MAX_BALANCE_MINOR", 250_000)
    ev = EventFactory()
    first = [ev.paid("2026-03-02T10:00:00Z", "o1", "c1", ("a", "food", "1000.00")),
             ev.paid("2026-03-02T10:01:00Z", "o2", "c1", ("a", "food", "1000.00"))]
    assert [o.status for o in settle(books, plans, first)] == [APPLIED, APPLIED]
    # A later batch starts from the stored balance, and in-batch orders count too.
    later = [ev.paid("2026-03-02T11:00:00Z", "o3", "c1", ("a", "food", "400.00")),
             ev.paid("2026-03-02T11:01:00Z", "o4", "c1", ("a", "food", "200.00")),
             ev.paid("2026-03-02T11:02:00Z", "o5", "c1", ("a", "food", "100.00"))]
    outcomes = settle(books, plans, later)
    assert [o.status for o in outcomes] == [APPLIED, REJECTED, APPLIED]
    assert "beyond the limit of 2500.00 CNY" in (outcomes[1].reason or "")
    assert balances(books)["merchants"]["m1"]["payable"] == "2375.00"
    assert_books_verified(books)


# Through the CLI, on SQLite and PostgreSQL ------------------------------------------------------

@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", db_url)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    runner = CliRunner()

    def run(*args: object, command: typer.Typer = app):
        return runner.invoke(command, [str(a) for a in args], catch_exceptions=False)

    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def test_settle_rejects_huge_amounts_and_the_books_stay_readable(cli) -> None:
    events = cli.tmp / "e.jsonl"
    events.write_text("\n".join(json.dumps(_paid(o, HUGE)) for o in ("o1", "o2")) + "\n")
    result = cli("settle", events, "--plan", cli.tmp / "plan.yaml")
    assert result.exit_code == 1
    assert f"{events}:1: lines[0].amount: at most 10000000000.00 CNY" in result.stderr
    assert f"{events}:2: lines[0].amount" in result.stderr
    document = json.loads(cli("balances", "--format", "json").output)
    assert document["merchants"] == {}
    verified = cli("ledger", "verify")
    assert verified.exit_code == 0, verified.output


def test_import_orders_rejects_huge_amounts_naming_the_column(cli) -> None:
    command = typer.Typer()
    command.callback()(lambda: None)
    register_import(command)
    assert cli("plan", "apply", cli.tmp / "plan.yaml").exit_code == 0
    orders = cli.tmp / "orders.csv"
    orders.write_text("order_id,customer_id,ts,amount,promoter_id,merchant_id,category\n"
                      f"o1,c1,2026-02-01T10:00:00Z,{HUGE},pA,m1,food\n"
                      f"o2,c1,2026-02-01T11:00:00Z,{HUGE},pA,m1,food\n")
    result = cli("import-orders", orders, command=command)
    assert result.exit_code == 1
    assert f"{orders}:2: amount: at most 10000000000.00 CNY" in result.stderr
    assert "nothing was imported" in result.stderr
    assert cli("ledger", "verify").exit_code == 0
