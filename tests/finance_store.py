"""Books for the Finance page, settled through the real use cases.

P1 earned 20,000.00: its payout (above the review limit) awaits approval and its withdrawal of
15,000.00 waits for a reviewer (above the withdrawal review limit); P2's 200.00 payout was paid
at once; P3's first withdrawal of 100.00 (a new payee) was approved and written to a bank batch,
and the payout run paid it the other 400.00.
March's statements are built and the ledger was verified once, by "test".
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from settlement.bank_batches import create_batch
from settlement.config import FinanceSettings
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_event
from settlement.ledger_checks import verify_and_record
from settlement.payees import add_payee
from settlement.payouts import run_payouts
from settlement.personal_data import DataCipher, generate_key, parse_keys
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.service import apply_events, release_due
from settlement.statement_periods import parse_period
from settlement.statement_store import build_period
from settlement.withdrawals import WithdrawalRules, decide_withdrawal, request_withdrawal
from tests.conftest import DEFAULT_PLAN

WHEN = datetime(2026, 3, 21, 9, tzinfo=UTC)


CARD = "6222021234567890123"  # a bank card number, masked everywhere but the bank file


def earn(n: int, promoter: str, amount: str) -> list[dict[str, object]]:
    """Promoter `promoter` joins, its customer c<n> pays order O<n> of `amount` (food), which
    is confirmed the next day."""
    return [
        {"event_id": f"j{n}", "type": "promoter_joined", "ts": "2026-03-01T00:00:00Z",
         "promoter_id": promoter},
        {"event_id": f"t{n}", "type": "touch", "ts": "2026-03-02T01:00:00Z",
         "customer_id": f"c{n}", "promoter_id": promoter},
        {"event_id": f"o{n}", "type": "order_paid", "ts": "2026-03-02T02:00:00Z",
         "order_id": f"O{n}", "customer_id": f"c{n}", "merchant_id": "m1", "currency": "CNY",
         "lines": [{"sku": "s", "category": "food", "amount": amount}]},
        {"event_id": f"c{n}", "type": "order_confirmed", "ts": "2026-03-03T00:00:00Z",
         "order_id": f"O{n}"},
    ]


def build_finance_books(root: Path) -> dict[str, str]:
    """Write the books under `root`; returns the `FENRUN_` environment the page needs."""
    url = f"sqlite:///{root / 'books.db'}"
    key = generate_key()
    engine = create_db_engine(url)
    upgrade(engine)
    plans = PlanBook(parse_plan_text(DEFAULT_PLAN))
    with engine.begin() as conn:
        store_versions(conn, list(plans.versions))
    events = [parse_event(e) for e in (earn(1, "P1", "200000.00") + earn(2, "P2", "2000.00")
                                       + earn(3, "P3", "5000.00"))]
    apply_events(engine, plans, sorted(events, key=lambda e: e.ts), 100)
    release_due(engine, plans, datetime(2026, 3, 20, tzinfo=UTC))
    cipher = DataCipher(parse_keys(key))
    with engine.begin() as conn:
        add_payee(conn, cipher, "P1", "bank_card", "张三丰", CARD, "ICBC",
                  "test", WHEN)
        add_payee(conn, cipher, "P3", "alipay", "Ada", "ada@example.com", None, "test", WHEN)
    rules = WithdrawalRules.of(FinanceSettings(), "CNY")
    # P3 asks for 100.00 of its 500.00 first; the payout run then pays it the other 400.00
    small = request_withdrawal(engine, rules, "P3", 10_000, "w2", "P3", WHEN)
    decide_withdrawal(engine, small.withdrawal_id, True, "test", "first payee checked", WHEN)
    run_payouts(engine, plans, datetime(2026, 3, 20, tzinfo=UTC))
    request_withdrawal(engine, rules, "P1", 1_500_000, "w1", "P1", WHEN)
    create_batch(engine, "CNY", "bank_file", "test", WHEN)
    build_period(engine, "CNY", parse_period("2026-03"), "test", WHEN)
    verify_and_record(engine, "test", WHEN)
    engine.dispose()
    return {"FENRUN_DATABASE_URL": url, "FENRUN_DATA_KEYS": key}
