"""Promoter LTV/CAC as the growth team reviews it: the stored snapshots, summed per segment.

`fenrun ltv promoters --as-of T` computes, per promoter and per acquisition channel, what the
acquired customers are worth against what acquiring them cost (commission on their first order),
with a shrunk ratio and a 5-95 % bootstrap band, and stores both tables as snapshots
(`features.profiles.store`). Worth is measured on a **basis**, named in every table: "margin"
(the customers' contribution to the mall: gross margin per category minus later commission,
`training.ltv.margin`) with the GMV figures (`gmv_*`: net revenue) kept beside; snapshots written
before contribution existed hold GMV only and read as basis "gmv" (`ltv_cac` and its band are
then GMV ratios, the contribution columns empty). This service only reads them: it lists the
snapshots, loads one, and adds the views a reviewer asks for first — the totals on both bases,
LTV/CAC per segment, and the promoters who cost more than they bring *with confidence* (the top
of their band below 1 on the snapshot's basis), as opposed to those who merely have too little
data to tell.

Segment ratios are plain Σ LTV / Σ CAC without a band: a segment holds hundreds of promoters and
thousands of customers, so its ratio is not where the uncertainty lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.profiles.store import (
    CHANNEL_VALUE_TABLE,
    PROMOTER_VALUE_TABLE,
    TABLE,
    list_snapshots,
    read_snapshot,
    snapshot_path,
)
from serving.config import ServingSettings
from serving.errors import NoAcquiredCustomers, NoSnapshot, UnknownPromoter
from serving.snapshots import pick

UNSEGMENTED = "(no segment)"
BREAK_EVEN = 1.0
MARGIN, GMV = "margin", "gmv"
CONTRIBUTION_COLUMNS = ("contribution_realised_minor", "contribution_predicted_minor",
                        "contribution_ltv_minor")
# A snapshot written before the margin basis: its columns, as the GMV columns they are.
GMV_ONLY = {"realised_minor": "gmv_realised_minor", "predicted_minor": "gmv_predicted_minor",
            "ltv_minor": "gmv_ltv_minor"}


def _ratio_of(value_minor: int | None, cac_minor: int) -> float | None:
    return value_minor / cac_minor if value_minor is not None and cac_minor > 0 else None


@dataclass(frozen=True)
class ValueTotals:
    """Sums over every promoter of a snapshot; `contribution_ltv_minor` is None on basis "gmv"."""

    basis: str
    promoters: int
    customers: int
    gmv_ltv_minor: int
    contribution_ltv_minor: int | None
    cac_minor: int

    @property
    def ltv_cac(self) -> float | None:
        """Σ LTV / Σ CAC on the snapshot's basis."""
        value = self.contribution_ltv_minor if self.basis == MARGIN else self.gmv_ltv_minor
        return _ratio_of(value, self.cac_minor)

    @property
    def gmv_ltv_cac(self) -> float | None:
        return _ratio_of(self.gmv_ltv_minor, self.cac_minor)


def on_basis(frame: pd.DataFrame) -> pd.DataFrame:
    """A stored promoter or channel table with a `basis` column and every column of the margin
    basis: an old GMV-only table gets basis "gmv", its amounts as `gmv_*`, its ratio also as
    `gmv_ltv_cac`, and empty (NA) contribution columns. A margin table is returned as stored."""
    if "basis" in frame:
        return frame
    out = frame.rename(columns=GMV_ONLY)
    out.insert(min(3, len(out.columns)), "basis", GMV)
    out["gmv_ltv_cac"] = out["ltv_cac"]
    for name in CONTRIBUTION_COLUMNS:
        out[name] = pd.array([pd.NA] * len(out), dtype="Int64")
    return out


