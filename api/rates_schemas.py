"""Request and response bodies of the rate routes: the mall's recommended rate, the growth team's
suggestions, decisions, what-if and experiment report. Rates and amounts are decimal strings."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from serving.rate_advice import RateAdvice
from serving.rate_whatif import WhatIfReport
from settlement.money import format_amount
from settlement.rate_suggestions import GuardrailStep, SuggestionRow
from settlement.whatif import CostLine
from training.rate_experiment import ExperimentReport

Rate = str  # a decimal string between 0 and 1 ("0.12"), never a float
AdviceStatus = Literal["shadow", "pending", "approved", "live"]
MAX_WHATIF_RATES = 10_000  # promoters one HTTP what-if names


class GuardrailOut(BaseModel):
    """One guardrail's verdict on the proposed rate: pass, clip, block or needs_approval."""

    name: str
    outcome: str
    rate_after: Rate
    detail: str

    @classmethod
    def of(cls, step: GuardrailStep) -> GuardrailOut:
        return cls(name=step.name, outcome=step.outcome, rate_after=step.rate_after,
                   detail=step.detail)


class RecommendedRateOut(BaseModel):
    """The rate the mall should pay the promoter (level-1 base rate), and why."""

    promoter_id: str
    current_rate: Rate
    recommended_rate: Rate
    cadence: str = Field(description="settlement cadence: immediate or standard")
    status: AdviceStatus
    effective_from: datetime | None = Field(description="when an approved rate takes effect")
    valid_until: datetime = Field(description="ask again after this instant")
    model_versions: dict[str, str]
    guardrails: list[GuardrailOut]
    explanation: str
    propensity: float = Field(ge=0.0, le=1.0, description="probability this rate was chosen")

    @classmethod
    def of(cls, advice: RateAdvice, now: datetime) -> RecommendedRateOut:
        return cls(promoter_id=advice.promoter_id, current_rate=advice.current_rate,
                   recommended_rate=advice.recommended_rate, cadence=advice.cadence,
                   status=advice.status(now), effective_from=advice.effective_from,  # type: ignore[arg-type]
                   valid_until=advice.valid_until, model_versions=dict(advice.model_versions),
                   guardrails=[GuardrailOut.of(g) for g in advice.guardrails],
                   explanation=advice.explanation, propensity=advice.propensity)


class PredictedOut(BaseModel):
    """A predicted change per cycle in the currency's major unit, with its interval."""

    delta: str
    low: str
    high: str


class DriverOut(BaseModel):
    name: str
    value: str
    detail: str


class SuggestionOut(BaseModel):
    """A stored suggestion with its trail: the guardrails it went through, what drove it, the
    models and inputs behind it, and the decision taken on it (who, when, why)."""

    suggestion_id: str
    run_id: str
    promoter_id: str
    as_of: datetime
    created_at: datetime
    status: str
    mode: str
    current_rate: Rate
    policy_rate: Rate
    proposed_rate: Rate
    cadence: str
    guardrails: list[GuardrailOut]
    drivers: list[DriverOut]
    predicted: dict[str, PredictedOut]
    explanation: str
    propensity: float
    reason: str
    arm: str | None
    experiment_id: str | None
    model_versions: dict[str, str]
    input_fingerprint: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    effective_from: datetime | None
    plan_version_id: str | None

    @classmethod
    def of(cls, row: SuggestionRow) -> SuggestionOut:
        return cls(
            suggestion_id=row.suggestion_id, run_id=row.run_id, promoter_id=row.promoter_id,
            as_of=row.as_of, created_at=row.created_at, status=row.status, mode=row.mode,
            current_rate=row.current_rate, policy_rate=row.policy_rate,
            proposed_rate=row.proposed_rate, cadence=row.cadence,
            guardrails=[GuardrailOut.of(g) for g in row.guardrails],
            drivers=[DriverOut(name=d.name, value=d.value, detail=d.detail) for d in row.drivers],
            predicted={k: PredictedOut(delta=v.delta, low=v.low, high=v.high)
                       for k, v in row.predicted.items()},
            explanation=row.explanation, propensity=row.propensity, reason=row.reason,
            arm=row.arm, experiment_id=row.experiment_id,
            model_versions=dict(row.model_versions), input_fingerprint=row.input_fingerprint,
            decided_by=row.decided_by, decided_at=row.decided_at, note=row.note,
            effective_from=row.effective_from, plan_version_id=row.plan_version_id)


