"""The HTTP API's response bodies (pydantic), built from serving's frozen values."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from serving.model_health import DriftCheck, DriftStatus, ModelHealth
from serving.promoter_value import PromoterValueRow
from serving.risk import RiskRow
from serving.segments import SegmentCatalogue
from settlement.money import format_amount


class ErrorOut(BaseModel):
    """Every error the API maps: a stable `code` and a message for a person."""

    code: str
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """`ok` when every dependency answered; each check is `ok` or `unavailable: <error kind>`."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class DriftOut(BaseModel):
    """A model's latest drift check: `drifted` is true when a critical feature alerted."""

    model: str
    run_id: str
    checked_at: datetime
    as_of: datetime | None
    threshold: float
    method: str
    champion_version: str  # the champion the check compared with
    drifted: bool
    alerts: list[str]  # critical features above the threshold
    scores: dict[str, float]  # every checked column, highest first
    report_uri: str

    @classmethod
    def of(cls, check: DriftCheck) -> DriftOut:
        return cls(model=check.model_name, run_id=check.run_id, checked_at=check.checked_at,
                   as_of=check.as_of, threshold=check.threshold, method=check.method,
                   champion_version=check.champion_version, drifted=check.drifted,
                   alerts=list(check.alerts), scores={s.column: s.score for s in check.scores},
                   report_uri=check.report_uri)


class ModelOut(BaseModel):
    """A registered model: its champion and the status of its latest drift check."""

    name: str
    champion_version: str | None
    drift_status: DriftStatus
    # False when the champion changed after the latest check (the check is stale); None: no check.
    checked_current_champion: bool | None
    drift: DriftOut | None

    @classmethod
    def of(cls, health: ModelHealth) -> ModelOut:
        return cls(name=health.name, champion_version=health.champion_version,
                   drift_status=health.status,
                   checked_current_champion=health.checked_current_champion,
                   drift=None if health.drift is None else DriftOut.of(health.drift))


class ModelsOut(BaseModel):
    models: list[ModelOut]


class SegmentOut(BaseModel):
    segment_id: int
    name: str
    share: float  # of the promoters the champion was trained on
    centroid: dict[str, float]  # feature -> value at the centre, in the feature's own units


class SegmentsOut(BaseModel):
    champion_version: str
    segments: list[SegmentOut]

    @classmethod
    def of(cls, catalogue: SegmentCatalogue) -> SegmentsOut:
        return cls(champion_version=catalogue.champion_version,
                   segments=[SegmentOut(segment_id=s.segment_id, name=s.name, share=s.share,
                                        centroid=dict(s.centroid))
                             for s in catalogue.segments])


class PromoterValueOut(BaseModel):
    """A promoter's LTV/CAC as of a snapshot. Amounts are decimal strings in `currency` (exact,
    from whole minor units); ratios are null where undefined (no CAC).

    `basis` says what `ltv_cac`, its shrunk value, band and `confidently_losing` measure:
    "margin" — the customers' contribution to the mall (gross margin per category minus
    commission on later orders; `contribution_*`) — or "gmv" for a snapshot stored before
    contribution existed (then `contribution_*` are null). The GMV figures (net revenue,
    `gmv_*`, `gmv_ltv_cac`) are always there beside it."""

    promoter_id: str
    as_of: datetime
    horizon_days: int
    currency: str
    basis: Literal["margin", "gmv"]
    channel: str
    segment_id: int | None
    segment_name: str | None
    customers: int
    gmv_realised: str
    gmv_predicted: str
    gmv_ltv: str
    contribution_realised: str | None
    contribution_predicted: str | None
    contribution_ltv: str | None
    cac: str
    commission_later: str
    gmv_ltv_cac: float | None
    ltv_cac: float | None  # on `basis`
    ltv_cac_shrunk: float | None
    ltv_cac_band: tuple[float | None, float | None]  # 5th and 95th percentile
    confidently_losing: bool  # the whole band below 1

    @classmethod
    def of(cls, row: PromoterValueRow) -> PromoterValueOut:
        def amount(minor: int | None) -> str | None:
            return None if minor is None else format_amount(minor, row.currency)

        return cls(promoter_id=row.promoter_id, as_of=row.as_of.to_pydatetime(),
                   horizon_days=row.horizon_days, currency=row.currency,
                   basis="margin" if row.basis == "margin" else "gmv", channel=row.channel,
                   segment_id=row.segment_id, segment_name=row.segment_name,
                   customers=row.customers, gmv_realised=format_amount(
                       row.gmv_realised_minor, row.currency),
                   gmv_predicted=format_amount(row.gmv_predicted_minor, row.currency),
                   gmv_ltv=format_amount(row.gmv_ltv_minor, row.currency),
                   contribution_realised=amount(row.contribution_realised_minor),
                   contribution_predicted=amount(row.contribution_predicted_minor),
                   contribution_ltv=amount(row.contribution_ltv_minor),
                   cac=format_amount(row.cac_minor, row.currency),
                   commission_later=format_amount(row.commission_later_minor, row.currency),
                   gmv_ltv_cac=row.gmv_ltv_cac, ltv_cac=row.ltv_cac,
                   ltv_cac_shrunk=row.ltv_cac_shrunk,
                   ltv_cac_band=(row.ltv_cac_low, row.ltv_cac_high),
                   confidently_losing=row.confidently_losing)


class PromoterRiskOut(BaseModel):
    """A promoter's line of the newest (or the `as_of`) anomaly flag list. Amounts are decimal
    strings in `currency`, read from the books when the list was made; `unpaid` is what a hold
    can still protect (pending + available, net of claw-backs owed)."""

    promoter_id: str
    as_of: datetime
    model_version: str
    flagged: bool
    score: float  # higher = more anomalous
    rank: int  # 1 = most anomalous of the list
    reasons: list[str]  # the most unusual features of a flagged promoter
    currency: str
    unpaid: str
    pending: str
    available: str
    paid: str
    clawback_owed: str

    @classmethod
    def of(cls, row: RiskRow) -> PromoterRiskOut:
        def amount(minor: int) -> str:
            return format_amount(minor, row.currency)

        return cls(promoter_id=row.promoter_id, as_of=row.as_of.to_pydatetime(),
                   model_version=row.model_version, flagged=row.flagged, score=row.score,
                   rank=row.rank, reasons=list(row.reasons), currency=row.currency,
                   unpaid=amount(row.unpaid_minor), pending=amount(row.pending_minor),
                   available=amount(row.available_minor), paid=amount(row.paid_minor),
                   clawback_owed=amount(row.clawback_minor))
