"""Statements reconcile with the ledger to the fen: opening + commissions + clawbacks − payouts −
withdrawals = closing for every promoter, with each figure matching what the books say through
other readers; on a hand-built month (each movement named) and on a simulated month with payouts,
withdrawals, failed bank lines and refunds after release. Periods parse or say why; statements
export to CSV and Excel; threshold statements come when a balance passes the threshold."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from settlement.bank_batches import apply_results, batch_lines, create_batch
from settlement.errors import InvalidEvent
from settlement.payment_channels import LineResult
from settlement.payouts import list_payouts, run_payouts
from settlement.read_accounts import promoter_balances
from settlement.read_model import commissions
from settlement.reports import verify_ledger
from settlement.statement_export import statements_csv, statements_xlsx
from settlement.statement_periods import last_complete, parse_period
from settlement.statement_store import (
    build_period,
    build_threshold,
    stored_periods,
    stored_statements,
)
from settlement.statements import build_statements, by_promoter
from settlement.withdrawals import (
    WithdrawalStatus,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)
from tests.settlement.helpers import at, settle
from tests.settlement.money_out import card_payee, cipher, rules

MARCH = parse_period("2026-03")


def _owed(conn, promoter_id: str, instant: datetime) -> int:
    """What the balances reader says is owed just before `instant` (pending + available +
    withdrawing; available is already net of clawbacks)."""
    b = promoter_balances(conn, "CNY", [promoter_id], as_of=instant - timedelta(microseconds=1))
    row = b.get(promoter_id)
    return 0 if row is None else row.pending_minor + row.available_minor + row.withdrawing_minor


def test_periods_parse_or_say_why():
    assert (MARCH.start, MARCH.end) == (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z"))
    week = parse_period("2026-W11")
    assert (week.start, week.end) == (at("2026-03-09T00:00:00Z"), at("2026-03-16T00:00:00Z"))
    assert parse_period("2026-12").end == at("2027-01-01T00:00:00Z")
    assert parse_period("2026-03-15").end == at("2026-03-16T00:00:00Z")
    for bad in ("2026-13", "2026-3", "March", "2026-W60", "2026-02-30"):
        with pytest.raises(InvalidEvent, match="period: a period is a month"):
            parse_period(bad)
    now = at("2026-04-02T10:00:00Z")
    assert [last_complete(c, now).label for c in ("daily", "weekly", "monthly")] == [
        "2026-04-01", "2026-W13", "2026-03"]


@pytest.fixture
def month(books, plans, ev):
    """P1's March: two orders (one refunded before release, one after), a payout, a withdrawal
    paid and one failed; P2 only earns (its hold runs into April)."""
    sealer = cipher()
    settle(books, plans, [
        ev.join("2026-02-01T00:00:00Z", "P1"), ev.join("2026-02-01T00:00:00Z", "P2", "P1"),
        ev.touch("2026-02-20T10:00:00Z", "c0", "P1"),  # February: 100.00 opening
        ev.paid("2026-02-20T10:05:00Z", "o0", "c0", ("s", "food", "1000.00")),
        ev.confirmed("2026-02-20T12:00:00Z", "o0"),
        ev.touch("2026-03-02T10:00:00Z", "c1", "P1"),
        ev.paid("2026-03-02T10:05:00Z", "o1", "c1", ("s", "food", "5000.00"),
                ("t", "food", "500.00")),
        ev.refunded("2026-03-03T10:00:00Z", "o1", ("t", "500.00")),  # before release: -50.00
        ev.confirmed("2026-03-04T00:00:00Z", "o1"),
        ev.touch("2026-03-02T10:00:00Z", "c2", "P2"),
        ev.paid("2026-03-28T10:05:00Z", "o2", "c2", ("s", "food", "3000.00")),
    ], as_of="2026-03-12T00:00:00Z")
    settle(books, plans, [ev.refunded("2026-03-13T00:00:00Z", "o1", ("s", "1000.00"))])
    run_payouts(books, plans, at("2026-03-14T00:00:00Z"))  # P1: 100 + 500 - 100 = 500.00
    settle(books, plans, [
        ev.touch("2026-03-14T10:00:00Z", "c3", "P1"),
        ev.paid("2026-03-14T10:05:00Z", "o3", "c3", ("s", "food", "10000.00")),
        ev.confirmed("2026-03-14T12:00:00Z", "o3")], as_of="2026-03-22T00:00:00Z")
    card_payee(books, sealer, "P1", at("2026-03-22T00:00:00Z"))
    for key, amount in (("a", 30_000), ("b", 20_000)):
        w = request_withdrawal(books, rules(), "P1", amount, key, "P1", at("2026-03-23T00:00:00Z"))
        decide_withdrawal(books, w.withdrawal_id, True, "ann", "ok", at("2026-03-23T01:00:00Z"))
    batch = create_batch(books, "CNY", "bank_file", "ann", at("2026-03-24T00:00:00Z")).batch
    assert batch is not None
    with books.connect() as conn:
        lines = {line.source_id: line.line_id for line in batch_lines(conn, batch.batch_id)
                 if line.source == "withdrawal"}
    apply_results(books, [LineResult(batch.batch_id, lines[1], "paid", None),
                          LineResult(batch.batch_id, lines[2], "failed", "closed")],
                  at("2026-03-25T00:00:00Z"))
    return books


def test_a_hand_built_month_names_every_movement(month):
    with month.connect() as conn:
        statements, lines = build_statements(conn, "CNY", MARCH)
    p1 = {s.promoter_id: s for s in statements}["P1"]
    # o1 550.00 less 50.00 refunded before release; o2 150.00 (level 2); o3 1,000.00
    assert (p1.opening_minor, p1.commission_minor) == (10_000, 55_000 - 5_000 + 15_000 + 100_000)
    assert p1.clawback_minor == -10_000  # o1's 1,000.00 refunded after release
    assert (p1.payout_minor, p1.withdrawal_minor) == (50_000, 30_000)  # the failed one is back
    assert p1.closing_minor == 10_000 + 165_000 - 10_000 - 50_000 - 30_000
    assert p1.released_minor == 50_000 + 100_000  # o1 (after the early refund) and o3
    kinds = [(line.kind, line.order_id, line.level, line.amount_minor)
             for line in by_promoter(lines, "P1")]
    assert ("commission", "o1", 1, 55_000) in kinds and ("commission", "o1", 1, -5_000) in kinds
    assert ("clawback", "o1", 1, -10_000) in kinds
    assert ("commission", "o2", 2, 15_000) in kinds  # P1 is P2's parent: level 2 on o2
    assert [k for k in kinds if k[0] == "withdrawal"] == [("withdrawal", None, None, 30_000)]
    p2 = {s.promoter_id: s for s in statements}["P2"]
    assert (p2.opening_minor, p2.commission_minor, p2.closing_minor) == (0, 30_000, 30_000)
    with month.connect() as conn:
        for s in statements:
            assert s.opening_minor == _owed(conn, s.promoter_id, MARCH.start)
            assert s.closing_minor == _owed(conn, s.promoter_id, MARCH.end)


def test_exports_carry_the_exact_amounts(month):
    with month.connect() as conn:
        statements, lines = build_statements(conn, "CNY", MARCH)
    text = statements_csv(statements)
    assert text.splitlines()[0] == ("promoter_id,period,currency,opening,commission,"
                                    "holds_released,clawback,payouts,withdrawals,closing")
    assert "P1,2026-03,CNY,100.00,1650.00,1500.00,-100.00,500.00,300.00,850.00" in text
    book = load_workbook(io.BytesIO(statements_xlsx(statements, lines, "CNY")))
    assert book.sheetnames == ["statements", "lines"]
    rows = list(book["statements"].iter_rows(values_only=True))
    assert rows[1][:4] == ("P1", "2026-03", "CNY", "100.00")
    assert book["lines"].max_row == len(lines) + 1


def test_stored_statements_are_rebuilt_not_duplicated(month):
    build_period(month, "CNY", MARCH, "ann", at("2026-04-01T00:00:00Z"))
    build_period(month, "CNY", MARCH, "bo", at("2026-04-02T00:00:00Z"))
    with month.connect() as conn:
        stored = stored_statements(conn, "2026-03")
    assert [s.promoter_id for s in stored] == ["P1", "P2"]


def test_a_balance_passing_the_threshold_gets_its_statement(month):
    made = build_threshold(month, "CNY", 90_000, at("2026-03-20T00:00:00Z"), "ann")
    assert [(s.promoter_id, s.opening_minor, s.closing_minor) for s in made] == [
        ("P1", 0, 100_000)]  # 100 + 500 + 1,000 earned - 100 clawed back - 500 paid out
    assert build_threshold(month, "CNY", 90_000, at("2026-03-21T00:00:00Z"), "ann") == []
    build_period(month, "CNY", MARCH, "ann", at("2026-04-01T00:00:00Z"))
    with month.connect() as conn:
        assert stored_periods(conn) == ["2026-03"]  # the cycle periods finance picks from
        assert len(stored_statements(conn, promoter_id="P1")) == 2


def _split(events: Path, before: datetime, out: Path) -> tuple[Path, Path]:
    early, late = out / "early.jsonl", out / "late.jsonl"
    with events.open() as source, early.open("w") as a, late.open("w") as b:
        for line in source:
            ts = datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00"))
            (a if ts < before else b).write(line)
    return early, late


@pytest.mark.slow
def test_every_promoter_reconciles_on_a_simulated_month(tmp_path, sqlite_url):
    """February and March of a simulated mall; mid-March a payout run, withdrawals (some paid,
    some failed by the bank); March's statements must reconcile for every promoter."""
    from features.simulator import SimulationConfig, simulate
    from settlement.db import create_db_engine, upgrade
    from settlement.ingest import settle_file
    from settlement.plan import PlanBook, parse_plan_text
    from settlement.plan_store import store_versions

    sim = tmp_path / "sim"
    simulate(sim, SimulationConfig(promoters=300, days=59, seed=11,
                                   start=datetime(2026, 2, 1, tzinfo=UTC)))
    books = create_db_engine(sqlite_url)
    upgrade(books)
    plans = PlanBook(parse_plan_text((sim / "plan.yaml").read_text()))
    with books.begin() as conn:
        store_versions(conn, list(plans.versions))
    mid = at("2026-03-15T00:00:00Z")
    early, late = _split(sim / "events.jsonl", mid, tmp_path)
    settle_file(books, early, 2000, mid)
    run_payouts(books, plans, mid)
    _withdraw_some(books, plans, at("2026-03-16T00:00:00Z"))
    settle_file(books, late, 2000, at("2026-04-01T00:00:00Z"))
    with books.connect() as conn:
        statements, lines = build_statements(conn, "CNY", MARCH)
        assert len(statements) > 100
        for s in statements:  # build_statements checks the identity; these check the figures
            assert s.opening_minor == _owed(conn, s.promoter_id, MARCH.start), s
            assert s.closing_minor == _owed(conn, s.promoter_id, MARCH.end), s
        earned = sum(r.amount_minor for r in commissions(conn, MARCH.end)
                     if MARCH.start <= r.occurred_at < MARCH.end)
        paid_withdrawals = sum(w.amount_minor for w in list_withdrawals(conn)
                               if w.status == WithdrawalStatus.PAID)
        sent_payouts = sum(p.amount_minor for p in list_payouts(conn)
                           if p.status == "paid" and MARCH.start <= p.as_of < MARCH.end)
    assert sum(s.commission_minor + s.clawback_minor for s in statements) == earned
    assert sum(s.withdrawal_minor for s in statements) == paid_withdrawals > 0
    assert sum(s.payout_minor for s in statements) == sent_payouts > 0
    assert any(s.clawback_minor < 0 for s in statements)
    with books.connect() as conn:
        assert verify_ledger(conn) == []


def _withdraw_some(books, plans, when: datetime) -> None:
    """Every fifth promoter with money available asks for half; all approved and sent; the bank
    pays two lines in three and fails the rest."""
    sealer = cipher()
    with books.connect() as conn:
        available = {p: b.available_minor for p, b in promoter_balances(conn, "CNY").items()
                     if b.available_minor >= 2_000}
    for n, (promoter, amount) in enumerate(sorted(available.items())):
        if n % 5:
            continue
        card_payee(books, sealer, promoter, when)
        w = request_withdrawal(books, rules(), promoter, amount // 2, f"k-{promoter}",
                               promoter, when)
        decide_withdrawal(books, w.withdrawal_id, True, "ann", "ok", when)
    batch = create_batch(books, "CNY", "bank_file", "ann", when).batch
    assert batch is not None
    with books.connect() as conn:
        lines = batch_lines(conn, batch.batch_id)
    apply_results(books, [LineResult(batch.batch_id, line.line_id,
                                     "failed" if line.line_id % 3 == 0 else "paid", None)
                          for line in lines], when + timedelta(days=1))
