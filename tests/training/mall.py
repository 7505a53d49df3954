"""A small simulated mall settled into a SQLite file: the shared data of the ML tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from features.simulator import SimulationConfig, simulate
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_json_line
from settlement.plan import PlanBook, parse_plan_text
from settlement.service import apply_events, release_due, sort_events

PROMOTERS, DAYS, SEED = 400, 120, 11


@dataclass(frozen=True)
class Mall:
    folder: Path
    database_url: str
    labels_path: Path
    last_at: datetime


def settle(folder: Path, name: str, until: datetime | None = None) -> tuple[str, datetime]:
    """Settle the mall's events (only those at or before `until`, if given) into `name`.db."""
    url = f"sqlite:///{folder / name}.db"
    engine = create_db_engine(url)
    upgrade(engine)
    plans = PlanBook(parse_plan_text((folder / "plan.yaml").read_text()))
    with (folder / "events.jsonl").open() as handle:
        events = sort_events(parse_json_line(line) for line in handle if line.strip())
    if until is not None:
        events = [e for e in events if e.ts <= until]
    apply_events(engine, plans, events, 2000)
    release_due(engine, plans, until or events[-1].ts)
    engine.dispose()
    return url, events[-1].ts


def build_mall(folder: Path, promoters: int = PROMOTERS, days: int = DAYS,
               seed: int = SEED) -> Mall:
    simulate(folder, SimulationConfig(promoters=promoters, days=days, seed=seed))
    url, last = settle(folder, "books")
    return Mall(folder, url, folder / "labels.csv", last)
