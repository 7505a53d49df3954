"""Settings of rate suggestions (`FENRUN_RATES_*`), read once at an entry point and passed down.

Every value is bounded. Defaults are the safe ones: shadow mode (advice only), no auto-approval,
no control group, kill switch off, a seven-day notice period before any new rate takes effect.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serving.guardrails import GuardrailSettings


class RateSettings(BaseSettings):
    """How `fenrun rates suggest / approve` behave (module doc)."""

    model_config = SettingsConfigDict(env_prefix="FENRUN_RATES_", extra="ignore")

    # shadow: suggestions are stored and served as advice, no plan ever changes; live: approved
    # suggestions become plan overrides.
    mode: Literal["shadow", "live"] = "shadow"
    # Stops everything: a suggest run records that it was stopped and stores nothing; approvals
    # are refused.
    kill_switch: bool = False
    # Share of promoters whose policy choice is moved one ladder step at random (the next model
    # learns from it); the probability of every served rate is recorded.
    exploration_share: float = Field(default=0.02, ge=0.0, le=0.5)
    # With no policy champion: the share of promoters moved one step at random, nobody else.
    cold_start_exploration: float = Field(default=0.05, ge=0.0, le=0.5)
    # Changes the guardrails do not send to a person (|change| <= approval_above) are approved
    # at once in live mode when this is on.
    auto_approve: bool = False
    approval_above: float = Field(default=0.02, ge=0.0, le=1.0)
    # A new rate takes effect no earlier than this long after the decision.
    notice_days: float = Field(default=7.0, ge=0.0, le=365.0)
    # Share of promoters kept on their current rate as the experiment's control group (0: none).
    control_share: float = Field(default=0.0, ge=0.0, lt=1.0)
    # Seed of the control-group draw; None draws one at random (it is recorded either way).
    experiment_seed: int | None = Field(default=None, ge=0, lt=2**63)
    # Ladder used when no champion supplies one (cold start); decimal strings.
    ladder: tuple[str, ...] = ("0.04", "0.06", "0.08", "0.10", "0.12", "0.14", "0.16")
    # Commission (both levels) at most this share of net GMV: the budget guardrail's target.
    budget_share: float = Field(default=0.125, ge=0.01, le=0.5)
    cycle_days: int = Field(default=30, ge=1, le=366)
    history_cycles: int = Field(default=12, ge=1, le=52)
    # Cadence: immediate settlement for grade index >= this with tenure >= the next (cycles),
    # not flagged; standard for everyone else.
    immediate_min_grade: int = Field(default=2, ge=0, le=10)
    immediate_min_tenure: int = Field(default=6, ge=0, le=1000)
    # Guardrail thresholds (serving.guardrails.GuardrailSettings)
    min_orders: int = Field(default=3, ge=0, le=10_000)
    max_relative_width: float = Field(default=2.0, gt=0.0, le=100.0)
    cooldown_cycles: int = Field(default=1, ge=0, le=52)
    max_step: float = Field(default=0.02, ge=0.0, le=1.0)
    floor: float = Field(default=0.04, ge=0.0, le=1.0)
    ceiling: float = Field(default=0.16, ge=0.0, le=1.0)
    compliance_cap: float = Field(default=0.16, ge=0.0, le=1.0)
    max_promoters: int = Field(default=200_000, ge=1, le=200_000)

    @field_validator("ladder")
    @classmethod
    def _increasing(cls, ladder: tuple[str, ...]) -> tuple[str, ...]:
        values = [float(r) for r in ladder]
        if len(values) < 2 or values != sorted(set(values)) or not 0 < values[0] < values[-1] < 1:
            raise ValueError(f"{ladder} must be at least two increasing rates inside (0, 1)")
        return ladder

    def guardrails(self) -> GuardrailSettings:
        return GuardrailSettings(
            kill_switch=self.kill_switch, min_orders=self.min_orders,
            max_relative_width=self.max_relative_width, cooldown_cycles=self.cooldown_cycles,
            max_step=self.max_step, floor=self.floor, ceiling=self.ceiling,
            compliance_cap=self.compliance_cap, approval_above=self.approval_above)
