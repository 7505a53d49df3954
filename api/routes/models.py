"""`/models`: the registered models, their champion and their latest drift check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import allow
from api.deps import ModelHealthDep
from api.errors import error_responses
from api.schemas import DriftOut, ModelOut, ModelsOut
from serving.errors import NoDriftCheck, TrackingUnavailable, UnknownModel

router = APIRouter(prefix="/v1/models", tags=["models"],
                   dependencies=[allow("growth", "risk")])
# A model name as the registry spells it (`segments` or `fenrun-segments`); bounded and plain.
ModelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]


@router.get("", responses=error_responses(TrackingUnavailable))
def list_models(service: ModelHealthDep) -> ModelsOut:
    """Every registered `fenrun-*` model with its champion version and drift status."""
    return ModelsOut(models=[ModelOut.of(m) for m in service.models()])


@router.get("/{name}/drift",
            responses=error_responses(UnknownModel, NoDriftCheck, TrackingUnavailable,
                                      validated=True))
def latest_drift(name: ModelName, service: ModelHealthDep) -> DriftOut:
    """The model's latest drift check; 404 for an unknown model or one never checked."""
    return DriftOut.of(service.latest_drift(name))
