"""Settings of the settlement core, read from `FENRUN_` variables at an entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettlementSettings(BaseSettings):
    """Where the books live and how large a write batch is."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    database_url: str = "sqlite:///.fenrun/fenrun.db"
    batch_size: int = Field(default=2000, ge=1, le=50_000)


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
