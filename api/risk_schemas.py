"""Pydantic bodies of `/v1/risk/cases`: the work queue, a case as a reviewer reads it, and the
decisions. Amounts are decimal strings in the case's currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from serving.risk_cases import CaseDetail
from settlement.money import format_amount
from settlement.risk_actions import Decision
from settlement.risk_domain import MAX_NOTE_CHARS, Case

CaseStatusText = Literal["open", "investigating", "confirmed", "dismissed"]


class CaseOut(BaseModel):
    case_id: int
    promoter_id: str
    status: CaseStatusText
    currency: str
    money_at_risk: str = Field(description="commission the case's orders still credit, every "
                                           "level (confirmed: what its reversals took)")
    rules: list[str]
    order_count: int
    opened_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(case_id=case.case_id, promoter_id=case.promoter_id,
                   status=case.status,  # type: ignore[arg-type]
                   currency=case.currency,
                   money_at_risk=format_amount(case.money_at_risk_minor, case.currency),
                   rules=list(case.rules), order_count=case.order_count,
                   opened_at=case.opened_at, updated_at=case.updated_at,
                   decided_at=case.decided_at, decided_by=case.decided_by)


class CasesOut(BaseModel):
    cases: list[CaseOut]


class FlagOut(BaseModel):
    rule: str
    severity: str
    source: str
    evidence: dict[str, Any]
    model_version: str | None
    flagged_at: datetime


class CaseOrderOut(BaseModel):
    order_id: str
    customer_id: str
    paid_at: datetime
    released_at: datetime | None
    gross: str
    refunded: str
    commission_at_risk: str
    reversed: str
    held: bool
    device_hash: str | None
    ip_hash: str | None


class CaseEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    detail: dict[str, Any]


class CaseDetailOut(BaseModel):
    case: CaseOut
    flags: list[FlagOut]
    orders: list[CaseOrderOut]
    events: list[CaseEventOut]

    @classmethod
    def of(cls, detail: CaseDetail) -> CaseDetailOut:
        cur = detail.case.currency
        return cls(
            case=CaseOut.of(detail.case),
            flags=[FlagOut(rule=f.rule, severity=f.severity, source=f.source,
                           evidence=f.evidence, model_version=f.model_version,
                           flagged_at=f.flagged_at) for f in detail.flags],
            orders=[CaseOrderOut(
                order_id=i.order.order_id, customer_id=i.order.customer_id,
                paid_at=i.order.paid_at, released_at=i.order.released_at,
                gross=format_amount(i.order.gross_minor, cur),
                refunded=format_amount(i.order.refunded_minor, cur),
                commission_at_risk=format_amount(i.commission_minor, cur),
                reversed=format_amount(i.reversed_minor, cur), held=i.held,
                device_hash=i.order.device_hash, ip_hash=i.order.ip_hash)
                for i in detail.orders],
            events=[CaseEventOut(at=e.at, actor=e.actor, action=e.action,
                                 from_status=e.from_status, to_status=e.to_status, note=e.note,
                                 detail=e.detail) for e in detail.events])


class CaseNoteIn(BaseModel):
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="why, on the trail")


class CaseConfirmIn(CaseNoteIn):
    suspend: bool = Field(True, description="suspend the promoter (no commission on later "
                                            "orders)")


class CaseDismissIn(BaseModel):
    note: str = Field(min_length=1, max_length=MAX_NOTE_CHARS,
                      description="why it is not fraud (required)")


class DecisionOut(BaseModel):
    case: CaseOut
    changed: bool = Field(description="false when it was already decided so: nothing booked")
    reversed: str
    entries: list[str]
    orders: list[str] = Field(description="frozen (confirm) or lifted from hold (dismiss)")
    released_orders: list[str] = Field(description="dismiss: lifted orders past their hold "
                                                   "period, released now")
    suspended: bool
    reversed_per_promoter: dict[str, str]

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        cur = decision.case.currency
        return cls(case=CaseOut.of(decision.case), changed=decision.changed,
                   reversed=format_amount(decision.reversed_minor, cur),
                   entries=list(decision.entries), orders=list(decision.held_orders),
                   released_orders=list(decision.released_orders),
                   suspended=decision.suspended,
                   reversed_per_promoter={p: format_amount(a, cur) for p, a in
                                          decision.per_promoter_minor.items()})
