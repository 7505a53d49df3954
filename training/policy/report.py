"""The evaluation's table and its summary against the quality bar of issue 11."""

from __future__ import annotations

import numpy as np

POLICIES = ("fixed", "threshold", "learned", "attribute_oracle", "oracle")


def summarise(result: dict) -> dict[str, float | int | None]:
    """Median/worst oracle share, wins over the threshold rule, budget, OPE accuracy, fraud."""
    seeds = result["seeds"]
    shares = [s["oracle_share"] for s in seeds if s["oracle_share"] is not None]
    ceilings = [s["attribute_ceiling_share"] for s in seeds
                if s.get("attribute_ceiling_share") is not None]
    of_ceiling = [s["share_of_attribute_ceiling"] for s in seeds
                  if s.get("share_of_attribute_ceiling") is not None]
    beats = [s["policies"]["learned"]["margin"] > s["policies"]["threshold"]["margin"]
             for s in seeds]
    ope = [s["ope"]["learned"] for s in seeds if "ope" in s]
    within = [abs(o["estimate"] - o["truth"]) <= 0.05 * abs(o["truth"]) for o in ope]
    covered = [o["low"] <= o["truth"] <= o["high"] for o in ope]
    fraud = [s["fraud"]["fraud_share_of_raises"] <= s["fraud"]["fraud_base_rate"] for s in seeds]
    return {
        "seeds": len(seeds),
        "oracle_share_median": float(np.median(shares)) if shares else None,
        "oracle_share_worst": float(np.min(shares)) if shares else None,
        "attribute_ceiling_share_median": float(np.median(ceilings)) if ceilings else None,
        "share_of_attribute_ceiling_median": float(np.median(of_ceiling)) if of_ceiling else None,
        "beats_threshold_share": float(np.mean(beats)),
        "budget_ok_all": int(all(s["budget_ok"] for s in seeds)),
        "guardrail_violations": int(sum(s["guardrail_violations"] for s in seeds)),
        "dr_within_5pct_share": float(np.mean(within)) if ope else None,
        "dr_coverage_share": float(np.mean(covered)) if ope else None,
        "fraud_raises_at_or_below_base_share": float(np.mean(fraud)),
    }


def format_table(result: dict) -> str:
    """One line per seed: 12-cycle margin per policy (yuan), oracle share, budget, OPE."""
    head = (f"{'seed':>5} " + " ".join(f"{p:>16}" for p in POLICIES)
            + f" {'share':>7} {'budget':>6} {'DR':>10} {'truth':>10} {'status':<10}")
    lines = [head]
    for s in result["seeds"]:
        margins = " ".join(f"{s['policies'][p]['margin']:>16,.0f}" for p in POLICIES)
        share = "   n/a" if s["oracle_share"] is None else f"{s['oracle_share']:>7.2f}"
        dr = s.get("ope", {}).get("learned", {})
        lines.append(f"{s['seed']:>5} {margins} {share} {str(s['budget_ok']):>6} "
                     f"{dr.get('estimate', float('nan')):>10.2f} "
                     f"{dr.get('truth', float('nan')):>10.2f} {s['status'][:10]:<10}")
    summary = summarise(result)
    lines.append("summary: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in summary.items()))
    return "\n".join(lines)
