"""The learned policy end to end on a small mall: the response model recovers who reacts, the
evaluation compares every policy on the same luck within budget and without guardrail violations,
and without exploration it refuses to guess (cold start)."""

from __future__ import annotations

import numpy as np
import pytest

from features.simulator.response import build_mall
from features.simulator.response_config import ResponseConfig
from features.simulator.response_run import log_history
from serving.guardrails import GuardrailSettings, RateGuard
from training.policy.config import PolicyConfig
from training.policy.data import decision_frame, training_frame
from training.policy.evaluation import EvaluationRequest, cadence_rule, evaluate_policies
from training.policy.response_model import fit_response

CFG = ResponseConfig(response_spread=0.6)
POLICY = PolicyConfig(trees=60, min_explored_rows_per_arm=50)


@pytest.mark.slow
def test_the_response_model_ranks_reactive_promoters_above_inert_ones() -> None:
    mall = build_mall(CFG, 3000, 5)
    history = log_history(mall, 8, 0.3, cadence_rule(mall, POLICY))
    frame = training_frame(history.log, mall.observable(), CFG.plan_rate)
    model = fit_response(frame, np.asarray(CFG.ladder), CFG.upline_rate, POLICY)
    decision = decision_frame(history.log, mall.observable(), history.state.active)
    e = model.elasticity("kept", decision).mean(0)
    sellers = (mall.base_orders > 1) & ~mall.fraud
    assert np.corrcoef(e[sellers], mall.elasticity[sellers])[0, 1] > 0.3
    preds = model.predict_arms(decision)
    assert (np.diff(preds.kept, axis=1) >= -1e-9).all()  # monotone in the rate


def test_training_rows_never_read_their_own_outcome() -> None:
    mall = build_mall(CFG, 200, 2)
    history = log_history(mall, 3, 0.2, np.zeros(len(mall), dtype=np.int64))
    frame = training_frame(history.log, mall.observable(), CFG.plan_rate)
    first = frame.loc[frame["cycle"] == 0]
    assert first["log_level"].isna().all()  # nothing earlier to know
    second = frame.loc[frame["cycle"] == 1].set_index("promoter")
    cycle0 = history.log.loc[history.log["cycle"] == 0].set_index("promoter")
    kept0 = (cycle0["kept_minor"] / 100).reindex(second.index)
    plan0 = np.isclose(cycle0["rate"].reindex(second.index), CFG.plan_rate)
    assert plan0.any() and (~plan0).any()
    assert np.allclose(second.loc[plan0, "log_level"], np.log1p(kept0[plan0]))
    # an explored cycle never enters the level: it would hide its own carry-over
    assert second.loc[~plan0, "log_level"].isna().all()


@pytest.mark.slow
def test_evaluation_compares_all_policies_within_budget_and_guardrails() -> None:
    request = EvaluationRequest(2500, (3,), 4, 0.10, CFG, POLICY)
    result = evaluate_policies(request, RateGuard(GuardrailSettings()))
    seed = result["seeds"][0]
    assert set(seed["policies"]) == {"fixed", "threshold", "learned", "attribute_oracle",
                                     "oracle"}
    assert isinstance(seed["attribute_ceiling_share"], float)
    assert seed["guardrail_violations"] == 0
    assert seed["budget_ok"]
    assert seed["policies"]["oracle"]["margin"] > seed["policies"]["fixed"]["margin"]
    assert {"estimate", "low", "high", "truth"} <= set(seed["ope"]["learned"])


def test_without_exploration_the_policy_says_so_and_does_not_guess() -> None:
    request = EvaluationRequest(300, (4,), 2, 0.0, CFG, POLICY)
    seed = evaluate_policies(request, RateGuard(GuardrailSettings()))["seeds"][0]
    assert seed["status"].startswith("cold_start")
    assert "ope" not in seed
