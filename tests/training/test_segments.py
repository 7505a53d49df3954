"""Proves segmentation: k by silhouette, readable names, reproducible metrics, ids stable across
retrains (Hungarian matching), the gate, the round trip through `models:/...@champion`, and that
serving and the Segments page read the champion's segments."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from serving import segments as serving_segments
from serving.champions import ChampionRegistry
from serving.config import ServingSettings
from serving.errors import NoChampion
from serving.model_health import ModelHealthService
from serving.segments import champion_segments
from tests.dashboards.apptest import VIEWS, run_script
from training import segments
from training.config import TrainingSettings
from training.registry import champion_uri, current_champion


@pytest.fixture(scope="module")
def first(settings: TrainingSettings, profiles: pd.DataFrame) -> segments.TrainOutcome:
    return segments.train(settings, profiles, k_range=range(3, 6))


def test_first_version_is_champion_and_loads(first, profiles: pd.DataFrame) -> None:  # noqa: ANN001
    assert first.decision.promoted and first.decision.version == "1"
    k = int(mlflow.get_run(first.run_id).data.params["k"])
    scores = {n: first.metrics[f"silhouette_train_k{n}"] for n in range(3, 6)}
    assert k == max(scores, key=scores.get)  # the stated criterion
    assert -1 <= first.metrics["silhouette_holdout"] <= 1
    model = mlflow.pyfunc.load_model(champion_uri("segments"))
    out = model.predict(profiles[list(segments.SEGMENT_FEATURES)])
    assert set(out["segment_id"]) <= set(range(k)) and len(out) == len(profiles)
    assert out["segment_name"].str.len().min() > 0
    assert "inactive" in " ".join(out["segment_name"].unique())  # many promoters never sell


def test_assign_tags_every_profiled_promoter_with_the_champions_segment(
        first, settings, profiles: pd.DataFrame) -> None:  # noqa: ANN001
    registry = ChampionRegistry(ServingSettings(mlflow_tracking_uri=settings.mlflow_tracking_uri))
    champion = registry.get("segments")
    assigned = serving_segments.assign(champion.model, profiles)  # the full profile frame
    registry.close()
    assert list(assigned["promoter_id"]) == list(profiles["promoter_id"])
    expected = mlflow.pyfunc.load_model(champion_uri("segments")).predict(
        profiles[list(segments.SEGMENT_FEATURES)])
    assert list(assigned["segment_id"]) == list(expected["segment_id"])
    assert list(assigned["segment_name"]) == list(expected["segment_name"])


def test_retrain_is_reproducible_stable_and_gated(first, settings, profiles) -> None:  # noqa: ANN001
    before = mlflow.pyfunc.load_model(champion_uri("segments")).predict(profiles)
    same = segments.train(settings, profiles, k_range=range(3, 6))
    assert same.metrics == first.metrics  # same data + seed -> same metrics
    assert not same.decision.registered  # ... and the same model: no new version
    assert same.decision.version == first.decision.version
    # one promoter fewer: new data, so a new version, which must win the gate to take over
    again = segments.train(settings, profiles.iloc[1:], k_range=range(3, 6))
    assert again.decision.registered and again.decision.version != first.decision.version
    if not again.decision.promoted:
        assert again.decision.alias == "challenger"
        assert str(current_champion("segments").version) == first.decision.version
    moved = mlflow.pyfunc.load_model(f"models:/fenrun-segments/{again.decision.version}")
    pd.testing.assert_frame_equal(moved.predict(profiles), before)  # same ids, same names


def test_hungarian_keeps_ids_when_clusters_come_back_permuted(profiles: pd.DataFrame) -> None:
    features = profiles[list(segments.SEGMENT_FEATURES)]
    pipeline = segments._pipeline(4, seed=1).fit(features)
    ids = segments.stable_ids(pipeline, None)
    previous = segments.SegmentModel(pipeline, ids, segments.name_segments(pipeline, ids),
                                     list(features.columns))
    shuffled = segments._pipeline(4, seed=1).fit(features)
    perm = np.array([2, 0, 3, 1])
    shuffled[-1].cluster_centers_ = shuffled[-1].cluster_centers_[perm]
    new_ids = segments.stable_ids(shuffled, previous)
    assert new_ids == [ids[p] for p in perm]
    grown = segments._pipeline(5, seed=1).fit(features)
    grown_ids = segments.stable_ids(grown, previous)
    assert sorted(grown_ids) == [0, 1, 2, 3, 4]  # four matched, one fresh id


def test_serving_reads_the_champions_segments(first, settings: TrainingSettings,
                                              tmp_path) -> None:  # noqa: ANN001
    serving = ServingSettings(mlflow_tracking_uri=settings.mlflow_tracking_uri,
                              mlflow_experiment=settings.mlflow_experiment,
                              feature_store_dir=str(tmp_path))
    catalogue = champion_segments(ModelHealthService(serving))
    model = mlflow.pyfunc.load_model(champion_uri("segments")).unwrap_python_model()
    assert catalogue.champion_version == first.decision.version
    assert {s.segment_id: s.name for s in catalogue.segments} == model.names
    assert sum(s.share for s in catalogue.segments) == pytest.approx(1.0)
    assert [s.share for s in catalogue.segments] == sorted(
        (s.share for s in catalogue.segments), reverse=True)
    assert set(catalogue.segments[0].centroid) == set(segments.SEGMENT_FEATURES)


def test_segments_page_lists_the_champions_segments(first, settings: TrainingSettings,
                                                    tmp_path, monkeypatch) -> None:  # noqa: ANN001
    app = run_script(VIEWS / "segments.py", monkeypatch, {
        "FENRUN_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "FENRUN_MLFLOW_EXPERIMENT": settings.mlflow_experiment,
        "FENRUN_FEATURE_STORE_DIR": str(tmp_path)}, timeout=60)  # no value snapshot
    table = app.dataframe[0].value
    model = mlflow.pyfunc.load_model(champion_uri("segments")).unwrap_python_model()
    assert dict(zip(table["id"], table["segment"], strict=True)) == model.names
    assert table["share %"].sum() == pytest.approx(100.0, abs=0.1)
    assert "LTV/CAC" not in table  # no snapshot: the page says nothing it cannot back


def test_no_segments_champion_is_a_named_error(tmp_path) -> None:  # noqa: ANN001
    empty = ServingSettings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(NoChampion, match="fenrun-segments"):
        champion_segments(ModelHealthService(empty))
