"""Settings of the promoter lifecycle's people side (applications, invites), from `FENRUN_`
variables, read once at an entry point and passed down. Every limit is bounded."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PeopleSettings(BaseSettings):
    """Limits against farms of fake sign-ups, and what an applicant must have done."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_", extra="ignore")

    # Applications per device id, and per IP address, over the last 24 hours.
    applications_per_device_per_day: int = Field(default=3, ge=1, le=1_000)
    applications_per_ip_per_day: int = Field(default=10, ge=1, le=10_000)
    # Registrations through invite links per device id, and per IP address, over 24 hours.
    registrations_per_device_per_day: int = Field(default=3, ge=1, le=1_000)
    registrations_per_ip_per_day: int = Field(default=20, ge=1, le=10_000)
    # Requirements checked when a reviewer approves: what the applicant bought as a customer
    # (paid minus refunded, in `apply_currency`), and a finished training.
    apply_min_purchase: Decimal = Field(default=Decimal("0"), ge=0, le=Decimal("1000000"))
    apply_currency: str = Field(default="CNY", min_length=3, max_length=3)
    apply_require_training: bool = False
    invite_code_length: int = Field(default=10, ge=8, le=16)
    invite_codes_per_promoter: int = Field(default=20, ge=1, le=1_000)  # active at once
    invite_base_url: str = Field(default="https://mall.example.com/i", max_length=200)
