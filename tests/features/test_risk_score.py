"""Proves the risk score's combination: flags combine by noisy-OR of their confidences, one fraud
flag outranks every promoter without one whatever the models say, the models order promoters
within and among those groups, the commission cap alone never holds money, and a scan on
hand-built books returns each promoter's flags with their evidence."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.risk_rules import RULES
from features.risk_score import (
    RULE_FEATURE_PREFIX,
    SCORE_COLUMNS,
    RiskScoreConfig,
    ScanModels,
    combine,
    percentile,
    rule_features,
    rule_scores,
    score_promoters,
)
from tests.features.test_risk_rules import AS_OF, Book, promoter


def flags(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"promoter_id": p, "rule": r, "severity": s, "evidence": {}}
                         for p, r, s in rows], columns=["promoter_id", "rule", "severity",
                                                        "evidence"])


def test_rule_score_is_the_noisy_or_of_the_flag_confidences() -> None:
    config = RiskScoreConfig(confidence={"a": {"medium": 0.5}, "b": {"high": 0.8}})
    found = flags(("P1", "a", "medium"), ("P1", "b", "high"), ("P2", "a", "medium"))
    scores = rule_scores(found, pd.Series(["P1", "P2", "P3"]), config)
    assert scores["P1"] == pytest.approx(1 - 0.5 * 0.2)  # 0.9
    assert scores["P2"] == pytest.approx(0.5)
    assert scores["P3"] == 0.0


def test_an_unknown_rule_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="flags.rule: no confidence for 'mystery'"):
        rule_scores(flags(("P1", "mystery", "high")), pd.Series(["P1"]))


def test_one_fraud_flag_outranks_any_model_score_and_models_rank_within() -> None:
    rule = np.array([0.0, 0.0, 0.6, 0.6])
    anomaly = np.array([1.0, 0.1, 0.0, 0.9])  # the most anomalous promoter has no flag
    score = combine(rule, anomaly)
    assert score[2] > score[0] and score[3] > score[0]  # 0.48 > 0.2: rules carry the score
    assert score[3] > score[2] and score[0] > score[1]  # the model orders within each group
    assert score[0] == pytest.approx(0.2) and score[3] == pytest.approx(0.8 * 0.6 + 0.2 * 0.9)


def test_the_supervised_percentile_is_averaged_with_the_anomaly_one() -> None:
    score = combine(np.zeros(2), np.array([1.0, 0.5]), np.array([0.0, 0.5]))
    assert score == pytest.approx([0.1, 0.1])


def test_percentile_is_scale_free_and_ties_share_their_rank() -> None:
    assert percentile(np.array([10.0, -3.0, 10.0, 7.0])) == pytest.approx(
        [3.5 / 4, 1 / 4, 3.5 / 4, 2 / 4])


def test_weights_outside_their_range_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="model_weight"):
        RiskScoreConfig(model_weight=1.0)
    with pytest.raises(ValueError, match="confidence.x.high"):
        RiskScoreConfig(confidence={"x": {"high": 1.0}})


def test_rule_features_have_one_fixed_column_per_rule() -> None:
    table = rule_features(flags(("P1", "velocity", "high")), pd.Series(["P1", "P2"]))
    assert list(table.columns) == [f"{RULE_FEATURE_PREFIX}{r}" for r in RULES]
    assert table.loc["P1", "rule_velocity"] == 0.9 and table.loc["P2"].sum() == 0.0


class Constant:
    """A detector that calls P3 the most unusual promoter, whatever the books say."""

    feature_names_in_ = np.array(["orders_total", "gmv_total"])

    def score_samples(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([-1.0 if i == "P3" else -0.1 for i in self.ids])

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids


def self_referring_books() -> Any:
    """P1 buys three times from a second account on its own phone; P2 and P3 sell honestly."""
    book = Book()
    for n in range(3):
        book.sell("P1", f"alt{n}", "dP1", "iP1")
    book.sell("P2", "c1", "dc1", "ic1")
    book.sell("P3", "c2", "dc2", "ic2")
    return book.frames([promoter("P1"), promoter("P2"), promoter("P3")])


def test_a_scan_ranks_the_flagged_promoter_first_and_carries_its_evidence() -> None:
    frames = self_referring_books()
    scored = score_promoters(frames, AS_OF, ScanModels(Constant(["P1", "P2", "P3"])))
    assert list(scored.columns) == list(SCORE_COLUMNS)
    assert list(scored["promoter_id"]) == ["P1", "P3", "P2"]  # the flag first, then the model
    assert list(scored["rank"]) == [1, 2, 3]
    assert list(scored["held"]) == [True, False, False]
    first = json.loads(scored.loc[0, "flags"])
    assert first[0]["rule"] == "self_referral"
    assert first[0]["evidence"]["order_count"] == 3
    assert json.loads(scored.loc[1, "flags"]) == []
    assert np.isnan(scored["supervised_probability"]).all()


def test_the_commission_cap_alone_holds_nothing() -> None:
    book = Book()
    book.sell("P1", "c1", "dc1", "ic1")
    frames = book.frames([promoter("P1"), promoter("P2")])
    commissions = pd.DataFrame({"promoter_id": ["P1"], "ts": [AS_OF - pd.Timedelta(days=3)],
                                "amount_minor": [50_000]})
    frames = type(frames)(frames.promoters, frames.touches, frames.orders, frames.attributions,
                          frames.refunds, commissions)
    scored = score_promoters(frames, AS_OF, ScanModels(Constant(["P1", "P2"])))
    row = scored.set_index("promoter_id").loc["P1"]
    assert row["rules"] == "commission_cap"
    assert not row["held"] and row["score"] < 0.5


class Probability:
    """A classifier that is sure P2 is fraud and P3 is not."""

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        assert "rule_self_referral" in data.columns
        return np.array([0.1, 1.0, 0.0])


def test_the_supervised_model_joins_the_model_part_of_the_score() -> None:
    frames = self_referring_books()
    ids = ["P1", "P2", "P3"]
    scored = score_promoters(frames, AS_OF, ScanModels(Constant(ids), Probability()))
    by_id = scored.set_index("promoter_id")
    assert by_id.loc["P2", "supervised_probability"] == 1.0
    # P2: anomaly percentile 1.5/3 (tied lowest with P1), supervised 3/3;
    # P3: anomaly 3/3, supervised 1/3: the classifier moves P2 above P3.
    assert by_id.loc["P2", "model_score"] == pytest.approx((1.5 / 3 + 1.0) / 2)
    assert by_id.loc["P3", "model_score"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert list(scored["promoter_id"]) == ["P1", "P2", "P3"]
