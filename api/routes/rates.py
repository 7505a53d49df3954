"""Rate routes: the mall's recommended rate per promoter (served from memory), and the growth
team's suggestions (list, one with its trail, approve, reject), what-if and experiment report.

The recommended rate is a look-up in `serving.rate_advice.RateAdviceStore`, refreshed in the
background when suggestions are stored or decided; everything else reads the books through the
same services as `fenrun rates` (decisions through `settlement.rate_overrides`, recorded with the
calling key's name).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime

from api.auth import Caller, allow, allow_on_loop
from api.deps import BooksDep
from api.errors import error_responses
from api.rates_schemas import (
    ApproveIn,
    DecidedOut,
    ExperimentReportOut,
    RecommendedRateOut,
    RejectIn,
    SuggestionOut,
    SuggestionsOut,
    WhatIfIn,
    WhatIfOut,
)
from serving.config import ServingSettings
from serving.rate_advice import NoSuggestion, RateAdviceStore
from serving.rate_config import RateSettings
from serving.rate_decisions import approve_suggestions, reject_suggestions
from serving.rate_whatif import what_if_report
from settlement import read_model
from settlement.errors import NotFound, PlanError, RateSuggestionError
from settlement.events import MAX_ID_LENGTH
from settlement.rate_suggestions import MAX_LISTED
from settlement.whatif_replay import WhatIfDiverged
from training.ltv.config import MarginSettings
from training.ltv.margin import MarginError
from training.rate_experiment import experiment_report

router = APIRouter(prefix="/v1", tags=["rates"])
PromoterId = Annotated[str, Path(pattern=r"^[\s\S]*\S", min_length=1, max_length=MAX_ID_LENGTH,
                                 description="the promoter's id as the books spell it")]
SuggestionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
GrowthCaller = Annotated[Caller, allow("growth")]
StatusFilter = Annotated[str | None, Query(
    pattern="^(pending|approved|rejected|blocked|auto_approved|superseded|no_change|control)$")]


async def get_rate_advice(request: Request) -> RateAdviceStore:
    store: RateAdviceStore = request.app.state.rate_advice
    return store


RateAdviceDep = Annotated[RateAdviceStore, Depends(get_rate_advice)]


def get_serving_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


@router.get("/promoters/{promoter_id:path}/recommended-rate",
            dependencies=[allow_on_loop("mall", "growth")],
            responses=error_responses(NoSuggestion, validated=True))
async def recommended_rate(promoter_id: PromoterId,
                           store: RateAdviceDep) -> RecommendedRateOut:
    """The level-1 rate the mall should pay this promoter, its status (shadow, pending,
    approved, live), when it takes effect, until when to trust it, the guardrails it went
    through and why. Served from memory; 404 `no_suggestion` when none is stored (keep the
    plan rate). A dictionary look-up on the event loop (async: no thread hop)."""
    return RecommendedRateOut.of(store.advice(promoter_id), store.now())


@router.get("/rates/suggestions", dependencies=[allow("growth")],
            responses=error_responses(validated=True))
def list_suggestions(books: BooksDep, status: StatusFilter = None,
                     promoter_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
                     run_id: Annotated[str | None, Query(max_length=40)] = None,
                     limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100) -> SuggestionsOut:
    """Suggestions, newest first, filtered by status, promoter or run."""
    with books.connect() as conn:
        rows = read_model.list_suggestions(conn, status=status, promoter_id=promoter_id,
                                           run_id=run_id, limit=limit)
    return SuggestionsOut(suggestions=[SuggestionOut.of(row) for row in rows])


@router.get("/rates/suggestions/{suggestion_id}", dependencies=[allow("growth")],
            responses=error_responses(NotFound, validated=True))
def one_suggestion(suggestion_id: SuggestionId, books: BooksDep) -> SuggestionOut:
    """One suggestion with its trail: guardrails, drivers, models, inputs and decision."""
    with books.connect() as conn:
        return SuggestionOut.of(read_model.get_suggestion(conn, suggestion_id))


@router.post("/rates/what-if", dependencies=[allow("growth", "finance")],
             responses=error_responses(PlanError, RateSuggestionError, WhatIfDiverged,
                                       validated=True))
def what_if(body: WhatIfIn, books: BooksDep, request: Request) -> WhatIfOut:
    """Re-settle `from`..`to` in scratch books (never the real ones) under the given rates, or
    the pending suggestions' rates: the commission cost change per segment, merchant, level and
    promoter, exact to the minor unit, beside the model's predicted change."""
    report = what_if_report(books, body.from_, body.to, body.rates,
                            get_serving_settings(request))
    return WhatIfOut.of(report)


@router.post("/rates/suggestions/{suggestion_id}/approve",
             responses=error_responses(NotFound, RateSuggestionError, validated=True))
def approve(suggestion_id: SuggestionId, body: ApproveIn, books: BooksDep,
            caller: GrowthCaller, request: Request) -> DecidedOut:
    """Approve a pending live suggestion: its rate becomes the promoter's override in a new plan
    version from `effective_from` (default and earliest: after the notice period); recorded
    with the key's name and the note. 409 under the kill switch, for a shadow, blocked,
    control or decided suggestion, or one computed from a rate no longer in force."""
    settings: RateSettings = request.app.state.rate_settings
    version, rows = approve_suggestions(books, settings, [suggestion_id], by=caller.name,
                                        note=body.note, effective_from=body.effective_from)
    return DecidedOut(plan_version_id=version, effective_from=rows[0].effective_from,
                      suggestions=[SuggestionOut.of(row) for row in rows])


@router.post("/rates/suggestions/{suggestion_id}/reject",
             responses=error_responses(NotFound, RateSuggestionError, validated=True))
def reject(suggestion_id: SuggestionId, body: RejectIn, books: BooksDep,
           caller: GrowthCaller) -> DecidedOut:
    """Reject a pending suggestion with the reason, recorded with the key's name; nothing
    reaches a plan."""
    rows = reject_suggestions(books, [suggestion_id], by=caller.name, note=body.note)
    return DecidedOut(plan_version_id=None, effective_from=None,
                      suggestions=[SuggestionOut.of(row) for row in rows])


@router.get("/rates/experiment/report", dependencies=[allow("growth", "finance")],
            responses=error_responses(NotFound, PlanError, validated=True))
def experiment(books: BooksDep,
               experiment_id: Annotated[str | None, Query(max_length=40)] = None,
               to: Annotated[AwareDatetime | None, Query(
                   description="end of the measured window (default: the experiment's end, "
                               "else the newest event)")] = None) -> ExperimentReportOut:
    """The newest (or named) experiment: realised treated − control difference in margin, GMV,
    commission (per promoter per cycle) and retention, with Welch t intervals (95 %), beside the
    uplift the suggestions predicted. 404 before any experiment."""
    try:
        margins = MarginSettings().rates()
    except MarginError as error:
        raise PlanError(str(error)) from None
    return ExperimentReportOut.of(experiment_report(books, margins,
                                                    experiment_id=experiment_id, end=to))
