"""Stored rate suggestions for the API, dashboard and what-if tests: one run per call, through the
store's own writer (`settlement.rate_suggestions.store_run`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from settlement import rate_suggestions as rs
from settlement import read_model

AT = datetime(2026, 3, 1, tzinfo=UTC)


def suggestion(promoter: str, current: str = "0.10", proposed: str = "0.12", *,
               status: rs.SuggestionStatus = rs.SuggestionStatus.PENDING,
               arm: rs.ExperimentArm | None = None,
               margin: tuple[str, str, str] = ("12.30", "4.10", "20.50"),
               commission: tuple[str, str, str] = ("3.00", "2.00", "4.00"),
               gmv: tuple[str, str, str] = ("40.00", "10.00", "70.00"),
               propensity: float = 0.98) -> rs.NewSuggestion:
    return rs.NewSuggestion(
        promoter_id=promoter, current_rate=Decimal(current), policy_rate=Decimal("0.14"),
        proposed_rate=Decimal(proposed), cadence="standard",
        guardrails=(rs.GuardrailStep("max_step", "clip", proposed, "step above 0.02"),
                    rs.GuardrailStep("budget", "pass", proposed, "within 12.5 % of GMV")),
        input_fingerprint="f" * 64,
        predicted={"margin": rs.PredictedChange(*margin),
                   "commission": rs.PredictedChange(*commission),
                   "gmv": rs.PredictedChange(*gmv)},
        propensity=propensity, reason=rs.AssignmentReason.POLICY,
        explanation="customers worth 3.4x what they cost; sells steadily",
        drivers=(rs.Driver("ltv_cac", "3.4", "customers worth more than they cost"),),
        initial_status=status, arm=arm)


def store(books: Engine, suggestions: list[rs.NewSuggestion], *, at: datetime = AT,
          mode: rs.SuggestionMode = rs.SuggestionMode.LIVE,
          experiment_id: str | None = None) -> list[str]:
    """One live (or shadow) run of `suggestions` as of `at`; returns their ids in order. Runs
    are ordered by their instant, so a run is recorded a second after any earlier one."""
    with books.connect() as conn:
        newest = read_model.suggestion_runs(conn, 1)
    created = max(at, newest[0].created_at + timedelta(seconds=1)) if newest else at
    run = rs.SuggestionRun(as_of=at, created_at=created, mode=mode, kill_switch=False,
                           cold_start=False, model_versions={"fenrun-rate-policy": "3"},
                           summary="test run", created_by="test", experiment_id=experiment_id)
    with books.begin() as conn:
        return rs.store_run(conn, run, suggestions)
