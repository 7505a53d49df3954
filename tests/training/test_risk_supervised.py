"""Proves labels from decisions: confirmed cases are 1 and dismissed 0 (open ones no label), no
model is trained below the configured minimum (in total or per outcome), the gate holds out the
latest decisions, and a trained model is registered as `models:/fenrun-risk-supervised@champion`,
loaded through `serving.champions` and joins the anomaly champion in the periodic scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.profiles.repository import load_raw_frames
from features.risk_rules import run_rules
from features.risk_score import supervised_features
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.risk_scan import SUPERVISED_MODEL, scan_books
from settlement.db import create_db_engine
from tests.training.mall import Mall
from training import anomaly
from training.config import TrainingSettings
from training.labels import load_promoter_labels
from training.risk_supervised import (
    SupervisedConfig,
    check_enough,
    decision_labels,
    fit_supervised,
    out_of_time_split,
    train,
)
from training.trainers import CannotTrain

SMALL = SupervisedConfig(min_labels=20, min_per_class=5, num_boost_round=30)


def test_decisions_become_labels_and_open_cases_none() -> None:
    decisions = pd.DataFrame({"outcome": ["confirmed", "dismissed", "open", "investigating"]})
    assert decision_labels(decisions).to_dict() == {0: 1, 1: 0}


def test_no_model_below_the_minimum_number_of_labels() -> None:
    features = pd.DataFrame({"x": np.arange(39.0)})
    labels = pd.Series([1, 0] * 19 + [1])
    with pytest.raises(CannotTrain, match="39 decided case.*at least 40 needed"):
        fit_supervised(features, labels)


def test_no_model_without_enough_of_each_outcome() -> None:
    with pytest.raises(CannotTrain, match="4 confirmed and 36 dismissed"):
        check_enough(pd.Series([1] * 4 + [0] * 36), SupervisedConfig())


def test_enough_labels_give_probabilities() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 2))
    labels = pd.Series((x[:, 0] > 0).astype(int))
    model = fit_supervised(pd.DataFrame(x, columns=["a", "b"]), labels, SMALL)
    p = model.predict(pd.DataFrame(x, columns=["a", "b"]))
    assert ((p >= 0) & (p <= 1)).all()
    assert p[labels == 1].mean() > p[labels == 0].mean() + 0.3


def test_the_gate_holds_out_the_latest_decisions() -> None:
    decided = pd.Series(pd.to_datetime(["2026-03-05", "2026-03-01", "2026-03-09", "2026-03-02"],
                                       utc=True))
    assert out_of_time_split(decided, 0.5).tolist() == [True, False, True, False]


@pytest.fixture(scope="module")
def decided(mall: Mall, profiles: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every fraudster confirmed and twice as many honest promoters dismissed, a day apart."""
    engine = create_db_engine(mall.database_url)
    try:
        frames = load_raw_frames(engine, mall.last_at)
    finally:
        engine.dispose()
    flags = run_rules(frames, pd.Timestamp(mall.last_at))
    labels = load_promoter_labels(mall.labels_path)
    kinds = profiles["promoter_id"].map(labels).fillna("none")
    fraud = list(profiles.index[kinds != "none"])
    honest = list(profiles.index[kinds == "none"][: 2 * len(fraud)])
    rows = fraud + honest
    features = supervised_features(profiles, flags).loc[rows].reset_index(drop=True)
    decisions = pd.DataFrame({
        "outcome": ["confirmed"] * len(fraud) + ["dismissed"] * len(honest),
        "decided_at": pd.Timestamp("2026-03-01", tz="UTC")
        + pd.to_timedelta(np.random.default_rng(1).permutation(len(rows)), unit="D")})
    return features, decisions


def test_trained_on_decisions_registered_and_joins_the_scan(
        settings: TrainingSettings, profiles: pd.DataFrame, mall: Mall,
        decided: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    features, decisions = decided
    outcome = train(settings, features, decisions, SMALL)
    assert outcome.decision.promoted and outcome.decision.alias == "champion"
    assert outcome.metrics["holdout"] == pytest.approx(np.ceil(0.25 * len(decisions)))
    anomaly.train(settings, profiles)
    registry = ChampionRegistry(ServingSettings(
        mlflow_tracking_uri=settings.mlflow_tracking_uri,
        feature_store_dir=settings.feature_store_dir))
    engine = create_db_engine(mall.database_url)
    try:
        champion = registry.get(SUPERVISED_MODEL)
        p = np.asarray(champion.model.predict(features)).reshape(-1)
        assert ((p >= 0) & (p <= 1)).all()
        with engine.connect() as conn:
            scan = scan_books(conn, mall.last_at, registry)
    finally:
        registry.close()
        engine.dispose()
    assert scan.supervised_version == champion.version
    scored = scan.scored
    assert scored["supervised_probability"].notna().all()
    assert len(scored) == len(profiles)
    assert (scored.loc[~scored["held"], "held_minor"] == 0).all()
    held = scan.held
    assert not held.empty and held["rules"].str.len().gt(0).all()
    row = scan.promoter(str(held.iloc[0]["promoter_id"]))
    assert row["flags"] and "evidence" in row["flags"][0]


def test_no_model_when_the_latest_decisions_hold_one_outcome(settings: TrainingSettings) -> None:
    features = pd.DataFrame({"x": np.arange(40.0)})
    decisions = pd.DataFrame({
        "outcome": ["dismissed", "confirmed"] * 15 + ["confirmed"] * 10,
        "decided_at": pd.date_range("2026-03-01", periods=40, freq="D", tz="UTC")})
    with pytest.raises(CannotTrain, match="latest 10 decided case.*all confirmed"):
        train(settings, features, decisions)
