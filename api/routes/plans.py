"""`/v1/plans`: the stored commission plan versions (read by growth and finance, stored by
admin), through the same store as `fenrun plan` (`settlement.plan_store`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import allow
from api.books_schemas import PlanIn, PlansOut, PlansStoredOut, PlanVersionOut
from api.deps import BooksDep
from api.errors import error_responses
from settlement.errors import NotFound, PlanError
from settlement.plan import parse_plan_text
from settlement.plan_store import StoredVersion, store_versions, stored_versions

router = APIRouter(prefix="/v1/plans", tags=["plans"])
VersionId = Annotated[str, Path(max_length=32, description="e.g. 2026-01-01T00:00:00Z")]


def _out(stored: StoredVersion, with_document: bool) -> PlanVersionOut:
    v = stored.version
    return PlanVersionOut(version_id=v.version_id, effective_from=v.effective_from,
                          currency=v.currency, content_hash=v.content_hash,
                          recorded_at=stored.recorded_at,
                          document=v.document if with_document else None)


@router.get("", dependencies=[allow("growth", "finance")])
def list_plans(books: BooksDep) -> PlansOut:
    """Every stored version, oldest `effective_from` first (rules left out; see one by id)."""
    with books.connect() as conn:
        return PlansOut(plans=[_out(s, False) for s in stored_versions(conn)])


@router.get("/{version_id}", dependencies=[allow("growth", "finance")],
            responses=error_responses(NotFound, validated=True))
def show_plan(version_id: VersionId, books: BooksDep) -> PlanVersionOut:
    """One version with its rules as written (rates as decimal strings)."""
    with books.connect() as conn:
        for stored in stored_versions(conn):
            if stored.version.version_id == version_id:
                return _out(stored, True)
    raise NotFound(f"version_id: no plan version {version_id!r}")


@router.post("", dependencies=[allow("admin")],
             responses=error_responses(PlanError, validated=True))
def store_plan(body: PlanIn, books: BooksDep) -> PlansStoredOut:
    """Store the versions of a plan YAML (as `fenrun plan apply`); a version already stored
    with the same content is kept, one reaching back over settled events is refused (422)."""
    versions = parse_plan_text(body.yaml)
    with books.begin() as conn:
        return PlansStoredOut(stored=store_versions(conn, versions))
