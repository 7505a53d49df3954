"""The response simulator: common random numbers, a hidden truth apart from what policies see,
responses that rise with the rate, churn on sharp cuts, fraud that jumps with its rate, and a log
whose propensities are those of the logging policy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from features.simulator.response import (
    arm_expectations,
    attribute_response,
    build_mall,
    downline_spill_margin,
    initial_state,
    response,
)
from features.simulator.response_config import ResponseConfig
from features.simulator.response_run import log_history, step

CFG = ResponseConfig()


def _mall(n: int = 400, seed: int = 3, **kw: float):
    return build_mall(ResponseConfig(**kw), n, seed)


def test_same_rates_same_seed_same_outcome() -> None:
    mall = _mall()
    rate = np.full(len(mall), CFG.plan_rate)
    cad = np.zeros(len(mall), dtype=np.int64)
    a, _ = step(mall, initial_state(mall), rate, cad)
    b, _ = step(mall, initial_state(mall), rate, cad)
    assert (a.gmv_minor == b.gmv_minor).all() and (a.margin_minor == b.margin_minor).all()


def test_common_random_numbers_a_raise_never_loses_orders_by_luck() -> None:
    mall = _mall(fraud_share=0.0)
    cad = np.zeros(len(mall), dtype=np.int64)
    low, _ = step(mall, initial_state(mall), np.full(len(mall), 0.08), cad)
    high, _ = step(mall, initial_state(mall), np.full(len(mall), 0.14), cad)
    assert (high.orders >= low.orders).all()
    assert high.orders.sum() > low.orders.sum()


def test_policies_never_see_the_hidden_response() -> None:
    mall = _mall()
    seen = set(mall.observable().columns)
    assert not seen & {"elasticity", "fraud", "base_orders"}
    assert {"elasticity", "fraud"} <= set(mall.labels().columns)
    assert "response_mean" in CFG.as_metadata()


def test_expected_sales_rise_with_the_rate_and_response_mean_shapes_them() -> None:
    flat = _mall(response_mean=0.05, response_spread=0.05, fraud_share=0.0)
    steep = _mall(response_mean=1.2, response_spread=0.3, fraud_share=0.0)
    cad = np.zeros(len(flat), dtype=np.int64)
    for mall in (flat, steep):
        gmv = arm_expectations(mall, initial_state(mall), cad)["gmv"]
        assert (np.diff(gmv, axis=1) >= -1e-9).all()
    lift = [arm_expectations(m, initial_state(m), cad)["gmv"].sum(0) for m in (flat, steep)]
    assert lift[1][-1] / lift[1][3] > lift[0][-1] / lift[0][3] + 0.3


def test_with_attributes_explaining_everything_the_attribute_view_is_the_truth() -> None:
    mall = _mall(observable_share=1.0)
    cad = (np.arange(len(mall)) % 2).astype(np.int64)
    rates = np.asarray(CFG.ladder)
    truth = response(mall, np.broadcast_to(rates, (len(mall), len(rates))), cad)
    assert np.allclose(attribute_response(mall, rates, cad), truth, rtol=1e-9)


def test_the_attribute_view_is_the_expectation_over_the_unexplained_noise() -> None:
    cfg = ResponseConfig(observable_share=0.5, response_spread=0.8, fraud_share=0.0)
    mall = build_mall(cfg, 50, 4)
    rates = np.asarray(cfg.ladder)
    cad = np.zeros(len(mall), dtype=np.int64)
    view = attribute_response(mall, rates, cad)
    # Monte Carlo of the same draw: e = clip(explained + spread * sqrt(1 - share) * z, 0, 3)
    z = np.random.default_rng(0).standard_normal(200_000)
    sd = cfg.response_spread * np.sqrt(1 - cfg.observable_share)
    for promoter in (0, 17, 42):
        e = np.clip(mall.explained_elasticity[promoter] + sd * z, 0.0, 3.0)
        sampled = ((rates[:, None] / cfg.plan_rate) ** e[None, :]).mean(axis=1)
        assert np.allclose(view[promoter], sampled, rtol=0.01)
    # the truth differs promoter by promoter (the noise), but not on average over the mall
    truth = response(mall, np.broadcast_to(rates, view.shape), cad)
    assert not np.allclose(view, truth, rtol=0.05)


def test_a_sharp_cut_makes_promoters_leave_and_a_small_one_does_not() -> None:
    mall = _mall(n=2000, base_churn_per_cycle=0.0, churn_cut_prob=0.5)
    cad = np.zeros(len(mall), dtype=np.int64)
    _, gentle = step(mall, initial_state(mall), np.full(len(mall), 0.08), cad)
    _, sharp = step(mall, initial_state(mall), np.full(len(mall), 0.04), cad)
    assert gentle.active.all()
    assert 0.4 < 1 - sharp.active.mean() < 0.6


def test_fraud_agents_refund_more_when_their_rate_rises() -> None:
    mall = _mall(n=2000, fraud_share=0.1)
    cad = np.zeros(len(mall), dtype=np.int64)
    low = arm_expectations(mall, initial_state(mall), cad)
    fraud = mall.fraud
    refund_share = 1 - low["kept"][fraud].sum(0) / low["gmv"][fraud].sum(0)
    assert refund_share[-1] > refund_share[0] + 0.3
    assert low["margin"][fraud, -1].sum() < low["margin"][fraud, 3].sum()


def test_one_cycle_truth_with_the_downline_spill_is_what_a_cycle_earns_on_average() -> None:
    # a strong spill (every extra order of a raised downline also made by its upline) so that
    # leaving it out of the truth is visible above the luck of 300 redrawn cycles
    mall = _mall(n=600, spill_share=1.0)
    cad = np.zeros(len(mall), dtype=np.int64)
    rng = np.random.default_rng(5)
    ladder = np.asarray(CFG.ladder)
    arm = rng.integers(0, len(ladder), len(mall))
    state = initial_state(mall)
    rows = np.arange(len(mall))
    own = arm_expectations(mall, state, cad, "next")["margin"][rows, arm]
    spill = downline_spill_margin(mall, state, ladder[arm], cad)[rows, arm]
    totals = [step(dataclasses.replace(mall, seed=luck), state, ladder[arm], cad)[0]
              .margin_minor.sum() / 100 for luck in range(300)]
    mean, se = np.mean(totals), np.std(totals, ddof=1) / np.sqrt(len(totals))
    assert spill.sum() > 8 * se
    assert abs(mean - (own + spill).sum()) < 4 * se


def test_history_logs_the_propensity_of_every_served_rate() -> None:
    mall = _mall(n=1000)
    history = log_history(mall, 4, 0.2, np.zeros(len(mall), dtype=np.int64))
    log = history.log
    explored = (log["reason"] == "explore").mean()
    assert 0.15 < explored < 0.25
    plan = log["arm"] == CFG.plan_arm
    assert np.allclose(log.loc[plan, "propensity"], 0.8 + 0.2 / 7)
    assert np.allclose(log.loc[~plan, "propensity"], 0.2 / 7)
    assert len(history.states) == 4


def test_block_exploration_holds_the_drawn_rate_and_stays_within_the_share() -> None:
    mall = _mall(n=6000)
    history = log_history(mall, 8, 0.1, np.zeros(len(mall), dtype=np.int64), block=2)
    log = history.log.sort_values(["promoter", "cycle"])
    explore = (log["reason"] == "explore").to_numpy().reshape(len(mall), 8)
    arm = log["arm"].to_numpy().reshape(len(mall), 8)
    assert explore.mean() <= 0.1
    assert explore[:, 1:].mean() > 0.09
    starts = explore & ~np.concatenate([np.zeros((len(mall), 1), bool), explore[:, :-1]], axis=1)
    # every block runs two cycles on one rate (a block that starts last is cut by the end)
    inside = starts[:, :-1]
    assert (arm[:, 1:][inside] == arm[:, :-1][inside]).all()
    assert (explore[:, 1:][inside]).all()
    # the logged propensity is the rate's marginal probability at that cycle
    for cycle in range(8):
        rows = history.log.loc[history.log["cycle"] == cycle]
        share = float(np.mean(rows["arm"] == 0))
        propensity = float(rows.loc[rows["arm"] == 0, "propensity"].iloc[0])
        assert abs(share - propensity) < 0.01


def test_bad_configuration_names_the_field() -> None:
    with pytest.raises(ValueError, match="response_spread"):
        ResponseConfig(response_spread=-1)
    with pytest.raises(ValueError, match="plan_rate"):
        ResponseConfig(plan_rate=0.11)
    with pytest.raises(ValueError, match="promoters"):
        build_mall(CFG, 5, 1)
