"""Helpers the money-out tests share: a promoter with money available, a payee, fixed rules."""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import Engine

from settlement.config import FinanceSettings
from settlement.payees import Payee, add_payee
from settlement.personal_data import DataCipher
from settlement.plan import PlanBook
from settlement.read_accounts import PromoterBalance, promoter_balances
from settlement.withdrawals import WithdrawalRules
from tests.settlement.helpers import at, settle

CARD = "6222021234567890123"


def cipher() -> DataCipher:
    return DataCipher([os.urandom(32)])


def rules(**overrides: str | int) -> WithdrawalRules:
    settings = FinanceSettings(**{"withdrawal_minimum": "10.00", "withdrawal_daily_count": 3,
                                  "withdrawal_review_limit": "10000.00",
                                  "withdrawal_fee_rate": "0.001",
                                  "withdrawal_fee_fixed": "1.00", **overrides})
    return WithdrawalRules.of(settings, "CNY")


def earn_available(books: Engine, plans: PlanBook, ev, promoter_id: str, amount: str,
                   day: int = 2) -> None:
    """`promoter_id` joins and earns 10% of `amount`, released by March 20."""
    order, customer = f"o-{promoter_id}-{day}", f"c-{promoter_id}-{day}"
    settle(books, plans, [
        ev.join("2026-03-01T00:00:00Z", promoter_id),
        ev.touch(f"2026-03-{day:02d}T10:00:00Z", customer, promoter_id),
        ev.paid(f"2026-03-{day:02d}T10:05:00Z", order, customer, ("sku", "food", amount)),
        ev.confirmed(f"2026-03-{day:02d}T12:00:00Z", order)], as_of="2026-03-20T00:00:00Z")


def card_payee(books: Engine, sealer: DataCipher, promoter_id: str,
               when: datetime | None = None) -> Payee:
    with books.begin() as conn:
        return add_payee(conn, sealer, promoter_id, "bank_card", "张三丰", CARD, "ICBC",
                         "test", when or at("2026-03-20T00:00:00Z"))


def balance(books: Engine, promoter_id: str) -> PromoterBalance:
    with books.connect() as conn:
        return promoter_balances(conn, "CNY", [promoter_id])[promoter_id]
