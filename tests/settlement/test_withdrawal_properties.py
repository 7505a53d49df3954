"""Property: whatever a promoter requests and reviewers and the bank decide, withdrawals never make
the available balance negative, and money is conserved: available + withdrawing + paid + the fees
the platform kept always equals what the promoter earned; and the books verify."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from settlement.bank_batches import apply_results, batch_lines, create_batch
from settlement.db import create_db_engine, upgrade
from settlement.errors import WithdrawalRefused
from settlement.payment_channels import LineResult
from settlement.plan import PlanBook, parse_plan_text
from settlement.reports import verify_ledger
from settlement.withdrawals import (
    Withdrawal,
    WithdrawalStatus,
    decide_withdrawal,
    list_withdrawals,
    request_withdrawal,
)
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import at
from tests.settlement.money_out import balance, card_payee, cipher, earn_available, rules

EARNED_MINOR = 500_000  # 10% of a 50,000.00 order
WHEN = at("2026-03-21T09:00:00Z")
_promoters = itertools.count(1)

# One request each: its amount (some above what is left), the reviewer's decision if it waits,
# and the bank's verdict if it is sent.
PLAN = st.tuples(st.integers(min_value=1, max_value=300_000),
                 st.sampled_from(["approve", "reject", "leave"]),
                 st.sampled_from(["paid", "failed", "none"]))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'b.db'}")
    upgrade(engine)
    yield engine, PlanBook(parse_plan_text(DEFAULT_PLAN)), cipher()
    engine.dispose()


def _check(books, promoter: str) -> None:
    now = balance(books, promoter)
    with books.connect() as conn:
        fees = sum(w.fee_minor for w in list_withdrawals(conn, promoter_id=promoter)
                   if w.status == WithdrawalStatus.PAID)
    assert now.available_minor >= 0 and now.withdrawing_minor >= 0
    assert now.available_minor + now.withdrawing_minor + now.paid_minor + fees == EARNED_MINOR


def _bank(books, w: Withdrawal, verdict: str) -> None:
    with books.connect() as conn:
        [line] = [line for line in batch_lines(conn, w.batch_id or "")
                  if line.source == "withdrawal" and line.source_id == w.withdrawal_id]
    apply_results(books, [LineResult(line.batch_id, line.line_id, verdict, None)], WHEN)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(PLAN, min_size=1, max_size=6), low_limit=st.booleans())
def test_withdrawals_conserve_money_and_never_overdraw(shared, plans, low_limit):
    books, plan_book, sealer = shared
    promoter = f"P{next(_promoters)}"
    earn_available(books, plan_book, EventFactory(prefix=f"{promoter}-"), promoter, "50000.00")
    card_payee(books, sealer, promoter)
    rule = rules(withdrawal_daily_count=100,
                 withdrawal_review_limit="500.00" if low_limit else "10000.00")
    made: dict[int, tuple[str, str]] = {}
    for number, (amount, decision, verdict) in enumerate(plans):
        try:
            w = request_withdrawal(books, rule, promoter, amount, f"{promoter}-{number}",
                                   promoter, WHEN)
            made[w.withdrawal_id] = (decision, verdict)
        except WithdrawalRefused:
            event("a request was refused")
        _check(books, promoter)
    for withdrawal_id, (decision, _) in made.items():
        if decision != "leave":
            decide_withdrawal(books, withdrawal_id, decision == "approve", "prop", "why", WHEN)
            _check(books, promoter)
    create_batch(books, "CNY", "bank_file", "prop", WHEN)
    with books.connect() as conn:
        sent = [w for w in list_withdrawals(conn, promoter_id=promoter) if w.batch_id]
    for w in sent:
        verdict = made[w.withdrawal_id][1]
        if verdict != "none":
            _bank(books, w, verdict)
            _check(books, promoter)
    with books.connect() as conn:
        assert verify_ledger(conn) == []
        for w in list_withdrawals(conn, promoter_id=promoter):
            event(f"reached {w.status}")
