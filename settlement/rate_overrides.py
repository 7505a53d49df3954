"""Approved rate suggestions become promoter-level overrides in a new plan version.

How money is kept safe:
- an approval names the instant the new rate takes effect, never before the notice period
  (`notice`) after the decision, and never at or before a payment already settled (the plan
  store refuses a version reaching back over settled events);
- the new version is the version in force at that instant with `promoter_overrides` merged in,
  so an order is settled by the version in force when it was paid and re-settling history gives
  the same result; a stored version that starts later would not carry the override, so such an
  approval is refused rather than silently undone;
- a suggestion is applied only while its promoter's rate in force at that instant is still the
  rate it was computed from (no approving a stale suggestion over a newer change);
- one transaction writes the version, the decision of each suggestion and its rate assignment
  (the served-rate log, with the suggestion's propensity and reason), or none of them.
Shadow, blocked, control, rejected and superseded suggestions never reach this far
(`rate_suggestions.decide` refuses them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection

from settlement import rate_suggestions as rs
from settlement.errors import PlanError, RateSuggestionError
from settlement.plan import build_version
from settlement.plan_store import load_plan_book, store_versions

MAX_APPROVED_AT_ONCE = 10_000


@dataclass(frozen=True, slots=True)
class Level1Rates:
    """The level-1 rate of every promoter in force at an instant: the plan's, or its override."""

    version_id: str
    currency: str
    plan_rate: Decimal
    overrides: dict[str, Decimal]
    # categories with their own `levels`: an override does not reach their sales
    own_level_categories: frozenset[str] = frozenset()

    def of(self, promoter_id: str) -> Decimal:
        return self.overrides.get(promoter_id, self.plan_rate)


def level1_rates(conn: Connection, at: datetime) -> Level1Rates:
    """Level-1 rates in force at `at` (categories with their own levels aside)."""
    version = load_plan_book(conn).version_at(at)
    document = version.document
    overrides = {p: Decimal(r) for p, r in (document.get("promoter_overrides") or {}).items()}
    own = frozenset(name for name, category in (document.get("categories") or {}).items()
                    if category.get("levels") is not None)
    return Level1Rates(version.version_id, version.currency, Decimal(document["levels"][0]),
                       overrides, own)


def publish_overrides(conn: Connection, overrides: dict[str, Decimal],
                      effective_from: datetime) -> str:
    """Store a new version: the one in force at `effective_from` plus these overrides."""
    book = load_plan_book(conn)
    later = [v.version_id for v in book.versions if v.effective_from > effective_from]
    if later:
        raise RateSuggestionError(
            f"effective_from: plan version {later[0]} starts after {effective_from.isoformat()} "
            "and would not carry the new rate; choose an instant after it")
    base = book.version_at(effective_from)
    if base.effective_from == effective_from:
        raise RateSuggestionError(
            f"effective_from: a plan version already starts at {effective_from.isoformat()}; "
            "published versions never change, choose another instant")
    document = dict(base.document)
    merged = dict(document.get("promoter_overrides") or {})
    merged.update({p: rs.rate_text(r) for p, r in overrides.items()})
    document["promoter_overrides"] = dict(sorted(merged.items()))
    document["effective_from"] = effective_from.isoformat()
    version = build_version(document)
    try:
        store_versions(conn, [version])
    except PlanError as error:
        raise RateSuggestionError(str(error)) from None
    return version.version_id


def earliest_effective(decided_at: datetime, notice: timedelta) -> datetime:
    return decided_at + notice


