"""Risk triage: the promoters the anomaly champion flagged, with the commission still unpaid.

`fenrun risk flag --as-of T` scores every promoter with the anomaly champion, flags the top share
(the review budget), names each flagged promoter's most unusual features and stores the list with
the promoter's balances (`features.profiles.store`, table `anomaly_flags`). This service reads it
and orders the work: a flagged promoter whose commission is still pending or available can be
held before it is paid out, so the money at stake is shown beside the score.

`build_flags` makes that list: the anomaly champion's flags (`serving.anomaly.flag`) joined with
each promoter's balances read through `settlement.reports`. "Unpaid commission" is one rule,
`unpaid_minor` (with `at_stake_minor` for a total), used by the builder, the rows and the totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from features.profiles.store import (
    ANOMALY_FLAGS_TABLE,
    list_snapshots,
    read_snapshot,
    write_snapshot,
)
from serving.anomaly import ALERT_SHARE, flag
from serving.champions import Champion
from serving.config import ServingSettings
from serving.errors import UnknownPromoter
from serving.snapshots import pick
from settlement.reports import books_currencies, promoter_balances

BALANCE_COLUMNS = ("pending_minor", "available_minor", "paid_minor", "clawback_minor")


def unpaid_minor(pending_minor: int, available_minor: int) -> int:
    """Commission a promoter has earned and not been paid: pending + available, what a hold can
    still protect. A claw-back owed is already netted into `available` (it can go negative)."""
    return pending_minor + available_minor


def at_stake_minor(unpaid: pd.Series) -> int:
    """Σ unpaid over some promoters; one who owes claw-backs counts 0, not a negative amount
    (a hold protects nothing there, and must not hide another promoter's money)."""
    return int(unpaid.clip(lower=0).sum())


@dataclass(frozen=True)
class RiskRow:
    """One promoter's line of a flag list; money in whole minor units of `currency`."""

    promoter_id: str
    as_of: pd.Timestamp
    currency: str
    model_version: str
    score: float
    rank: int
    flagged: bool
    reasons: tuple[str, ...]
    pending_minor: int
    available_minor: int
    paid_minor: int
    clawback_minor: int

    @property
    def unpaid_minor(self) -> int:
        return unpaid_minor(self.pending_minor, self.available_minor)


@dataclass(frozen=True)
class TriageList:
    """One flag snapshot: every scored promoter, and the flagged ones in review order."""

    as_of: pd.Timestamp
    currency: str
    model_version: str
    scored: pd.DataFrame

    @property
    def flagged(self) -> pd.DataFrame:
        """Flagged promoters, most anomalous first."""
        rows = self.scored[self.scored["flagged"]]
        return rows.sort_values("rank", ignore_index=True)

    @property
    def unpaid_at_stake_minor(self) -> int:
        """Commission the flagged promoters have earned and not been paid (what a hold protects);
        a promoter who owes claw-backs counts 0, not a negative amount."""
        return at_stake_minor(self.flagged["unpaid_minor"])

    def promoter(self, promoter_id: str) -> RiskRow:
        """The promoter's line; `UnknownPromoter` when the list did not score it."""
        rows = self.scored[self.scored["promoter_id"] == promoter_id]
        if rows.empty:
            raise UnknownPromoter(promoter_id, self.as_of.isoformat(), "anomaly flag list")
        row = rows.iloc[0]
        reasons = tuple(r for r in str(row["reasons"]).split("; ") if r)
        return RiskRow(promoter_id, self.as_of, self.currency, self.model_version,
                       float(row["score"]), int(row["rank"]), bool(row["flagged"]), reasons,
                       int(row["pending_minor"]), int(row["available_minor"]),
                       int(row["paid_minor"]), int(row["clawback_minor"]))

    def by_money_at_stake(self) -> pd.DataFrame:
        """Flagged promoters with unpaid commission, largest first: where a hold matters most."""
        rows = self.flagged[self.flagged["unpaid_minor"] > 0]
        return rows.sort_values(["unpaid_minor", "rank"], ascending=[False, True],
                                ignore_index=True)


class RiskService:
    """Reads the anomaly flag snapshots under `feature_store_dir`."""

    def __init__(self, settings: ServingSettings) -> None:
        self._root = settings.feature_store_dir

    def snapshots(self) -> list[pd.Timestamp]:
        """As-of instants with a stored flag list, newest first."""
        return sorted(list_snapshots(self._root, ANOMALY_FLAGS_TABLE), reverse=True)

    def triage(self, as_of: pd.Timestamp | None = None) -> TriageList:
        """The flag list of `as_of`, or the newest; `NoSnapshot` when there is none."""
        at = pick(self.snapshots(), as_of, "anomaly flag list",
                  "fenrun risk flag --as-of DATE")
        scored = read_snapshot(self._root, at, ANOMALY_FLAGS_TABLE)
        first = scored.iloc[0]
        return TriageList(at, str(first["currency"]), str(first["model_version"]), scored)


def build_flags(champion: Champion, profiles: pd.DataFrame, books: Connection,
                alert_share: float = ALERT_SHARE) -> TriageList:
    """Score and flag every profiled promoter (one as-of) with the anomaly champion and attach
    the balances the books hold *now*: what a hold can still protect, whatever the as-of.

    `ValueError` when `profiles` is empty (nobody to score) or holds several as-of instants.
    """
    if profiles.empty:
        raise ValueError("profiles: no promoter to score (nobody had joined by then)")
    stamps = profiles["as_of"].unique()
    if len(stamps) != 1:
        raise ValueError(f"profiles: one as_of expected, got {len(stamps)}")
    flags = flag(champion.model, profiles, alert_share)
    currency = books_currencies(books)[0]
    balances = promoter_balances(books, currency)
    for column in BALANCE_COLUMNS:
        flags[column] = [getattr(balances[p], column) if p in balances else 0
                         for p in flags["promoter_id"]]
    flags["unpaid_minor"] = [unpaid_minor(p, a) for p, a in
                             zip(flags["pending_minor"], flags["available_minor"], strict=True)]
    at = pd.Timestamp(stamps[0])
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    flags.insert(0, "as_of", at)
    flags.insert(1, "currency", currency)
    flags.insert(2, "model_version", champion.version)
    return TriageList(at, currency, champion.version, flags)


def store_flags(triage: TriageList, root: str | Path) -> Path:
    """Store the list as the `anomaly_flags` snapshot of its as-of (a rerun replaces it)."""
    return write_snapshot(triage.scored, root, ANOMALY_FLAGS_TABLE)
