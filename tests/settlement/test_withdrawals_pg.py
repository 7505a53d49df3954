"""Racing on PostgreSQL: eight withdrawal requests at once that together ask for more than the
promoter has reserve no more than it has; a request retried concurrently with its own key is
reserved once; a payout run racing the requests never pays what a withdrawal reserved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from settlement.db import create_db_engine, upgrade
from settlement.errors import WithdrawalRefused
from settlement.payouts import run_payouts
from settlement.withdrawals import list_withdrawals, request_withdrawal
from tests.settlement.helpers import assert_books_verified, at
from tests.settlement.money_out import balance, card_payee, cipher, earn_available, rules

pytestmark = pytest.mark.integration
WHEN = at("2026-03-21T09:00:00Z")


@pytest.fixture
def pg_books(postgres_url, plans, ev):
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    earn_available(engine, plans, ev, "P1", "50000.00")  # 5,000.00 available
    card_payee(engine, cipher(), "P1")
    yield engine
    engine.dispose()


def _ask(engine, key: str, amount: int):
    try:
        return request_withdrawal(engine, rules(withdrawal_daily_count=100), "P1", amount, key,
                                  "P1", WHEN)
    except WithdrawalRefused as refused:
        return refused


def test_racing_requests_never_reserve_more_than_is_available(pg_books):
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: _ask(pg_books, f"k{n}", 150_000), range(8)))
    made = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(made) == 3  # 3 x 1,500.00 fit in 5,000.00; the rest are refused by name
    assert all("has available" in str(o) for o in outcomes if isinstance(o, Exception))
    after = balance(pg_books, "P1")
    assert (after.available_minor, after.withdrawing_minor) == (50_000, 450_000)
    assert_books_verified(pg_books)


def test_one_request_retried_at_once_is_reserved_once(pg_books):
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda _: _ask(pg_books, "same", 100_000), range(6)))
    assert len({o.withdrawal_id for o in outcomes}) == 1
    with pg_books.connect() as conn:
        assert len(list_withdrawals(conn)) == 1
    assert balance(pg_books, "P1").withdrawing_minor == 100_000
    assert_books_verified(pg_books)


def test_a_payout_run_racing_requests_pays_only_what_is_not_reserved(pg_books, plans):
    def payout():
        return run_payouts(pg_books, plans, at("2026-03-21T09:00:00Z"))

    with ThreadPoolExecutor(max_workers=5) as pool:
        jobs = [pool.submit(_ask, pg_books, f"k{n}", 100_000) for n in range(4)]
        jobs.append(pool.submit(payout))
        [job.result() for job in jobs]
    after = balance(pg_books, "P1")
    assert after.available_minor >= 0
    assert after.available_minor + after.withdrawing_minor + after.paid_minor == 500_000
    assert_books_verified(pg_books)