def approve(conn: Connection, suggestion_ids: Sequence[str], *, effective_from: datetime,
            decided_by: str, decided_at: datetime, notice: timedelta, note: str | None = None,
            status: rs.SuggestionStatus = rs.SuggestionStatus.APPROVED
            ) -> tuple[str, list[rs.SuggestionRow]]:
    """Apply pending live suggestions from `effective_from` (module doc); returns the new plan
    version id and the decided suggestions. Every check runs before anything is written."""
    if not 1 <= len(suggestion_ids) <= MAX_APPROVED_AT_ONCE:
        raise RateSuggestionError(f"suggestion ids: {len(suggestion_ids)} given; 1.."
                                  f"{MAX_APPROVED_AT_ONCE} at once")
    if status not in rs.APPLIED:
        raise RateSuggestionError(f"status: {status} does not apply a suggestion")
    earliest = earliest_effective(decided_at, notice)
    if effective_from < earliest:
        raise RateSuggestionError(
            f"effective_from: {effective_from.isoformat()} is inside the notice period; the "
            f"earliest allowed is {earliest.isoformat()} ({notice} after the decision)")
    rows = [rs.get_suggestion(conn, sid) for sid in dict.fromkeys(suggestion_ids)]
    in_force = level1_rates(conn, effective_from)
    overrides: dict[str, Decimal] = {}
    for row in rows:
        _check_applicable(row, in_force)
        if row.promoter_id in overrides:
            raise RateSuggestionError(f"suggestion {row.suggestion_id}: promoter "
                                      f"{row.promoter_id} appears twice")
        overrides[row.promoter_id] = Decimal(row.proposed_rate)
    version_id = publish_overrides(conn, overrides, effective_from)
    decided = []
    for row in rows:
        decided.append(rs.decide(conn, row.suggestion_id, rs.Decision(
            status, decided_by, decided_at, note, effective_from, version_id)))
        rs.record_assignment(conn, rs.NewAssignment(
            promoter_id=row.promoter_id, rate=Decimal(row.proposed_rate),
            effective_from=effective_from, propensity=row.propensity,
            reason=rs.AssignmentReason(row.reason), recorded_at=decided_at,
            recorded_by=decided_by, suggestion_id=row.suggestion_id,
            arm=rs.ExperimentArm(row.arm) if row.arm else None,
            experiment_id=row.experiment_id, plan_version_id=version_id))
    return version_id, decided


def _check_applicable(row: rs.SuggestionRow, in_force: Level1Rates) -> None:
    sid = row.suggestion_id
    if row.status != rs.SuggestionStatus.PENDING:
        raise RateSuggestionError(f"suggestion {sid}: it is {row.status}; only a pending "
                                  "suggestion can be approved")
    if row.mode != rs.SuggestionMode.LIVE:
        raise RateSuggestionError(f"suggestion {sid}: made in {row.mode} mode, which is advice "
                                  "only and never changes a plan")
    if row.arm == rs.ExperimentArm.CONTROL:
        raise RateSuggestionError(f"suggestion {sid}: promoter {row.promoter_id} is in the "
                                  "control group and keeps its rate")
    if Decimal(row.proposed_rate) == Decimal(row.current_rate):
        raise RateSuggestionError(f"suggestion {sid}: proposes no change")
    now = in_force.of(row.promoter_id)
    if now != Decimal(row.current_rate):
        raise RateSuggestionError(
            f"suggestion {sid}: computed from rate {row.current_rate}, but {now} is in force "
            f"(version {in_force.version_id}); suggest again")


def reject(conn: Connection, suggestion_ids: Sequence[str], *, decided_by: str,
           decided_at: datetime, note: str) -> list[rs.SuggestionRow]:
    """Reject pending suggestions with the reason; nothing reaches a plan."""
    if not note.strip():
        raise RateSuggestionError("note: a rejection needs a reason")
    if not 1 <= len(suggestion_ids) <= MAX_APPROVED_AT_ONCE:
        raise RateSuggestionError(f"suggestion ids: {len(suggestion_ids)} given; 1.."
                                  f"{MAX_APPROVED_AT_ONCE} at once")
    return [rs.decide(conn, sid, rs.Decision(rs.SuggestionStatus.REJECTED, decided_by,
                                             decided_at, note))
            for sid in dict.fromkeys(suggestion_ids)]
