"""`/promoters`: a promoter's LTV/CAC and its anomaly flag, from the stored snapshots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from api.auth import allow
from api.deps import PromoterValueDep, RiskDep
from api.errors import error_responses
from api.schemas import PromoterRiskOut, PromoterValueOut
from serving.errors import NoAcquiredCustomers, NoSnapshot, UnknownPromoter
from settlement.events import MAX_ID_LENGTH

router = APIRouter(prefix="/v1/promoters", tags=["promoters"])
# Every id the books accept (settlement.events): any script, up to MAX_ID_LENGTH characters, not
# blank. The routes take the id as a `path` parameter so that one holding "/" (sent as %2F) works.
PromoterId = Annotated[str, Path(pattern=r"^[\s\S]*\S", min_length=1, max_length=MAX_ID_LENGTH,
                                 description="the promoter's id as the books spell it")]
AsOf = Annotated[AwareDatetime | None, Query(
    description="an instant with its offset: the newest snapshot at or before it is used "
                "(default: the newest snapshot)")]


@router.get("/{promoter_id:path}/value", dependencies=[allow("growth")],
            responses=error_responses(NoSnapshot, UnknownPromoter, NoAcquiredCustomers,
                                      validated=True))
def promoter_value(promoter_id: PromoterId, service: PromoterValueDep,
                   as_of: AsOf = None) -> PromoterValueOut:
    """What the customers the promoter acquired are worth against what they cost (LTV/CAC, its
    shrunk value and 5-95 % band), from the newest snapshot at or before `as_of` (default: the
    newest). 404 `no_acquired_customers` for a known promoter who brought nobody by then."""
    return PromoterValueOut.of(service.promoter(promoter_id, as_of))


@router.get("/{promoter_id:path}/risk", dependencies=[allow("risk", "finance")],
            responses=error_responses(NoSnapshot, UnknownPromoter, validated=True))
def promoter_risk(promoter_id: PromoterId, service: RiskDep,
                  as_of: AsOf = None) -> PromoterRiskOut:
    """Whether the anomaly champion flagged the promoter (score, rank, why) and the commission
    it had not been paid, from the newest flag list at or before `as_of`. A payout system asks
    this before paying; `fenrun payouts run` keeps back what open risk cases put at risk."""
    return PromoterRiskOut.of(service.triage(as_of).promoter(promoter_id))
