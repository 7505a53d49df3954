"""Proves the periodic scan point-in-time (books that also hold what came after T scan the same
as of T as books settled only up to T) and the loop from scan to labels on a settled simulated
mall: the scan's held promoters open cases (a second scan of the same books opens nothing new),
no supervised model is trained while too few cases are decided, and once the risk team has
confirmed and dismissed enough, the model is trained on exactly those decisions, with features
as of each case's opening."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.risk_cases import open_cases
from serving.risk_scan import RiskScan, open_scan_cases, scan_books
from settlement.db import create_db_engine
from settlement.plan import PlanBook, parse_plan_text
from settlement.risk_actions import confirm_case, dismiss_case
from settlement.risk_cases import MAX_LISTED, list_cases
from settlement.risk_domain import CaseStatus
from tests.training.mall import Mall, settle
from training import anomaly
from training.config import TrainingSettings
from training.labels import load_promoter_labels
from training.risk_supervised import SupervisedConfig, train_from_cases
from training.trainers import CannotTrain

REVIEWED = 24  # promoters beyond the held ones the team reviews (top of the score)


@pytest.fixture(scope="module")
def books(mall: Mall, settings: TrainingSettings, profiles: pd.DataFrame,
          tmp_path_factory: pytest.TempPathFactory) -> TrainingSettings:
    """A copy of the mall's books (cases and reversals must not leak into other tests) and an
    anomaly champion in this module's MLflow store."""
    folder: Path = tmp_path_factory.mktemp("books")
    source = Path(mall.database_url.removeprefix("sqlite:///"))
    shutil.copy(source, folder / "books.db")
    own = settings.model_copy(update={"database_url": f"sqlite:///{folder / 'books.db'}"})
    anomaly.train(own, profiles)
    return own


def scan(settings: TrainingSettings, mall: Mall, at: datetime | None = None,
         url: str | None = None) -> RiskScan:
    registry = ChampionRegistry(ServingSettings(mlflow_tracking_uri=settings.mlflow_tracking_uri,
                                                feature_store_dir=settings.feature_store_dir))
    engine = create_db_engine(url or settings.database_url)
    try:
        with engine.connect() as conn:
            return scan_books(conn, at or mall.last_at, registry)
    finally:
        registry.close()
        engine.dispose()


def test_the_scan_as_of_t_ignores_what_the_books_learnt_later(books: TrainingSettings,
                                                              mall: Mall) -> None:
    cut = (mall.last_at - timedelta(days=30)).replace(microsecond=0)
    cut_url, _ = settle(mall.folder, "risk-scan-cut", until=cut)
    later, then = scan(books, mall, cut), scan(books, mall, cut, cut_url)
    columns = ["promoter_id", "score", "rank", "held", "rules", "flags", "anomaly_score"]
    pd.testing.assert_frame_equal(later.scored[columns], then.scored[columns])
    assert then.held["rules"].str.len().gt(0).all() and len(then.held) > 0
    assert not scan(books, mall).scored[columns].equals(later.scored[columns])


def test_scan_opens_cases_decisions_train_the_model(books: TrainingSettings, mall: Mall) -> None:
    engine = create_db_engine(books.database_url)
    try:
        found = scan(books, mall)
        held = set(found.held["promoter_id"])
        assert held
        first = open_scan_cases(engine, found)
        assert open_scan_cases(engine, found) == first  # the same flags join the same cases
        with engine.connect() as conn:
            active = list_cases(conn, limit=MAX_LISTED)
        assert {c.promoter_id for c in active} == held
        assert found.model_version.startswith("anomaly:")

        with pytest.raises(CannotTrain, match="0 decided case"):
            train_from_cases(books)

        # The team also reviews the top of the unheld promoters (a model flag opens the case).
        extra = found.scored.loc[~found.scored["held"]].head(REVIEWED)
        open_cases(engine, pd.DataFrame({
            "promoter_id": extra["promoter_id"], "rule": "anomaly", "severity": "medium",
            "evidence": [{"score": round(float(s), 4)} for s in extra["score"]]}))
        labels = load_promoter_labels(mall.labels_path)
        plans = PlanBook(parse_plan_text((mall.folder / "plan.yaml").read_text()))
        with engine.connect() as conn:
            cases = list_cases(conn, limit=MAX_LISTED)
        for case in sorted(cases, key=lambda c: c.promoter_id):  # outcomes mixed in time
            if labels.get(case.promoter_id, "none") != "none":
                confirm_case(engine, plans, case.case_id, by="analyst")
            else:
                dismiss_case(engine, case.case_id, by="analyst", note="honest seller")
        with engine.connect() as conn:
            decided = list_cases(conn, [CaseStatus.CONFIRMED, CaseStatus.DISMISSED], MAX_LISTED)
    finally:
        engine.dispose()
    confirmed = sum(1 for c in decided if c.status == CaseStatus.CONFIRMED)
    assert len(decided) == len(cases) and confirmed >= 3

    with pytest.raises(CannotTrain, match=f"{len(decided)} decided case"):
        train_from_cases(books, SupervisedConfig(min_labels=len(decided) + 1))
    outcome = train_from_cases(books, SupervisedConfig(min_labels=20, min_per_class=3,
                                                       num_boost_round=30))
    assert outcome.metrics["labels"] == len(decided)
    assert outcome.metrics["confirmed"] == confirmed
    assert outcome.decision.alias == "champion", (outcome.metrics, outcome.decision.rule)