@dataclass(frozen=True)
class PromoterValueRow:
    """One promoter's line of a snapshot; money in whole minor units of `currency`."""

    promoter_id: str
    as_of: pd.Timestamp
    horizon_days: int
    currency: str
    basis: str  # what ltv_cac and its band measure: "margin" (contribution) or "gmv"
    channel: str
    segment_id: int | None
    segment_name: str | None
    customers: int
    gmv_realised_minor: int
    gmv_predicted_minor: int
    gmv_ltv_minor: int
    contribution_realised_minor: int | None  # None on basis "gmv" (an old snapshot)
    contribution_predicted_minor: int | None
    contribution_ltv_minor: int | None
    cac_minor: int
    commission_later_minor: int
    gmv_ltv_cac: float | None
    ltv_cac: float | None
    ltv_cac_shrunk: float | None
    ltv_cac_low: float | None
    ltv_cac_high: float | None

    @property
    def confidently_losing(self) -> bool:
        return self.ltv_cac_high is not None and self.ltv_cac_high < BREAK_EVEN


def _ratio(value: float) -> float | None:
    """A stored ratio, None where it is undefined (no CAC)."""
    return None if pd.isna(value) else float(value)


def _minor(value: object) -> int | None:
    """A stored amount, None where the snapshot has none (contribution of an old snapshot)."""
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class PromoterValueReport:
    """One snapshot: per-promoter and per-channel rows as stored, plus derived views."""

    as_of: pd.Timestamp
    horizon_days: int
    currency: str
    basis: str  # "margin", or "gmv" for a snapshot written before contribution existed
    promoters: pd.DataFrame  # as `on_basis` gives them
    channels: pd.DataFrame

    @property
    def value_column(self) -> str:
        """The LTV column `ltv_cac` divides by CAC on this snapshot's basis."""
        return "contribution_ltv_minor" if self.basis == MARGIN else "gmv_ltv_minor"

    @property
    def totals(self) -> ValueTotals:
        p = self.promoters
        contribution = int(p["contribution_ltv_minor"].sum()) if self.basis == MARGIN else None
        return ValueTotals(self.basis, len(p), int(p["customers"].sum()),
                           int(p["gmv_ltv_minor"].sum()), contribution, int(p["cac_minor"].sum()))

    @property
    def has_segments(self) -> bool:
        return bool(self.promoters["segment_id"].notna().any())

    def segments(self) -> pd.DataFrame:
        """Per segment: promoters, customers, Σ GMV LTV, Σ contribution LTV (margin basis only),
        Σ CAC, both ratios (`ltv_cac` on the snapshot's basis), and how many promoters are
        confidently below break-even. Promoters without a segment are one group."""
        p = self.promoters.assign(
            segment=self.promoters["segment_name"].fillna(UNSEGMENTED),
            losing=self.promoters["ltv_cac_high"] < BREAK_EVEN)
        g = p.groupby("segment", sort=True)
        out = pd.DataFrame({"promoters": g.size(), "customers": g["customers"].sum(),
                            "gmv_ltv_minor": g["gmv_ltv_minor"].sum()})
        if self.basis == MARGIN:
            out["contribution_ltv_minor"] = g["contribution_ltv_minor"].sum()
        out["cac_minor"] = g["cac_minor"].sum()
        cac = out["cac_minor"].to_numpy(float)
        for ratio, value in (("gmv_ltv_cac", "gmv_ltv_minor"), ("ltv_cac", self.value_column)):
            out[ratio] = np.divide(out[value].to_numpy(float), cac,
                                   out=np.full(len(out), np.nan), where=cac > 0)
        out["median_ltv_cac_shrunk"] = g["ltv_cac_shrunk"].median()
        out["confidently_losing"] = g["losing"].sum()
        out.insert(0, "basis", self.basis)
        return out.reset_index().sort_values("ltv_cac", ascending=False, na_position="last",
                                             ignore_index=True)

    def promoter(self, promoter_id: str) -> PromoterValueRow:
        """The promoter's line; `UnknownPromoter` when the snapshot has none."""
        rows = self.promoters[self.promoters["promoter_id"] == promoter_id]
        if rows.empty:
            raise UnknownPromoter(promoter_id, self.as_of.isoformat())
        row = rows.iloc[0]
        segment = row["segment_id"]
        return PromoterValueRow(
            promoter_id=promoter_id, as_of=self.as_of, horizon_days=self.horizon_days,
            currency=self.currency, basis=self.basis, channel=str(row["channel"]),
            segment_id=None if pd.isna(segment) else int(segment),
            segment_name=None if pd.isna(row["segment_name"]) else str(row["segment_name"]),
            customers=int(row["customers"]), gmv_realised_minor=int(row["gmv_realised_minor"]),
            gmv_predicted_minor=int(row["gmv_predicted_minor"]),
            gmv_ltv_minor=int(row["gmv_ltv_minor"]),
            contribution_realised_minor=_minor(row["contribution_realised_minor"]),
            contribution_predicted_minor=_minor(row["contribution_predicted_minor"]),
            contribution_ltv_minor=_minor(row["contribution_ltv_minor"]),
            cac_minor=int(row["cac_minor"]),
            commission_later_minor=int(row["commission_later_minor"]),
            gmv_ltv_cac=_ratio(row["gmv_ltv_cac"]), ltv_cac=_ratio(row["ltv_cac"]),
            ltv_cac_shrunk=_ratio(row["ltv_cac_shrunk"]),
            ltv_cac_low=_ratio(row["ltv_cac_low"]), ltv_cac_high=_ratio(row["ltv_cac_high"]))

    def confidently_losing(self) -> pd.DataFrame:
        """Promoters whose whole band lies below break-even, costliest first."""
        p = self.promoters
        return p[p["ltv_cac_high"] < BREAK_EVEN].sort_values(
            ["cac_minor", "promoter_id"], ascending=[False, True], ignore_index=True)


