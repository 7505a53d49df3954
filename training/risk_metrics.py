"""How a promoter risk score is judged against fraud labels (issue 14's evaluation), pure.

- `pr_auc`: average precision (fraud is rare: ROC-AUC flatters);
- `precision_top`: the share of fraud among the top `share` of promoters (at least one);
- `threshold_at_fpr` / `recall_by_type`: the operating point that flags at most `fpr` of the honest
  promoters (ties at the threshold are *not* flagged, so the bound holds), and the share of each
  fraud type above it;
- `rings_from_labels` / `rings_caught_share`: referral rings are the inviter chains among the
  promoters labelled `referral_ring`; a ring is caught when one of its members is flagged (its
  case names every member);
- `amount_share`: the share of an amount (commission, unpaid money) on the flagged promoters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

CLEAN = "none"
RING = "referral_ring"


def _check(scores: np.ndarray, labels: np.ndarray) -> None:
    if len(scores) != len(labels):
        raise ValueError(f"scores: {len(scores)} values for {len(labels)} labels")


def pr_auc(scores: np.ndarray, is_fraud: np.ndarray) -> float:
    """Average precision of `scores` for `is_fraud`; NaN when one class is missing."""
    _check(scores, is_fraud)
    positives = int(np.sum(is_fraud))
    if positives == 0 or positives == len(is_fraud):
        return math.nan
    return float(average_precision_score(is_fraud, scores))


def _ranked(scores: np.ndarray) -> np.ndarray:
    """Row positions by score, highest first; ties keep row order (stable)."""
    return np.argsort(-np.asarray(scores, dtype="float64"), kind="stable")


def precision_top(scores: np.ndarray, is_fraud: np.ndarray, share: float = 0.01) -> float:
    """Fraud share among the top ceil(share · n) promoters (at least one); NaN when empty."""
    _check(scores, is_fraud)
    if not 0 < share <= 1:
        raise ValueError(f"share: {share!r} must be in (0, 1]")
    if len(scores) == 0:
        return math.nan
    k = max(1, math.ceil(share * len(scores)))
    return float(np.asarray(is_fraud)[_ranked(scores)[:k]].mean())


def threshold_at_fpr(scores: np.ndarray, is_honest: np.ndarray, fpr: float = 0.01) -> float:
    """The score above which (strictly) at most floor(fpr · honest) honest promoters lie.

    It is the (allowed + 1)-th highest honest score; -inf without honest promoters or when the
    budget covers all of them.
    """
    _check(scores, is_honest)
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr: {fpr!r} must be in [0, 1)")
    honest = np.sort(np.asarray(scores, dtype="float64")[np.asarray(is_honest, dtype=bool)])[::-1]
    allowed = math.floor(fpr * len(honest))
    if allowed >= len(honest):
        return -math.inf
    return float(honest[allowed])


def recall_by_type(scores: np.ndarray, fraud_type: np.ndarray, threshold: float
                   ) -> dict[str, float]:
    """Per fraud type (every label but `none`), the share of its promoters scoring > threshold."""
    _check(scores, fraud_type)
    above = np.asarray(scores, dtype="float64") > threshold
    types = np.asarray(fraud_type, dtype=object)
    return {kind: float(above[types == kind].mean())
            for kind in sorted(set(types.tolist()) - {CLEAN})}


def rings_from_labels(promoters: pd.DataFrame, labels: Mapping[str, str]) -> list[set[str]]:
    """The injected rings: connected inviter chains among promoters labelled `referral_ring`
    (`promoters` has `promoter_id` and `parent_id`), largest first, then by smallest id."""
    members = {p for p, kind in labels.items() if kind == RING}
    graph = nx.Graph()
    graph.add_nodes_from(sorted(members))
    chained = promoters.loc[promoters["promoter_id"].isin(members)
                            & promoters["parent_id"].isin(members)]
    graph.add_edges_from(zip(chained["promoter_id"], chained["parent_id"], strict=True))
    rings = [set(c) for c in nx.connected_components(graph)]
    return sorted(rings, key=lambda r: (-len(r), min(r)))


def rings_caught_share(rings: Iterable[set[str]], flagged: set[str]) -> float:
    """Share of rings with at least one flagged member; NaN without rings."""
    rings = list(rings)
    if not rings:
        return math.nan
    return sum(1 for ring in rings if ring & flagged) / len(rings)


def amount_share(amounts_minor: Mapping[str, int], flagged: set[str],
                 among: set[str]) -> float:
    """Σ amount of `among ∩ flagged` / Σ amount of `among` (negative amounts count 0: money a
    promoter owes is not money a hold protects); NaN when the total is 0."""
    total = sum(max(int(amounts_minor.get(p, 0)), 0) for p in among)
    if total == 0:
        return math.nan
    caught = sum(max(int(amounts_minor.get(p, 0)), 0) for p in among & flagged)
    return caught / total
