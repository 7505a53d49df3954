"""Proves drift alerts are per critical feature: a shifted refund rate alerts, the same
distribution does not, and `check_drift` compares with the champion's logged reference."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from training import drift, segments
from training.config import TrainingSettings


def _reference(n: int = 1_500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    refund = np.where(rng.random(n) < 0.3, rng.beta(1, 12, n), 0.0)
    return pd.DataFrame({"promoter_id": [f"P{i}" for i in range(n)], "refund_rate": refund,
                         "gmv_90d": rng.lognormal(5, 1.5, n), "constant": np.zeros(n)})


def test_shifted_refund_rate_alerts() -> None:
    reference, current = _reference(seed=0), _reference(seed=1)
    current["refund_rate"] = current["refund_rate"] + 0.15
    scores, alerts, skipped, _ = drift.detect_drift(current, reference, threshold=0.1)
    assert alerts == ["refund_rate"] and scores["refund_rate"] > 0.1
    assert scores["gmv_90d"] < 0.1 and skipped == ["constant"]


def test_unshifted_data_does_not_alert() -> None:
    scores, alerts, _, _ = drift.detect_drift(_reference(seed=1), _reference(seed=0), 0.1)
    assert alerts == [] and max(scores.values()) < 0.1


@pytest.mark.slow
def test_check_drift_against_the_champion(settings: TrainingSettings,
                                          profiles: pd.DataFrame) -> None:
    segments.train(settings, profiles, k_range=range(3, 4))
    calm = drift.check_drift(profiles, "segments", threshold=0.1)
    assert not calm.drifted and calm.run_id is not None
    shifted = profiles.assign(refund_rate=profiles["refund_rate"] + 0.3)
    alarm = drift.check_drift(shifted, "segments", threshold=0.1)
    assert alarm.alerts == ["refund_rate"]
    run = mlflow.get_run(alarm.run_id)
    assert run.data.tags["drift.alerts"] == "refund_rate"
    files = [a.path for a in mlflow.MlflowClient().list_artifacts(alarm.run_id, "drift")]
    assert "drift/drift_report.html" in files


def test_no_champion_is_a_clear_error(settings: TrainingSettings) -> None:
    with pytest.raises(LookupError, match="no champion"):
        drift.load_reference("never-trained")
