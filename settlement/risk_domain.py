"""Risk cases as value types: the states a case moves through, the flags it collects, the limits.

A case gathers the flags raised about one promoter (by the periodic scan's rules and model, or by
the order-time screen) with the orders they name. People move it open -> investigating ->
confirmed | dismissed; every move is an append-only case event naming who acted and why. Money
at risk (the case's priority) is the commission the case's orders still credit, at every level.
No I/O here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from settlement.errors import SettlementError

MAX_FLAGS_PER_CALL = 1_000  # flags recorded in one call: bounds a transaction
MAX_ORDERS_PER_CASE = 10_000  # orders a case may name: bounds what confirming one books
MAX_EVIDENCE_CHARS = 20_000  # a flag's evidence as stored JSON
MAX_NOTE_CHARS = 2_000
MAX_ACTOR_CHARS = 100


class CaseStatus(StrEnum):
    OPEN = "open"  # flagged, nobody looked yet
    INVESTIGATING = "investigating"  # a person is on it
    CONFIRMED = "confirmed"  # fraud: the case's commission is reversed, the promoter suspended
    DISMISSED = "dismissed"  # honest: holds lifted, nothing reversed


ACTIVE = (CaseStatus.OPEN, CaseStatus.INVESTIGATING)  # a promoter has at most one active case
DECIDED = (CaseStatus.CONFIRMED, CaseStatus.DISMISSED)

# Which state a case may move to from which; a decided case never moves again.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.INVESTIGATING, CaseStatus.CONFIRMED,
                                CaseStatus.DISMISSED}),
    CaseStatus.INVESTIGATING: frozenset({CaseStatus.CONFIRMED, CaseStatus.DISMISSED}),
    CaseStatus.CONFIRMED: frozenset(),
    CaseStatus.DISMISSED: frozenset(),
}


class CaseAction(StrEnum):
    """What a case event records (`risk_case_events.action`)."""

    OPENED = "opened"
    FLAGGED = "flagged"  # a new flag (and its orders) joined the case
    INVESTIGATING = "investigating"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    NOTE = "note"


class FlagSource(StrEnum):
    SCAN = "scan"  # the periodic scan over promoter profiles (rules + model)
    ORDER = "order"  # the order-time screen at settlement


class CaseError(SettlementError):
    """A case cannot do what was asked (a decided case moved again, a bad flag)."""

    code = "case_error"


@dataclass(frozen=True, slots=True)
class RiskFlag:
    """One flag about one promoter: which rule (or model) raised it, how bad, and its evidence.

    `orders` are the orders the flag blames (their commission is what the case puts at risk);
    `evidence` is the JSON-able dict the rule produced, shown to the reviewer as is.
    """

    promoter_id: str
    rule: str
    severity: str
    evidence: dict[str, Any]
    source: FlagSource = FlagSource.SCAN
    orders: tuple[str, ...] = ()
    model_version: str | None = None

    @property
    def key(self) -> str:
        """Identity of the flag within a case: re-scanning the same evidence is a no-op."""
        return hashlib.sha256(
            f"{self.rule}\n{self.source}\n{evidence_json(self.evidence)}".encode()).hexdigest()

    def check(self) -> None:
        """Raise `CaseError` naming the field when the flag cannot be stored."""
        if not self.promoter_id or len(self.promoter_id) > 128:
            raise CaseError(f"promoter_id: {self.promoter_id!r} must be 1-128 characters")
        if not self.rule or len(self.rule) > 32:
            raise CaseError(f"rule: {self.rule!r} must be 1-32 characters")
        if self.severity not in ("low", "medium", "high"):
            raise CaseError(f"severity: {self.severity!r} must be low, medium or high")
        if len(evidence_json(self.evidence)) > MAX_EVIDENCE_CHARS:
            raise CaseError(f"evidence: longer than {MAX_EVIDENCE_CHARS} characters as JSON")
        if len(self.orders) > MAX_ORDERS_PER_CASE:
            raise CaseError(f"orders: {len(self.orders)} named, at most {MAX_ORDERS_PER_CASE}")


def evidence_json(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, sort_keys=True, separators=(",", ":"), default=str)


def check_actor(actor: str, note: str | None) -> None:
    """Who acted must be named; notes are bounded."""
    if not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
        raise CaseError(f"by: {actor!r} must name who acted (1-{MAX_ACTOR_CHARS} characters)")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise CaseError(f"note: {len(note)} characters, at most {MAX_NOTE_CHARS}")


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One line of a case's audit trail."""

    seq: int
    case_id: int
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredFlag:
    case_id: int
    rule: str
    severity: str
    source: str
    evidence: dict[str, Any]
    model_version: str | None
    flagged_at: datetime


@dataclass(frozen=True, slots=True)
class Case:
    """A case as stored: its money at risk is refreshed whenever flags join or it is decided."""

    case_id: int
    promoter_id: str
    status: str
    currency: str
    money_at_risk_minor: int
    opened_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    rules: tuple[str, ...]
    order_count: int
    version: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE
