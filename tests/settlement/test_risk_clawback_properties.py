"""Property: on any small mall, confirming a fraud case takes back exactly the commission its
orders credit (as the journal booked it, net of refunds) from every promoter at every level, and
nothing from anyone else; the merchant's risk-recovered account receives exactly that; a second
confirmation changes nothing; and the books still verify."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.db import create_db_engine, upgrade
from settlement.ledger import AccountKind, readable_balance
from settlement.payouts import run_payouts
from settlement.plan import PlanBook, parse_plan_text
from settlement.read_model import account_balances, commissions, promoter_balances
from settlement.reports import verify_ledger
from settlement.risk_actions import confirm_case
from settlement.risk_cases import record_flags
from settlement.risk_domain import RiskFlag
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import at, settle

PLANS = PlanBook(parse_plan_text(DEFAULT_PLAN))
_examples = itertools.count()


@pytest.fixture(scope="module")
def shared_books(tmp_path_factory):
    engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('claw') / 'books.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _scenario(seed: int, prefix: str):
    """A tree of 2-6 promoters, 1-8 orders (one customer each), some confirmed, some partly
    refunded; returns the events, the order ids and who each order was sold through."""
    rng = random.Random(seed)
    ev = EventFactory(prefix)
    promoters = [f"{prefix}P{i}" for i in range(rng.randint(2, 6))]
    events = [ev.join(f"2026-02-01T00:{i:02d}:00Z", p,
                      rng.choice(promoters[:i]) if i and rng.random() < 0.8 else None)
              for i, p in enumerate(promoters)]
    sold_by: dict[str, str] = {}
    for n in range(rng.randint(1, 8)):
        order, customer, promoter = f"{prefix}o{n}", f"{prefix}c{n}", rng.choice(promoters)
        amount = f"{rng.randint(100, 500_000) / 100:.2f}"
        category = rng.choice(["food", "electronics"])
        events += [ev.touch(f"2026-03-02T0{n}:00:00Z", customer, promoter),
                   ev.paid(f"2026-03-02T0{n}:30:00Z", order, customer, ("s", category, amount))]
        if rng.random() < 0.7:
            events.append(ev.confirmed(f"2026-03-0{rng.randint(2, 9)}T10:00:00Z", order))
        if rng.random() < 0.3:
            part = f"{rng.randint(1, int(float(amount) * 100)) / 100:.2f}"
            events.append(ev.refunded(f"2026-03-0{rng.randint(3, 9)}T11:00:00Z", order,
                                      ("s", part)))
        sold_by[order] = promoter
    return events, promoters, sold_by, rng


def _recovered(books) -> int:
    with books.connect() as conn:
        return sum(readable_balance(row.account_kind, row.raw_minor) for row in account_balances(
            conn, kinds=(AccountKind.RISK_RECOVERED.value,)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_confirming_takes_back_exactly_the_fraud_commission(shared_books, seed):
    books, prefix = shared_books, f"x{next(_examples)}-"
    events, promoters, sold_by, rng = _scenario(seed, prefix)
    settle(books, PLANS, events, as_of="2026-03-12T00:00:00Z")
    if rng.random() < 0.6:
        run_payouts(books, PLANS, at("2026-03-12T00:00:00Z"))
    fraud = sorted(rng.sample(sorted(sold_by), rng.randint(1, len(sold_by))))
    with books.connect() as conn:
        before = promoter_balances(conn, "CNY", promoters)
        earned: dict[str, int] = defaultdict(int)  # the journal's paid and refunded postings
        for row in commissions(conn):
            if row.order_id in fraud:
                earned[row.promoter_id] += row.amount_minor
    recovered_before = _recovered(books)
    with books.begin() as conn:
        [case_id] = record_flags(conn, [RiskFlag(sold_by[fraud[0]], "self_referral", "high",
                                                 {"orders": fraud})], at("2026-03-12T01:00:00Z"))
    confirm_case(books, PLANS, case_id, "property")
    with books.connect() as conn:
        after = promoter_balances(conn, "CNY", promoters)
    for promoter in promoters:
        was, now = before.get(promoter), after.get(promoter)
        if earned.get(promoter, 0) == 0:
            assert now == was, promoter  # untouched to the fen
            continue
        total = (now.pending_minor + now.available_minor + now.paid_minor)
        total_before = was.pending_minor + was.available_minor + was.paid_minor
        assert total_before - total == earned[promoter], promoter
        assert now.paid_minor == was.paid_minor  # paid money is clawed back, never unpaid
    assert _recovered(books) - recovered_before == sum(earned.values())
    assert not confirm_case(books, PLANS, case_id, "property").changed
    with books.connect() as conn:
        assert promoter_balances(conn, "CNY", promoters) == after
        assert verify_ledger(conn) == []