class SuggestionsOut(BaseModel):
    suggestions: list[SuggestionOut]


class ApproveIn(BaseModel):
    """Approve: the rate becomes a promoter override in a new plan version from `effective_from`
    (default: the earliest the notice period allows); recorded with the key's name."""

    effective_from: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=2000)


class RejectIn(BaseModel):
    """Reject: why, in words (recorded with the key's name)."""

    note: str = Field(min_length=1, max_length=2000)


class WhatIfIn(BaseModel):
    """Re-settle `from`..`to` under `rates` (promoter -> level-1 rate), or under the pending
    suggestions' proposed rates when `rates` is null."""

    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    rates: dict[str, str] | None = Field(default=None, max_length=MAX_WHATIF_RATES)

    model_config = {"populate_by_name": True}


class CostLineOut(BaseModel):
    """Commission booked in the window: in the books, under the scenario, and the change."""

    key: str
    baseline: str
    scenario: str
    change: str

    @classmethod
    def of(cls, line: CostLine, currency: str) -> CostLineOut:
        def text(minor: int) -> str:
            return ("-" if minor < 0 else "") + format_amount(abs(minor), currency)

        return cls(key=line.key, baseline=text(line.baseline_minor),
                   scenario=text(line.scenario_minor), change=text(line.change_minor))


class WhatIfOut(BaseModel):
    """The commission cost change of the window, exact to the minor unit (lines largest change
    first, at most 100 each), beside the change in behaviour the model predicted for the same
    promoters (per cycle, summed over them, interval ends summed: a conservative band)."""

    currency: str
    from_: datetime = Field(alias="from")
    to: datetime
    source: str = Field(description="pending suggestions, or given rates")
    promoters: int = Field(description="promoters re-rated")
    total: CostLineOut
    by_segment: list[CostLineOut]
    by_merchant: list[CostLineOut]
    by_level: list[CostLineOut]
    by_promoter: list[CostLineOut]
    predicted: dict[str, PredictedOut]
    suggestions: int = Field(description="stored suggestions the prediction sums")

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, report: WhatIfReport, top: int = 100) -> WhatIfOut:
        change = report.change

        def lines(found: tuple[CostLine, ...]) -> list[CostLineOut]:
            return [CostLineOut.of(line, change.currency) for line in found[:top]]

        return cls(currency=change.currency, **{"from": change.start}, to=change.end,
                   source=report.source, promoters=len(change.rates),
                   total=CostLineOut.of(change.total, change.currency),
                   by_segment=lines(change.by_segment), by_merchant=lines(change.by_merchant),
                   by_level=lines(change.by_level), by_promoter=lines(change.by_promoter),
                   predicted={k: PredictedOut(delta=d, low=lo, high=hi)
                              for k, (d, lo, hi) in report.predicted.items()},
                   suggestions=report.suggestions)




class DecidedOut(BaseModel):
    """The suggestions decided, and for an approval the plan version that carries them."""

    plan_version_id: str | None
    effective_from: datetime | None
    suggestions: list[SuggestionOut]


class ComparisonOut(BaseModel):
    """Treated − control on one metric per promoter per cycle (retention: a share), its
    interval (null below two members a group) and the mean predicted change per treated."""

    metric: str
    treated_mean: float | None
    control_mean: float | None
    difference: float | None
    low: float | None
    high: float | None
    predicted: PredictedOut | None


class ExperimentReportOut(BaseModel):
    experiment_id: str
    start: datetime
    end: datetime
    currency: str
    treated: int
    control: int
    cycle_days: int
    method: str
    comparisons: list[ComparisonOut]
    note: str

    @classmethod
    def of(cls, report: ExperimentReport) -> ExperimentReportOut:
        def num(value: float | None) -> float | None:
            return None if value is None or math.isnan(value) else value

        return cls(
            experiment_id=report.experiment_id, start=report.start, end=report.end,
            currency=report.currency, treated=report.treated, control=report.control,
            cycle_days=report.cycle_days, method=report.method, note=report.note,
            comparisons=[ComparisonOut(
                metric=c.metric, treated_mean=num(c.treated_mean),
                control_mean=num(c.control_mean), difference=num(c.difference),
                low=num(c.low), high=num(c.high),
                predicted=None if c.predicted is None else PredictedOut(
                    delta=f"{c.predicted[0]:.2f}", low=f"{c.predicted[1]:.2f}",
                    high=f"{c.predicted[2]:.2f}"))
                for c in report.comparisons])
