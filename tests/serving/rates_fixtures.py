"""Shared data of the rate suggestion tests: a small simulated mall settled into books, and a
rate policy champion registered in a temporary MLflow store (`fenrun policy register`'s own
functions with a small mall), each built once per process."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from features.simulator import SimulationConfig, simulate
from features.simulator.response_config import ResponseConfig
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_json_line
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.service import sort_events
from tests.drift_store import _empty_store
from training.config import TrainingSettings
from training.policy.config import PolicyConfig
from training.policy.register import learn_from_simulation, register_policy

PROMOTERS, DAYS, SEED = 150, 75, 5
POLICY = PolicyConfig(trees=30, bags=3, min_explored_rows_per_arm=50)


@dataclass(frozen=True)
class MallFiles:
    folder: Path
    plan_text: str
    events: list  # parsed events, in settlement order


@cache
def mall_files() -> MallFiles:
    folder = Path(tempfile.mkdtemp(prefix="fenrun-rates-mall-"))
    atexit.register(shutil.rmtree, folder, True)
    simulate(folder, SimulationConfig(promoters=PROMOTERS, days=DAYS, seed=SEED))
    with (folder / "events.jsonl").open() as handle:
        events = sort_events(parse_json_line(line) for line in handle if line.strip())
    return MallFiles(folder, (folder / "plan.yaml").read_text(), events)


def new_books(url: str, until: datetime | None = None):
    """Books at `url` holding the plan and the mall's events (those at or before `until`)."""
    from settlement.ingest import Ingest

    files = mall_files()
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(files.plan_text))
    events = [e for e in files.events if until is None or e.ts <= until]
    ingest = Ingest(engine, 2000)
    ingest.apply(events)
    return engine


@cache
def policy_store() -> str:
    """A tracking URI whose rate policy and response model champions exist."""
    folder = Path(tempfile.mkdtemp(prefix="fenrun-rates-mlflow-"))
    atexit.register(shutil.rmtree, folder, True)
    shutil.copyfile(_empty_store(), folder / "mlflow.db")
    settings = TrainingSettings(mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", seed=7,
                                mlflow_artifact_root=str(folder / "artifacts"),
                                mlflow_experiment="fenrun-test")
    model, frame, decision = learn_from_simulation(ResponseConfig(response_spread=0.6), 1000,
                                                   11, 6, 0.3, POLICY)
    done = register_policy(settings, model, frame, decision, POLICY)
    if not done.policy.promoted:
        raise RuntimeError(f"the test policy was not promoted: {done.policy.rule}")
    return settings.mlflow_tracking_uri
