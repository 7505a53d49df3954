"""Guardrails: each named rule passes, clips, blocks or asks for approval as its threshold says,
they run in a fixed order, and every trail replays to its final rate (property-tested)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.guardrails import (
    RULE_NAMES,
    GuardrailSettings,
    Outcome,
    Proposal,
    RateGuard,
    replay,
    review,
    review_batch,
)

S = GuardrailSettings()


def _p(current: float = 0.10, proposed: float = 0.12, **kw: object) -> Proposal:
    base: dict[str, object] = {"orders": 50, "cycles_since_change": 5}
    base.update(kw)
    return Proposal(1, current, proposed, **base)  # type: ignore[arg-type]


def _verdict(decision, rule: str):
    return next(v for v in decision.trail if v.rule == rule)


def test_rules_run_in_the_fixed_order() -> None:
    assert RULE_NAMES == ("kill_switch", "risk_flag", "min_evidence", "cooldown", "max_step",
                          "floor_ceiling", "budget", "approval")
    assert [v.rule for v in review(_p(), S).trail] == list(RULE_NAMES)


def test_kill_switch_blocks_every_change() -> None:
    d = review(_p(), GuardrailSettings(kill_switch=True))
    assert _verdict(d, "kill_switch").outcome is Outcome.BLOCK and d.final_rate == 0.10


def test_no_raise_on_the_risk_list_but_a_cut_passes() -> None:
    assert review(_p(flagged=True), S).final_rate == 0.10
    assert review(_p(proposed=0.08, flagged=True), S).final_rate == 0.08


def test_minimum_evidence_orders_and_interval_width() -> None:
    assert _verdict(review(_p(orders=1), S), "min_evidence").outcome is Outcome.BLOCK
    wide = review(_p(relative_width=5.0), S)
    assert _verdict(wide, "min_evidence").outcome is Outcome.BLOCK
    assert review(_p(relative_width=0.5), S).final_rate == 0.12


def test_cooldown_blocks_a_change_too_soon_after_the_last() -> None:
    assert review(_p(cycles_since_change=0), S).final_rate == 0.10
    assert review(_p(cycles_since_change=1), S).final_rate == 0.12


def test_max_step_clips_to_one_step() -> None:
    d = review(_p(proposed=0.16), S)
    assert _verdict(d, "max_step").outcome is Outcome.CLIP
    assert d.final_rate == pytest.approx(0.12)


def test_category_ceiling_and_compliance_cap_clip() -> None:
    s = GuardrailSettings(category_ceiling=((4, 0.08),), max_step=0.1, approval_above=0.1)
    d = review(_p(proposed=0.14, category=4), s)
    assert _verdict(d, "floor_ceiling").outcome is Outcome.CLIP
    assert d.final_rate == pytest.approx(0.08)
    capped = review(_p(proposed=0.20), GuardrailSettings(max_step=0.2, approval_above=0.2))
    assert capped.final_rate == pytest.approx(0.16)


def test_budget_blocks_a_raise_beyond_the_allowance_and_shares_it_in_order() -> None:
    first = _p(cost_current=0.0, cost_proposed=6.0)
    second = _p(cost_current=0.0, cost_proposed=6.0)
    decisions = review_batch([first, second], S, allowance=10.0)
    assert [d.final_rate for d in decisions] == [0.12, 0.10]
    assert _verdict(decisions[1], "budget").outcome is Outcome.BLOCK


def test_over_budget_a_cut_passes_and_frees_allowance_and_a_raise_is_blocked() -> None:
    """A mall already spending 858.19 over its budget: a cut saving 12.87 moves toward the
    budget (it was blocked before, leaving every suggestion of the demo mall blocked)."""
    cut = _p(proposed=0.08, cost_current=100.0, cost_proposed=87.13)
    rise = _p(cost_current=0.0, cost_proposed=5.0)
    decisions = review_batch([cut, rise], S, allowance=-858.19)
    assert [d.final_rate for d in decisions] == [0.08, 0.10]
    assert _verdict(decisions[0], "budget").outcome is Outcome.PASS
    assert decisions[0].allowance_after == pytest.approx(-858.19 + 12.87)
    assert _verdict(decisions[1], "budget").outcome is Outcome.BLOCK


def test_a_large_change_needs_approval() -> None:
    s = GuardrailSettings(max_step=0.06, approval_above=0.02)
    d = review(_p(proposed=0.16), s)
    assert _verdict(d, "approval").outcome is Outcome.NEEDS_APPROVAL
    assert d.final_rate == 0.10


def test_bad_thresholds_name_the_field() -> None:
    with pytest.raises(ValueError, match="max_step"):
        GuardrailSettings(max_step=2.0)
    with pytest.raises(ValueError, match="floor"):
        GuardrailSettings(floor=0.2)


RATES = st.sampled_from([0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.02])
proposals = st.builds(
    Proposal, promoter=st.integers(0, 10), current_rate=RATES, proposed_rate=RATES,
    flagged=st.booleans(), orders=st.integers(0, 20),
    relative_width=st.one_of(st.none(), st.floats(0, 5)),
    cycles_since_change=st.integers(0, 3), category=st.integers(0, 6),
    cost_current=st.floats(-100, 100), cost_proposed=st.floats(-100, 100))
guard_settings = st.builds(
    GuardrailSettings, kill_switch=st.booleans(), min_orders=st.integers(0, 5),
    cooldown_cycles=st.integers(0, 2), max_step=st.sampled_from([0.02, 0.04]),
    category_ceiling=st.sampled_from([(), ((4, 0.08),)]),
    approval_above=st.sampled_from([0.02, 0.04]))


@settings(max_examples=2000, deadline=None)
@given(proposal=proposals, s=guard_settings, allowance=st.floats(-50, 200))
def test_every_trail_replays_to_its_final_rate_and_obeys_the_rules(
        proposal: Proposal, s: GuardrailSettings, allowance: float) -> None:
    decision = review(proposal, s, allowance)
    assert replay(decision, s, allowance) == decision.final_rate
    final, current = decision.final_rate, proposal.current_rate
    low, high = s.bounds(proposal.category)
    assert low - 1e-9 <= final <= high + 1e-9  # the compliance clip applies even to a held rate
    changed = abs(final - current) > 1e-9
    if changed and low <= current <= high:
        assert abs(final - current) <= min(s.max_step, s.approval_above) + 1e-9
        assert low - 1e-9 <= final <= high + 1e-9
        assert not s.kill_switch
        assert proposal.cycles_since_change >= s.cooldown_cycles
        assert proposal.orders >= s.min_orders
    if proposal.flagged:  # no raise, except up to the contractual floor
        assert final <= max(current, low) + 1e-9


def test_a_tampered_trail_does_not_replay() -> None:
    decision = review(_p(proposed=0.16), S)
    forged = decision.trail[:4] + (decision.trail[4].__class__(
        "max_step", Outcome.PASS, 0.16, 0.16),) + decision.trail[5:]
    with pytest.raises(ValueError, match="trail"):
        replay(decision.__class__(decision.proposal, forged, 0.16), S)


def test_allowed_arms_match_what_review_lets_through() -> None:
    guard = RateGuard(S)
    ladder = np.array([0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16])
    current = np.array([0.10, 0.10, 0.16, 0.04])
    allowed = guard.allowed_arms(ladder, current, np.array([False, True, False, False]),
                                 np.array([5, 5, 0, 5]), np.array([0, 0, 0, 0]))
    for i in range(len(current)):
        for a, rate in enumerate(ladder):
            d = review(Proposal(i, float(current[i]), float(rate),
                                flagged=i == 1, orders=100,
                                cycles_since_change=[5, 5, 0, 5][i]), S)
            assert allowed[i, a] == (abs(d.final_rate - rate) < 1e-9)
