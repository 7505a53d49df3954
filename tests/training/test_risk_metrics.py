"""Proves the risk evaluation's metrics on cases computed by hand: average precision, precision
in the top 1 %, the 1 %-FPR threshold (never more honest promoters above it than allowed, ties
included), recall per fraud type, rings rebuilt from inviter chains and caught by one member,
and money shares that ignore what a promoter owes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training.risk_metrics import (
    amount_share,
    pr_auc,
    precision_top,
    recall_by_type,
    rings_caught_share,
    rings_from_labels,
    threshold_at_fpr,
)


def test_pr_auc_by_hand() -> None:
    # Ranked: F, H, F, H -> precision at each fraud: 1/1, 2/3 -> AP = (1 + 2/3) / 2.
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert pr_auc(scores, np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    assert math.isnan(pr_auc(scores, np.zeros(4)))


def test_precision_in_the_top_share_takes_at_least_one() -> None:
    scores = np.arange(200, dtype=float)  # the top 1 % is the two highest: rows 199 and 198
    fraud = np.zeros(200, dtype=int)
    fraud[199] = 1
    assert precision_top(scores, fraud, 0.01) == 0.5
    assert precision_top(np.array([0.1, 0.9]), np.array([0, 1]), 0.01) == 1.0
    with pytest.raises(ValueError, match="share"):
        precision_top(scores, fraud, 0.0)


def test_threshold_at_fpr_allows_floor_of_the_share_of_honest_promoters() -> None:
    honest_scores = np.arange(250, dtype=float)  # 250 honest: 1 % allows 2 above the threshold
    threshold = threshold_at_fpr(honest_scores, np.ones(250, dtype=bool), 0.01)
    assert threshold == 247.0  # 248 and 249 lie above, strictly
    assert int((honest_scores > threshold).sum()) == 2


def test_ties_at_the_threshold_are_not_flagged() -> None:
    scores = np.array([5.0, 5.0, 5.0, 1.0, 9.0])
    honest = np.array([True, True, True, True, False])
    threshold = threshold_at_fpr(scores, honest, 0.30)  # 4 honest: one may be flagged
    assert threshold == 5.0
    assert int((scores[honest] > threshold).sum()) == 0  # none flagged rather than three


def test_recall_per_fraud_type_above_the_threshold() -> None:
    scores = np.array([0.9, 0.2, 0.8, 0.95, 0.1])
    kinds = np.array(["self_referral", "self_referral", "device_farm", "none", "none"])
    assert recall_by_type(scores, kinds, 0.5) == {"self_referral": 0.5, "device_farm": 1.0}


def test_rings_are_the_inviter_chains_of_ring_members() -> None:
    promoters = pd.DataFrame({
        "promoter_id": ["A", "R1", "R2", "R3", "S1", "S2", "S3", "H"],
        "parent_id": [None, "A", "R1", "R2", "H", "S1", "S2", "A"]})
    labels = {p: "referral_ring" for p in ["R1", "R2", "R3", "S1", "S2", "S3"]}
    labels.update({"A": "none", "H": "none"})
    rings = rings_from_labels(promoters, labels)
    assert rings == [{"R1", "R2", "R3"}, {"S1", "S2", "S3"}]
    assert rings_caught_share(rings, {"R2", "H"}) == 0.5
    assert math.isnan(rings_caught_share([], {"R2"}))


def test_money_shares_count_debts_as_zero() -> None:
    unpaid = {"H1": 10_000, "H2": 30_000, "H3": -5_000, "F1": 99_000}
    honest = {"H1", "H2", "H3"}
    assert amount_share(unpaid, {"H1", "H3", "F1"}, honest) == pytest.approx(0.25)
    assert math.isnan(amount_share({"H3": -5_000}, {"H3"}, {"H3"}))
