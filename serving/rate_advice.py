"""The rate a mall should pay each promoter, served from the stored suggestions held in memory.

The mall's backend asks for a promoter's rate on its own hot path, so an answer is a dictionary
look-up, never a query. How the copy stays fresh (invariants):
- `RateAdvice.load` reads every promoter's newest suggestion once (`read_model.latest_suggestions`)
  and builds an immutable map; `RateAdviceStore` holds one such map and swaps the reference whole,
  so a reader sees the old map or the new one, never a half-built one, and takes no lock;
- a background thread asks the books every `refresh_s` for the suggestions' marker (counts and
  newest instants of suggestions and decisions: two aggregates) and reloads only when it moved, so
  a run of `fenrun rates suggest` or an approval reaches the API without a restart;
- a failed refresh (books unreachable) keeps the old map, is logged, and is retried on the next
  tick: a request never fails or waits because of a refresh;
- bounded: the map holds at most `MAX_SUGGESTIONS_PER_RUN` promoters (the read's own limit).

What a status means to the mall (a suggestion's stored status, seen at the instant asked):
- `shadow`: advice only (shadow mode); the promoter stays on `current_rate`;
- `pending`: waits for a person; `recommended_rate` is the proposal;
- `approved`: approved, in force from `effective_from` (still ahead);
- `live`: `recommended_rate` is in force now: an approved change whose instant has come, or the
  current rate kept (rejected, blocked by a guardrail, no change, or the experiment's control
  group), the explanation then saying which.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine

from serving.errors import ServingError
from settlement import read_model
from settlement.rate_suggestions import APPLIED, GuardrailStep, SuggestionMode, SuggestionRow

log = logging.getLogger(__name__)
SHADOW, PENDING, APPROVED, LIVE = "shadow", "pending", "approved", "live"
STATUSES = (SHADOW, PENDING, APPROVED, LIVE)
DEFAULT_VALID_FOR = timedelta(days=30)  # one policy cycle: a suggestion is redone every cycle
MAX_REFRESH_S = 3600.0
# Why a promoter keeps its current rate, by the suggestion's stored status.
_KEPT = {"rejected": "rejected", "blocked": "blocked by a guardrail",
         "no_change": "the policy keeps the current rate",
         "control": "in the experiment's control group (kept at the current rate)",
         "superseded": "superseded by a newer suggestion"}


class NoSuggestion(ServingError):
    """No suggestion is stored for this promoter: nothing to recommend yet."""

    code = "no_suggestion"

    def __init__(self, promoter_id: str) -> None:
        self.promoter_id = promoter_id
        super().__init__(f"no rate suggestion is stored for promoter {promoter_id!r}: keep its "
                         "plan rate (suggestions are made by `fenrun rates suggest`)")


@dataclass(frozen=True, slots=True)
class RateAdvice:
    """One promoter's recommendation as the route serves it; rates are decimal strings."""

    promoter_id: str
    suggestion_id: str
    current_rate: str
    recommended_rate: str
    cadence: str
    stored_status: str
    mode: str
    effective_from: datetime | None
    valid_until: datetime
    model_versions: Mapping[str, str]
    guardrails: tuple[GuardrailStep, ...]
    explanation: str
    propensity: float

    @classmethod
    def of(cls, row: SuggestionRow, valid_for: timedelta) -> RateAdvice:
        kept = row.status in _KEPT
        explanation = row.explanation
        if kept:
            why = _KEPT[row.status]
            who = f" by {row.decided_by}" if row.decided_by and row.status == "rejected" else ""
            note = f" ({row.note})" if row.note and row.status == "rejected" else ""
            explanation = f"Current rate kept: {why}{who}{note}. {row.explanation}"
        return cls(
            promoter_id=row.promoter_id, suggestion_id=row.suggestion_id,
            current_rate=row.current_rate,
            recommended_rate=row.current_rate if kept else row.proposed_rate,
            cadence=row.cadence, stored_status=row.status, mode=row.mode,
            effective_from=row.effective_from, valid_until=row.as_of + valid_for,
            model_versions=MappingProxyType(dict(row.model_versions)),
            guardrails=row.guardrails, explanation=explanation, propensity=row.propensity)

    def status(self, now: datetime) -> str:
        """shadow, pending, approved or live, as of `now` (see the module docstring)."""
        if self.mode == SuggestionMode.SHADOW:
            return SHADOW
        if self.stored_status in APPLIED:
            due = self.effective_from
            return LIVE if due is not None and due <= now else APPROVED
        if self.stored_status == PENDING:
            return PENDING
        return LIVE


Marker = tuple[Any, ...]


def load_advice(books: Engine, valid_for: timedelta
                ) -> tuple[Marker, Mapping[str, RateAdvice]]:
    """The suggestions' marker and every promoter's advice, read in one transaction."""
    with books.connect() as conn:
        marker = read_model.suggestions_marker(conn)
        latest = read_model.latest_suggestions(conn)
    advice = {pid: RateAdvice.of(row, valid_for) for pid, row in latest.items()}
    return marker, MappingProxyType(advice)


class RateAdviceStore:
    """The advice map of a running API, refreshed in the background (see the module docstring)."""

    def __init__(self, books: Engine, refresh_s: float = 2.0,
                 valid_for: timedelta = DEFAULT_VALID_FOR,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not 0.05 <= refresh_s <= MAX_REFRESH_S:
            raise ValueError(f"refresh_s: {refresh_s} must be between 0.05 and {MAX_REFRESH_S}")
        self.books, self.refresh_s, self.valid_for, self.clock = books, refresh_s, valid_for, clock
        self._marker: Marker | None = None
        self._advice: Mapping[str, RateAdvice] = MappingProxyType({})
        self.generation = 0  # how many maps were swapped in: tests and /metrics read it
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load once now, then refresh in a daemon thread until `close`."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="rate-advice", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()

    def refresh(self) -> bool:
        """Reload when the stored suggestions changed; true if a new map was swapped in."""
        try:
            with self.books.connect() as conn:
                marker = read_model.suggestions_marker(conn)
            if marker == self._marker:
                return False
            marker, advice = load_advice(self.books, self.valid_for)
        except Exception as error:  # noqa: BLE001 - the old map keeps answering; logged
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("rate advice refresh failed, serving the previous map: %s", error)
            return False
        self._advice, self._marker = advice, marker
        self.generation += 1
        self.last_error = None
        return True

    def advice(self, promoter_id: str) -> RateAdvice:
        """The promoter's advice from the current map; `NoSuggestion` when it has none."""
        found = self._advice.get(promoter_id)
        if found is None:
            raise NoSuggestion(promoter_id)
        return found

    def now(self) -> datetime:
        return self.clock()

    def __len__(self) -> int:
        return len(self._advice)
