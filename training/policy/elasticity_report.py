"""How close the learned elasticity e(x) is to the simulator's truth (evaluation only).

The oracle-share gap of the learned policy is almost all in e(x) (a decomposition on design
seeds), so each evaluated seed reports the two numbers that move it: the correlation of e(x)
with each promoter's true elasticity (the attributes explain only part of it, so the ceiling,
the correlation of the attribute-explained part with the truth, is beside it), and the mean of
e(x) against the true mean, plain and weighted by expected sales (a low mean makes the policy
underspend; the sales-weighted one is what moves margin). Honest selling promoters active at the
decision only: fraud agents' elasticity is a separate mechanism and non-sellers have no ratio.
"""

from __future__ import annotations

import numpy as np

from features.simulator.response import MAX_ELASTICITY, ResponseMall


def elasticity_report(estimate: np.ndarray, mall: ResponseMall, active: np.ndarray
                      ) -> dict[str, float]:
    """Correlation and means of `estimate` (one e per promoter) against the hidden elasticity."""
    scored = ~mall.fraud & (mall.base_orders > 0) & active.astype(bool)
    if scored.sum() < 3:
        return {}
    truth = mall.elasticity[scored]
    explained = np.clip(mall.explained_elasticity[scored], 0.0, MAX_ELASTICITY)
    e = estimate[scored]
    sales = (mall.base_orders * mall.basket_yuan)[scored]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0

    return {"corr": corr(e, truth), "corr_ceiling": corr(explained, truth),
            "mean": float(e.mean()), "mean_true": float(truth.mean()),
            "sales_weighted_mean": float(np.average(e, weights=sales)),
            "sales_weighted_mean_true": float(np.average(truth, weights=sales))}
