"""Proves the BG/NBD and Gamma-Gamma fits recover the parameters of data sampled from the models."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.ltv_fixtures import sample_bgnbd, sample_gamma_gamma
from training.ltv.bgnbd import BgNbd, GammaGamma, bgnbd_log_likelihood


def test_bgnbd_recovers_known_parameters() -> None:
    truth = {"r": 0.6, "alpha": 4.0, "a": 2.0, "b": 6.0}
    data = sample_bgnbd(12_000, seed=11, **truth)
    fitted = BgNbd.fit(data["x"], data["t_x"], data["T"])
    for name, value in truth.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.25), name
    # The implied mean purchase rate r/alpha is identified much more tightly than r and alpha.
    assert fitted.r / fitted.alpha == pytest.approx(truth["r"] / truth["alpha"], rel=0.08)


def test_bgnbd_likelihood_prefers_the_truth() -> None:
    data = sample_bgnbd(3000, r=0.6, alpha=4.0, a=2.0, b=6.0, seed=5)
    at_truth = bgnbd_log_likelihood(np.array([0.6, 4.0, 2.0, 6.0]), **data).sum()
    elsewhere = bgnbd_log_likelihood(np.array([2.0, 1.0, 3.0, 1.0]), **data).sum()
    assert np.isfinite(at_truth) and at_truth > elsewhere


def test_expected_purchases_behave() -> None:
    model = BgNbd(r=0.6, alpha=4.0, a=2.0, b=6.0)
    x, t_x, T = np.array([0.0, 3, 3]), np.array([0.0, 20, 2]), np.array([30.0, 30, 30])
    short, long = model.expected_purchases(4, x, t_x, T), model.expected_purchases(26, x, t_x, T)
    assert np.all(short >= 0) and np.all(long > short)
    # Same frequency, but a recent last purchase means more future purchases than an old one.
    assert long[1] > long[2]
    assert model.p_alive(x, t_x, T)[0] == 1.0


def test_gamma_gamma_recovers_known_parameters() -> None:
    means, counts = sample_gamma_gamma(30_000, p=6.0, q=4.0, gamma=15.0, seed=2)
    fitted = GammaGamma.fit(means, counts)
    assert fitted.p == pytest.approx(6.0, rel=0.1)
    assert fitted.q == pytest.approx(4.0, rel=0.1)
    assert fitted.gamma == pytest.approx(15.0, rel=0.15)
    assert fitted.p * fitted.gamma / (fitted.q - 1) == pytest.approx(30.0, rel=0.02)
    # Expected spend shrinks an individual mean towards the population mean p*gamma/(q-1).
    population = fitted.p * fitted.gamma / (fitted.q - 1)
    high = fitted.expected_value(np.array([population * 3]), np.array([1.0]))[0]
    assert population < high < population * 3
