"""The probability stored with each proposed rate is the true probability of the exploration
rule that drew it: measured frequencies over many draws match it, at the ladder's edges too."""

from __future__ import annotations

import numpy as np
import pytest

from serving.rate_suggest import explore_one_step

ARMS = 7


@pytest.mark.parametrize("share", [0.02, 0.1, 0.5])
def test_stored_propensities_match_measured_frequencies(share: float) -> None:
    draws = 40_000
    rng = np.random.default_rng(5)
    for chosen in (0, 3, ARMS - 1):
        arm = np.full(draws, chosen)
        served, propensity, moved = explore_one_step(arm, ARMS, share, rng)
        assert ((served != arm) == moved).all()
        assert (np.abs(served - arm) <= 1).all() and served.min() >= 0 and served.max() < ARMS
        for value in np.unique(served):
            measured = float((served == value).mean())
            stored = propensity[served == value]
            assert np.allclose(stored, stored[0])  # one probability per outcome
            sd = np.sqrt(stored[0] * (1 - stored[0]) / draws)
            assert abs(measured - stored[0]) < 5 * sd + 1e-12, (chosen, value)


def test_no_exploration_keeps_every_choice_with_certainty() -> None:
    arm = np.arange(ARMS)
    served, propensity, moved = explore_one_step(arm, ARMS, 0.0, np.random.default_rng(1))
    assert (served == arm).all() and (propensity == 1.0).all() and not moved.any()
