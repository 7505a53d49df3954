"""Settings of the rate policy: budget, exploration kept, evidence needed, cadence by segment.

Read once at an entry point (the CLI or the benchmark) and passed down. Every value is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """What the learned policy, the baselines and the evaluation share.

    `budget_share`: commission (both levels) at most this share of net GMV, every cycle.
    `budget_safety`: the planner aims this far below the budget, since realised spend is noisy
    (0.003: with 0.002 one strong-response design seed reached 12.53 % in a cycle).
    `exploration_keep`: share of promoter-cycles the learned policy still randomises (one ladder
    step around its choice) so the next model can learn.
    `min_explored_rows_per_arm`: below this many explored rows on any arm, the policy refuses to
    guess (cold start) and proposes the plan rate plus a randomised exploration instead.
    Threshold rule: raise a step when kept margin / commission (a per-cycle LTV/CAC) is above
    `threshold_raise`, lower a step when below `threshold_lower`.
    `bags`: promoter-bootstrap fits of e(x), averaged; 16 beat 8 and 3 on design seeds 1-5
    (static oracle share 0.48 / 0.44 / 0.40), at ~1 s more per fit.
    `elasticity_trees`: boosting rounds of e(x); few, since the explored rows are few and noisy
    (20 beat 50 and 120 on design seeds 1-3: static oracle share 0.42 / 0.36 / 0.31).
    Cadence: immediate settlement for promoters of grade index >= `immediate_min_grade` with
    tenure >= `immediate_min_tenure` cycles who are not flagged; standard for everyone else.
    """

    budget_share: float = 0.125
    budget_safety: float = 0.003
    exploration_keep: float = 0.02
    cold_start_exploration: float = 0.05
    min_explored_rows_per_arm: int = 200
    threshold_raise: float = 3.0
    threshold_lower: float = 1.5
    immediate_min_grade: int = 2
    immediate_min_tenure: int = 6
    bags: int = 16
    trees: int = 120
    elasticity_trees: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "budget_share": (self.budget_share, 0.01, 0.5),
            "budget_safety": (self.budget_safety, 0.0, 0.05),
            "exploration_keep": (self.exploration_keep, 0.0, 0.5),
            "cold_start_exploration": (self.cold_start_exploration, 0.0, 0.5),
            "min_explored_rows_per_arm": (self.min_explored_rows_per_arm, 1, 10**7),
            "threshold_raise": (self.threshold_raise, 0.0, 100.0),
            "threshold_lower": (self.threshold_lower, 0.0, 100.0),
            "immediate_min_grade": (self.immediate_min_grade, 0, 10),
            "immediate_min_tenure": (self.immediate_min_tenure, 0, 1000),
            "bags": (self.bags, 2, 32),
            "trees": (self.trees, 10, 5000),
            "elasticity_trees": (self.elasticity_trees, 5, 5000),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise ValueError(f"{name}: {value} is outside {low}..{high}")
        if self.threshold_lower >= self.threshold_raise:
            raise ValueError(f"threshold_lower: {self.threshold_lower} must be below "
                             f"threshold_raise {self.threshold_raise}")
