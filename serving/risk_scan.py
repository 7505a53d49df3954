"""The periodic risk scan: every promoter scored by the rules and the champions, with reasons.

`scan_books(books, as_of, champions)` reads the books as of `as_of` through the profile
repository (which reads only `settlement.read_model`), runs the explainable rules
(`features.risk_rules`), builds the profiles, scores them with the anomaly champion and, once
decided cases allowed one, the supervised champion (`models:/fenrun-risk-supervised@champion`;
without it the scan runs on the anomaly model alone), and combines everything into one score
(`features.risk_score`: rules carry most of it). Each row carries its flags with their evidence
(JSON), the model's most unusual features, and the money a hold would keep: the promoter's
unpaid commission (pending + available, never below 0) when a rule holds it, else 0.

Point in time: rules, profiles and model inputs see only what was booked by `as_of`; the
balances are the books' *current* ones (what a hold can still protect), as in `serving.risk`.
`store_scan` keeps the result as the `risk_scan` snapshot of its as-of; `open_scan_cases` hands
the held promoters' flags (with their evidence) to the case store (`serving.risk_cases`), where
they join each promoter's active case: re-running a scan over the same books opens nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from features.profiles.domain import as_utc, restrict_to
from features.profiles.repository import load_raw_frames
from features.profiles.service import build_profiles
from features.profiles.store import write_snapshot
from features.risk_rules import DEFAULT_CONFIG, FLAG_COLUMNS, RiskRuleConfig, run_rules
from features.risk_score import DEFAULT_SCORE_CONFIG, RiskScoreConfig, ScanModels, score_promoters
from serving.anomaly import ANOMALY_MODEL
from serving.champions import Champion, ChampionRegistry
from serving.errors import NoChampion, UnknownPromoter
from serving.risk_cases import open_cases
from settlement.read_model import books_currencies, promoter_balances

SUPERVISED_MODEL = "risk-supervised"
RISK_SCAN_TABLE = "risk_scan"


@dataclass(frozen=True)
class RiskScan:
    """One scan: every promoter, highest score first, and the model versions that scored it."""

    as_of: pd.Timestamp
    currency: str
    anomaly_version: str
    supervised_version: str | None
    scored: pd.DataFrame

    @property
    def held(self) -> pd.DataFrame:
        """Promoters a rule holds, by money held then score: the cases to open first."""
        rows = self.scored[self.scored["held"]]
        return rows.sort_values(["held_minor", "rank"], ascending=[False, True],
                                ignore_index=True)

    @property
    def model_version(self) -> str:
        """The models that scored, as a case's flags record them: `anomaly:3+risk-supervised:1`."""
        supervised = f"+{SUPERVISED_MODEL}:{self.supervised_version}" if (
            self.supervised_version) else ""
        return f"{ANOMALY_MODEL}:{self.anomaly_version}{supervised}"

    @property
    def held_minor(self) -> int:
        return int(self.scored["held_minor"].sum())

    def promoter(self, promoter_id: str) -> dict[str, Any]:
        """One promoter's line with its flags decoded; `UnknownPromoter` when not scanned."""
        rows = self.scored[self.scored["promoter_id"] == promoter_id]
        if rows.empty:
            raise UnknownPromoter(promoter_id, self.as_of.isoformat(), "risk scan")
        row = rows.iloc[0].to_dict()
        row["flags"] = json.loads(row["flags"])
        return row


def _optional(registry: ChampionRegistry, name: str) -> Champion | None:
    try:
        return registry.get(name)
    except NoChampion:
        return None  # no case history yet: the anomaly model ranks alone


def scan_books(books: Connection, as_of: datetime, registry: ChampionRegistry,
               rules: RiskRuleConfig = DEFAULT_CONFIG,
               config: RiskScoreConfig = DEFAULT_SCORE_CONFIG) -> RiskScan:
    """Scan every promoter who joined by `as_of` (module doc).

    `NoChampion` without an anomaly champion (`fenrun train anomaly`); `ValueError` naming
    `as_of` when nobody had joined by then.
    """
    at = as_utc(as_of)
    anomaly = registry.get(ANOMALY_MODEL)  # first: a missing champion is cheap to report
    supervised = _optional(registry, SUPERVISED_MODEL)
    frames = restrict_to(load_raw_frames(books, at.to_pydatetime()), at)
    profiles = build_profiles(frames, at)
    flags = run_rules(frames, at, rules)
    models = ScanModels(anomaly.model, supervised.model if supervised is not None else None)
    scored = score_promoters(frames, at, models, rules, config, profiles=profiles, flags=flags)
    currency = books_currencies(books)[0]
    balances = promoter_balances(books, currency)
    unpaid = [max(balances[p].pending_minor + balances[p].available_minor, 0)
              if p in balances else 0 for p in scored["promoter_id"]]
    scored["unpaid_minor"] = unpaid
    scored["held_minor"] = scored["unpaid_minor"].where(scored["held"], 0).astype("int64")
    scored["anomaly_version"] = anomaly.version
    scored["supervised_version"] = supervised.version if supervised is not None else ""
    return RiskScan(at, currency, anomaly.version,
                    supervised.version if supervised is not None else None, scored)


def store_scan(scan: RiskScan, root: str | Path) -> Path:
    """Store the scan as the `risk_scan` snapshot of its as-of (a rerun replaces it)."""
    return write_snapshot(scan.scored.assign(currency=scan.currency), root, RISK_SCAN_TABLE)


def held_flags(scan: RiskScan) -> pd.DataFrame:
    """Every flag of the held promoters (`FLAG_COLUMNS`, evidence as dicts), by promoter."""
    rows = [{"promoter_id": row.promoter_id, **flag}
            for row in scan.held.sort_values("promoter_id").itertuples()
            for flag in json.loads(row.flags)]
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS))


def open_scan_cases(engine: Engine, scan: RiskScan, actor: str = "risk-scan") -> list[int]:
    """Record the held promoters' flags as cases; the ids of the cases they opened or joined."""
    flags = held_flags(scan)
    if flags.empty:
        return []
    return open_cases(engine, flags, actor=actor, model_version=scan.model_version)
