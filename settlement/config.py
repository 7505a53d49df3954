"""Settings of the settlement core, read from `FENRUN_` variables at an entry point."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from settlement.errors import InvalidEvent
from settlement.money import MAX_AMOUNT_TEXT_CHARS, MAX_LINE_MINOR, parse_amount
from settlement.order_screen import OrderScreen

CAP_VARIABLE = "FENRUN_ORDER_SCREEN_CAP_PER_ORDER"


class SettlementSettings(BaseSettings):
    """Where the books live and how large a write batch is."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    database_url: str = "sqlite:///.fenrun/fenrun.db"
    batch_size: int = Field(default=2000, ge=1, le=50_000)
    # The order-time risk screen (settlement/order_screen.py) of every path that applies events:
    # `FENRUN_ORDER_SCREEN=off` turns it off, `..._SELF_REFERRAL=off` its self-referral rule;
    # `..._CAP_PER_ORDER` holds a promoter's commission on one order above it, an amount in the
    # books' currency ("500.00"), at most a line's limit (settlement/money.py); unset: no cap.
    order_screen: Literal["on", "off"] = "on"
    order_screen_self_referral: Literal["on", "off"] = "on"
    order_screen_cap_per_order: str | None = Field(default=None,
                                                   max_length=MAX_AMOUNT_TEXT_CHARS)

    @field_validator("order_screen_cap_per_order")
    @classmethod
    def _positive_amount(cls, text: str | None) -> str | None:
        """A positive decimal amount; its digits are checked against the currency later."""
        if text is None or not text.strip():
            return None
        try:
            amount = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"{CAP_VARIABLE}: {text!r} is not a decimal amount") from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"{CAP_VARIABLE}: {text!r} must be a positive amount")
        return text.strip()

    def order_screen_for(self, currency: str) -> OrderScreen:
        """The screen these settings ask for, its cap in minor units of the books' `currency`.
        Raises `InvalidEvent` naming the variable when the cap does not fit the currency."""
        cap = None
        if self.order_screen_cap_per_order is not None:
            cap = parse_amount(self.order_screen_cap_per_order, currency, CAP_VARIABLE,
                               MAX_LINE_MINOR)
            if cap <= 0:
                raise InvalidEvent(CAP_VARIABLE, self.order_screen_cap_per_order,
                                   f"below one minor unit of {currency}")
        return OrderScreen(enabled=self.order_screen == "on",
                           self_referral=self.order_screen_self_referral == "on",
                           cap_per_order_minor=cap)


class FinanceSettings(BaseSettings):
    """Rules of money leaving the books: withdrawals, bank files, statements.

    Amounts are decimal strings in the plan's currency, parsed where they are used (the currency
    comes from the plan in force). `FENRUN_WITHDRAWAL_REVIEW_LIMIT`: requests above it wait for a
    reviewer, as does every first request to a new payee.
    """

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    withdrawal_minimum: str = "10.00"
    withdrawal_daily_count: int = Field(default=3, ge=1, le=100)  # per promoter and UTC day
    withdrawal_review_limit: str = "10000.00"
    withdrawal_fee_rate: str = "0"  # of the amount, rounded half-even to the fen
    withdrawal_fee_fixed: str = "0.00"  # added to the rate's part
    statement_cycle: Literal["daily", "weekly", "monthly"] = "monthly"
    statement_threshold: str | None = None  # a balance above it gets a statement of its own
    bank_file_dir: Path = Path(".fenrun/bank")
