"""Approve or reject rate suggestions from the API and the dashboard, with who and why.

The decisions themselves are `settlement.rate_overrides.approve` / `reject`, the functions
`fenrun rates approve|reject` call; this adds the two rules the CLI applies around them, so every
way in applies them alike: the kill switch refuses any approval, and an approval without an
instant takes effect at the end of the notice period (`FENRUN_RATES_NOTICE_DAYS`). Each call is
one transaction: the new plan version, the decisions and the served-rate log, or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from serving.rate_config import RateSettings
from settlement.errors import RateSuggestionError
from settlement.rate_overrides import approve, reject
from settlement.rate_suggestions import SuggestionRow


def approve_suggestions(books: Engine, settings: RateSettings, suggestion_ids: Sequence[str],
                        *, by: str, note: str | None = None,
                        effective_from: datetime | None = None,
                        now: datetime | None = None) -> tuple[str, list[SuggestionRow]]:
    """Approve pending live suggestions into one new plan version; (version id, decided)."""
    if settings.kill_switch:
        raise RateSuggestionError("kill switch is on (FENRUN_RATES_KILL_SWITCH): no rate change "
                                  "is applied")
    if not by.strip():
        raise RateSuggestionError("by: say who decides")
    decided_at = now or datetime.now(UTC)
    notice = timedelta(days=settings.notice_days)
    with books.begin() as conn:
        return approve(conn, suggestion_ids, effective_from=effective_from or decided_at + notice,
                       decided_by=by, decided_at=decided_at, notice=notice, note=note)


def reject_suggestions(books: Engine, suggestion_ids: Sequence[str], *, by: str, note: str,
                       now: datetime | None = None) -> list[SuggestionRow]:
    """Reject pending suggestions with the reason; nothing reaches a plan."""
    if not by.strip():
        raise RateSuggestionError("by: say who decides")
    with books.begin() as conn:
        return reject(conn, suggestion_ids, decided_by=by, decided_at=now or datetime.now(UTC),
                      note=note)
