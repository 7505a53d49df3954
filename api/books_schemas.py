"""Request and response bodies of the routes over the books (events, balances, ledger lines,
payouts, plans, keys). Amounts are decimal strings in `currency`, never floats."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from settlement.api_keys import ApiKey
from settlement.payouts import Payout

EventStatusOut = Literal["applied", "duplicate", "conflict", "rejected"]


class EventsIn(BaseModel):
    """Events as the mall's files carry them (one JSON object each, see settlement/README.md).
    An element that is not a valid event is answered `rejected` with the reason, not a 422."""

    events: list[Any] = Field(description="event objects, at most FENRUN_API_EVENTS_PER_REQUEST")


class EventResult(BaseModel):
    event_id: str | None = Field(description="the event's id, null if it had none")
    status: EventStatusOut
    reason: str | None = None


class EventsOut(BaseModel):
    """One result per event, in request order; `holds_released` counts holds that ended by the
    newest instant applied."""

    results: list[EventResult]
    holds_released: int


class EventsPublishedOut(BaseModel):
    """Kafka configured: the ids published to the orders topic (time order) for the worker to
    settle, and the elements that did not parse (not published)."""

    published: list[str]
    rejected: list[EventResult]


class PromoterBalanceOut(BaseModel):
    promoter_id: str
    currency: str
    pending: str
    available: str
    paid: str
    clawback_receivable: str
    withdrawing: str = "0.00"  # withdrawals requested or sent, not yet paid


class MerchantBalanceOut(BaseModel):
    merchant_id: str
    payable: str


class MerchantBalancesOut(BaseModel):
    currency: str
    merchants: list[MerchantBalanceOut]
    next_after: str | None = Field(description="pass as `after` for the next page; null at the end")


class PlatformBalanceOut(BaseModel):
    currency: str
    revenue: str


class LedgerLineOut(BaseModel):
    posting_id: int
    entry_id: str
    kind: str
    occurred_at: datetime
    event_id: str | None
    account: str
    currency: str
    amount: str = Field(description="debit positive, as the journal stores it")


class LedgerLinesOut(BaseModel):
    lines: list[LedgerLineOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class LedgerCheckOut(BaseModel):
    ok: bool
    problems: list[str]


class PayoutRunIn(BaseModel):
    as_of: datetime = Field(description="with its offset; not later than now + 5 min unless "
                                        "`allow_future`")
    allow_future: bool = False
    hold_flagged: bool = Field(True, description="keep back what open risk cases put at "
                                                 "risk; the rest of each balance is paid")


class PayoutDecisionIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, pattern=r"\S",
                      description="why (required), recorded with the key's name")


class PayoutOut(BaseModel):
    payout_id: int
    promoter_id: str
    currency: str
    amount: str
    status: Literal["paid", "awaiting_approval", "rejected", "failed"]
    as_of: datetime
    hold_reason: str | None
    decided_by: str | None
    note: str | None
    kept_back: str | None = Field(None, description="left available for open risk cases")
    kept_back_reason: str | None = None

    @classmethod
    def of(cls, payout: Payout) -> PayoutOut:
        from settlement.money import format_amount

        return cls(payout_id=payout.payout_id, promoter_id=payout.promoter_id,
                   currency=payout.currency,
                   amount=format_amount(payout.amount_minor, payout.currency),
                   status=payout.status,  # type: ignore[arg-type]
                   as_of=payout.as_of, hold_reason=payout.hold_reason,
                   decided_by=payout.decided_by, note=payout.note,
                   kept_back=format_amount(payout.kept_back_minor, payout.currency)
                   if payout.kept_back_minor else None,
                   kept_back_reason=payout.kept_back_reason)


class PayoutsOut(BaseModel):
    payouts: list[PayoutOut]
    next_after: int | None


class PlanVersionOut(BaseModel):
    version_id: str
    effective_from: datetime
    currency: str
    content_hash: str
    recorded_at: datetime
    document: dict[str, Any] | None = Field(None, description="the rules, on `GET /v1/plans/{id}`")


class PlansOut(BaseModel):
    plans: list[PlanVersionOut]


class PlanIn(BaseModel):
    yaml: str = Field(max_length=1_000_000, description="plan YAML, versions separated by ---")


class PlansStoredOut(BaseModel):
    stored: list[str] = Field(description="ids of the versions that were new")


class KeyIn(BaseModel):
    role: Literal["mall", "growth", "risk", "finance", "admin", "promoter"]
    name: str = Field(min_length=1, max_length=100,
                      description="who uses it; for a `promoter` key, the promoter's id")


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    created_by: str

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(key_id=key.key_id, name=key.name, role=key.role, created_at=key.created_at,
                   revoked_at=key.revoked_at, created_by=key.created_by)


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the full key, shown this once")


class KeysOut(BaseModel):
    keys: list[KeyOut]


class LinePartOut(BaseModel):
    """How one beneficiary's amount on one line was produced (exact values in minor units)."""

    promoter_id: str
    level: int  # 0 = regional agent
    sku: str
    category: str
    base: str  # the line's remaining amount
    share: str  # attribution share, "n/d"
    rule: str  # fixed | category | override | grade | base | agent
    rate: str | None  # percentage rule's rate before bonuses, "n/d"
    fixed_per_unit: str | None
    quantity: int
    grade: str | None
    campaigns: list[dict[str, str]]  # {"name", "bonus"}
    ladder: list[dict[str, str]]  # {"from_gmv", "bonus", "inside"}
    exact_minor: str  # "n/d"


class PartyTotalOut(BaseModel):
    promoter_id: str
    exact_minor: str
    cap_factor: str
    allowance: str | None
    after_caps_minor: str
    amount: str  # rounded down, as booked


class OrderExplanationOut(BaseModel):
    order_id: str
    merchant_id: str
    currency: str
    paid_at: datetime
    plan_version_id: str
    net: str
    platform: str
    take_rate: str | None
    payment_provider: str | None
    payment_fee: str
    merchant: str
    parts: list[LinePartOut]
    totals: list[PartyTotalOut]
    words: list[str]  # the same explanation as `fenrun explain` prints
