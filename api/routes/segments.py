"""`/v1/segments`: the segments champion's groups, as the growth team reviews them."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import allow
from api.deps import ModelHealthDep
from api.errors import error_responses
from api.schemas import SegmentsOut
from serving.errors import NoChampion, TrackingUnavailable
from serving.segments import champion_segments

router = APIRouter(prefix="/v1/segments", tags=["segments"], dependencies=[allow("growth")])


@router.get("", responses=error_responses(NoChampion, TrackingUnavailable))
def list_segments(health: ModelHealthDep) -> SegmentsOut:
    """The `fenrun-segments` champion's segments, largest first: stable id, readable name, share
    of the promoters it was trained on and its centre in the features' own units; 404
    `no_champion` before `fenrun train segments` has registered one."""
    return SegmentsOut.of(champion_segments(health))
