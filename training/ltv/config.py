"""Settings of the LTV models (`FENRUN_LTV_`) and of the mall's margins (`FENRUN_MARGIN_`),
read once at an entry point."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from settlement.errors import PlanError
from settlement.money import parse_rate
from training.ltv.margin import MAX_CATEGORIES, MAX_RATE_DENOMINATOR, MarginError, MarginRates

DEFAULT_MARGIN_RATE = "0.25"


class LtvSettings(BaseSettings):
    """Horizon of the value forecast, the currency modelled (default: the most common) and the
    mall's promotion calendar file (`training.ltv.calendar`; default none: stationary level)."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_LTV_", extra="ignore")

    horizon_days: int = Field(default=90, ge=1, le=730)
    currency: str | None = None
    calendar: Path | None = None


class MarginSettings(BaseSettings):
    """The mall's gross margin per category, as decimal strings (`training.ltv.margin`): a default
    (`FENRUN_MARGIN_DEFAULT_RATE`, 25 %) and overrides as JSON
    (`FENRUN_MARGIN_CATEGORIES='{"beauty": "0.40", "digital": "0.08"}'`)."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_MARGIN_", extra="ignore")

    default_rate: str = DEFAULT_MARGIN_RATE
    categories: dict[str, str] = Field(default_factory=dict)

    def rates(self) -> MarginRates:
        """The exact rates; `MarginError` naming the variable (and category) of a bad value."""
        if len(self.categories) > MAX_CATEGORIES:
            raise MarginError(f"FENRUN_MARGIN_CATEGORIES: {len(self.categories)} categories, "
                              f"at most {MAX_CATEGORIES}")
        default = _rate(self.default_rate, "FENRUN_MARGIN_DEFAULT_RATE")
        return MarginRates(default, {
            name: _rate(text, f"FENRUN_MARGIN_CATEGORIES[{name!r}]")
            for name, text in self.categories.items()})


def _rate(text: str, field: str) -> Fraction:
    """One rate, exact; at most six decimal places (`margin.MAX_RATE_DENOMINATOR`)."""
    try:
        rate = parse_rate(text, field)
    except PlanError as error:
        raise MarginError(str(error)) from None
    if rate.denominator > MAX_RATE_DENOMINATOR:
        raise MarginError(f"{field}: {text!r} has more than six decimal places")
    return rate
