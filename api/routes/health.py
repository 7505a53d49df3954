"""`GET /health`: the process is up (liveness); it reads nothing."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> HealthOut:
    return HealthOut()
