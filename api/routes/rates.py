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

from api.auth import allow, allow_on_loop
from api.deps import BooksDep
from api.errors import error_responses
from api.rates_schemas import (
    RecommendedRateOut,
    SuggestionOut,
    SuggestionsOut,
    WhatIfIn,
    WhatIfOut,
)
from serving.config import ServingSettings
from serving.rate_advice import NoSuggestion, RateAdviceStore
from serving.rate_whatif import what_if_report
from settlement import read_model
from settlement.errors import NotFound, PlanError, RateSuggestionError
from settlement.events import MAX_ID_LENGTH
from settlement.rate_suggestions import MAX_LISTED
from settlement.whatif_replay import WhatIfDiverged

router = APIRouter(prefix="/v1", tags=["rates"])
PromoterId = Annotated[str, Path(pattern=r"^[\s\S]*\S", min_length=1, max_length=MAX_ID_LENGTH,
                                 description="the promoter's id as the books spell it")]
SuggestionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
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