class PromoterValueService:
    """Reads the promoter value snapshots under `feature_store_dir`."""

    def __init__(self, settings: ServingSettings) -> None:
        self._root = settings.feature_store_dir

    def snapshots(self) -> list[pd.Timestamp]:
        """As-of instants with both tables stored, newest first."""
        channels = set(list_snapshots(self._root, CHANNEL_VALUE_TABLE))
        return sorted((t for t in list_snapshots(self._root, PROMOTER_VALUE_TABLE)
                       if t in channels), reverse=True)

    def report(self, as_of: pd.Timestamp | None = None) -> PromoterValueReport:
        """The snapshot of `as_of`, or the newest; `NoSnapshot` when there is none."""
        at = pick(self.snapshots(), as_of, "promoter value snapshot",
                  "fenrun ltv promoters --as-of DATE")
        promoters = on_basis(read_snapshot(self._root, at, PROMOTER_VALUE_TABLE))
        channels = on_basis(read_snapshot(self._root, at, CHANNEL_VALUE_TABLE))
        first = promoters.iloc[0] if len(promoters) else channels.iloc[0]
        return PromoterValueReport(at, int(first["horizon_days"]), str(first["currency"]),
                                   str(first["basis"]), promoters, channels)

    def promoter(self, promoter_id: str, as_of: pd.Timestamp | None = None) -> PromoterValueRow:
        """The promoter's line in the snapshot of `as_of` (or the newest).

        A promoter without a line is `NoAcquiredCustomers` when the promoter population of that
        time (the newest profile snapshot at or before it, `fenrun features build`) lists them,
        and `UnknownPromoter` otherwise: a client can tell "brought nobody yet" from a wrong id.
        """
        report = self.report(as_of)
        try:
            return report.promoter(promoter_id)
        except UnknownPromoter:
            if self._in_population(promoter_id, report.as_of):
                raise NoAcquiredCustomers(promoter_id, report.as_of.isoformat()) from None
            raise

    def _in_population(self, promoter_id: str, as_of: pd.Timestamp) -> bool:
        try:
            at = pick(sorted(list_snapshots(self._root, TABLE), reverse=True), as_of,
                      "promoter profile snapshot", "fenrun features build --as-of DATE")
        except NoSnapshot:
            return False
        ids = pd.read_parquet(snapshot_path(self._root, at, TABLE), columns=["promoter_id"])
        return bool((ids["promoter_id"] == promoter_id).any())
