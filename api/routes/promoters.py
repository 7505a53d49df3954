"""`/promoters`: a promoter's LTV/CAC and its anomaly flag, from the stored snapshots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from api.deps import PromoterValueDep, RiskDep
from api.errors import error_responses
from api.schemas import PromoterRiskOut, PromoterValueOut
from serving.errors import NoSnapshot, UnknownPromoter

router = APIRouter(prefix="/promoters", tags=["promoters"])
PromoterId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=128)]
AsOf = Annotated[AwareDatetime | None, Query(
    description="the snapshot's as-of instant with its offset (default: the newest snapshot)")]


@router.get("/{promoter_id}/value",
            responses=error_responses(NoSnapshot, UnknownPromoter, validated=True))
def promoter_value(promoter_id: PromoterId, service: PromoterValueDep,
                   as_of: AsOf = None) -> PromoterValueOut:
    """What the customers the promoter acquired are worth against what they cost (LTV/CAC, its
    shrunk value and 5-95 % band), from the newest snapshot or the one of `as_of`."""
    return PromoterValueOut.of(service.report(as_of).promoter(promoter_id))


@router.get("/{promoter_id}/risk",
            responses=error_responses(NoSnapshot, UnknownPromoter, validated=True))
def promoter_risk(promoter_id: PromoterId, service: RiskDep,
                  as_of: AsOf = None) -> PromoterRiskOut:
    """Whether the anomaly champion flagged the promoter (score, rank, why) and the commission
    it had not been paid, from the newest flag list or the one of `as_of`. A payout system asks
    this before paying; `fenrun payouts run` already holds flagged promoters for review."""
    return PromoterRiskOut.of(service.triage(as_of).promoter(promoter_id))
