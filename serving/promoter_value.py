"""Promoter LTV/CAC as the growth team reviews it: the stored snapshots, summed per segment.

`fenrun ltv promoters --as-of T` computes, per promoter and per acquisition channel, what the
acquired customers are worth (realised + predicted net revenue) against what acquiring them cost
(commission on their first order), with a shrunk ratio and a 5-95 % bootstrap band, and stores
both tables as snapshots (`features.profiles.store`). This service only reads them: it lists the
snapshots, loads one, and adds the views a reviewer asks for first — the totals, LTV/CAC per
segment, and the promoters who cost more than they bring *with confidence* (the top of their band
below 1), as opposed to those who merely have too little data to tell.

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


@dataclass(frozen=True)
class ValueTotals:
    promoters: int
    customers: int
    ltv_minor: int
    cac_minor: int

    @property
    def ltv_cac(self) -> float | None:
        return self.ltv_minor / self.cac_minor if self.cac_minor > 0 else None


@dataclass(frozen=True)
class PromoterValueRow:
    """One promoter's line of a snapshot; money in whole minor units of `currency`."""

    promoter_id: str
    as_of: pd.Timestamp
    horizon_days: int
    currency: str
    channel: str
    segment_id: int | None
    segment_name: str | None
    customers: int
    realised_minor: int
    predicted_minor: int
    ltv_minor: int
    cac_minor: int
    commission_later_minor: int
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


@dataclass(frozen=True)
class PromoterValueReport:
    """One snapshot: per-promoter and per-channel rows as stored, plus derived views."""

    as_of: pd.Timestamp
    horizon_days: int
    currency: str
    promoters: pd.DataFrame
    channels: pd.DataFrame

    @property
    def totals(self) -> ValueTotals:
        p = self.promoters
        return ValueTotals(len(p), int(p["customers"].sum()), int(p["ltv_minor"].sum()),
                           int(p["cac_minor"].sum()))

    @property
    def has_segments(self) -> bool:
        return bool(self.promoters["segment_id"].notna().any())

    def segments(self) -> pd.DataFrame:
        """Per segment: promoters, customers, Σ LTV, Σ CAC, their ratio, and how many promoters
        are confidently below break-even. Promoters without a segment are one group."""
        p = self.promoters.assign(
            segment=self.promoters["segment_name"].fillna(UNSEGMENTED),
            losing=self.promoters["ltv_cac_high"] < BREAK_EVEN)
        g = p.groupby("segment", sort=True)
        out = pd.DataFrame({
            "promoters": g.size(), "customers": g["customers"].sum(),
            "ltv_minor": g["ltv_minor"].sum(), "cac_minor": g["cac_minor"].sum(),
            "median_ltv_cac_shrunk": g["ltv_cac_shrunk"].median(),
            "confidently_losing": g["losing"].sum()}).reset_index()
        cac = out["cac_minor"].to_numpy(float)
        out.insert(5, "ltv_cac", np.divide(out["ltv_minor"].to_numpy(float), cac,
                                          out=np.full(len(out), np.nan), where=cac > 0))
        return out.sort_values("ltv_cac", ascending=False, na_position="last",
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
            currency=self.currency, channel=str(row["channel"]),
            segment_id=None if pd.isna(segment) else int(segment),
            segment_name=None if pd.isna(row["segment_name"]) else str(row["segment_name"]),
            customers=int(row["customers"]), realised_minor=int(row["realised_minor"]),
            predicted_minor=int(row["predicted_minor"]), ltv_minor=int(row["ltv_minor"]),
            cac_minor=int(row["cac_minor"]),
            commission_later_minor=int(row["commission_later_minor"]),
            ltv_cac=_ratio(row["ltv_cac"]), ltv_cac_shrunk=_ratio(row["ltv_cac_shrunk"]),
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
        promoters = read_snapshot(self._root, at, PROMOTER_VALUE_TABLE)
        channels = read_snapshot(self._root, at, CHANNEL_VALUE_TABLE)
        first = promoters.iloc[0] if len(promoters) else channels.iloc[0]
        return PromoterValueReport(at, int(first["horizon_days"]), str(first["currency"]),
                                   promoters, channels)

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
