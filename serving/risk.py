"""Risk triage: the promoters the anomaly champion flagged, with the commission still unpaid.

`fenrun risk flag --as-of T` scores every promoter with the anomaly champion, flags the top share
(the review budget), names each flagged promoter's most unusual features and stores the list with
the promoter's balances (`features.profiles.store`, table `anomaly_flags`). This service reads it
and orders the work: a flagged promoter whose commission is still pending or available can be
held before it is paid out, so the money at stake is shown beside the score.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.profiles.store import ANOMALY_FLAGS_TABLE, list_snapshots, read_snapshot
from serving.config import ServingSettings
from serving.errors import UnknownPromoter
from serving.snapshots import pick


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
        return self.pending_minor + self.available_minor


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
        return int(self.flagged["unpaid_minor"].clip(lower=0).sum())

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
