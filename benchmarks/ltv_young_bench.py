"""How good is the carried forecast of a young history? Simulate a mall that runs on after it.

A cutoff with `history_days` of books before it asks for a `horizon_days` forecast longer than
that history allows a label window for (`training.ltv.windows`: the supervised model learns a
shorter window w and is carried to h by the BG/NBD ratio). The simulation runs past cutoff + h,
so the forecast is scored against what the customers then spent, beside BG/NBD alone (fitted at
the cutoff, predicting h) and the historical average. Two other carries are printed for
comparison: linear (× h/w for everyone) and none (the w-day forecast as it is).

    python -m benchmarks.ltv_young_bench      # FENRUN_BENCH_SEEDS=21,22,23 FENRUN_BENCH_DIR=...
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.ltv_bench import MALL_CALENDAR, load, simulate_and_settle
from training.ltv.calendar import NO_CALENDAR, parse_calendar
from training.ltv.evaluation import BGNBD, CANDIDATE, NAIVE, evaluate_ltv
from training.ltv.metrics import evaluate, format_table

START = pd.Timestamp("2026-01-01T00:00Z")  # features.simulator.SimulationConfig.start


def carried_scores(history, history_days: int, horizon_days: int, seed: int,
                   calendar) -> dict[str, dict[str, float]]:
    """Metrics of the carried candidate, its linear and no-carry variants, and the baselines."""
    result = evaluate_ltv(history, START + pd.Timedelta(days=history_days), horizon_days,
                          seed=seed, calendar=calendar)
    held, actual = result.split.evaluation.frame, result.predictions["actual"].to_numpy()
    plan = result.plan
    assert plan is not None
    scores = {f"{CANDIDATE} {result.model.kind}": result.metrics[
        next(k for k in result.metrics if k.startswith(CANDIDATE))]}
    if result.model.carried:
        short = result.model.over(plan.label_days).predict(held)
        scores["linear h/w"] = evaluate(actual, short * horizon_days / plan.label_days)
        scores["no carry (w)"] = evaluate(actual, short)
    scores[BGNBD] = result.metrics[BGNBD]
    scores[NAIVE] = result.metrics[NAIVE]
    print(f"\nhistory {history_days} d -> horizon {horizon_days} d: {result.method}; "
          f"{len(held):,} customers, recalibration x{result.model.recalibration:.3f}")
    print(format_table(scores))
    return scores


def run(seeds: tuple[int, ...], promoters: int, days: int, folder: str | None,
        cases: tuple[tuple[int, int], ...], use_calendar: bool) -> None:
    calendar = parse_calendar(MALL_CALENDAR) if use_calendar else NO_CALENDAR
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            where = Path(folder or scratch) / f"mall-s{seed}-p{promoters}-d{days}"
            if not (where / "books.db").exists():
                where.mkdir(parents=True, exist_ok=True)
                simulate_and_settle(where, promoters, days, seed)
            history, _ = load(where)
            print(f"\n=== seed {seed}: {len(history.orders):,} orders, calendar "
                  f"{'yes' if use_calendar else 'no'}")
            for history_days, horizon_days in cases:
                carried_scores(history, history_days, horizon_days, seed, calendar)


if __name__ == "__main__":
    run(tuple(int(s) for s in os.environ.get("FENRUN_BENCH_SEEDS", "21,22,23").split(",")),
        int(os.environ.get("FENRUN_BENCH_PROMOTERS", "5000")),
        int(os.environ.get("FENRUN_BENCH_DAYS", "450")), os.environ.get("FENRUN_BENCH_DIR"),
        ((180, 270), (90, 180)), os.environ.get("FENRUN_BENCH_LTV_CALENDAR", "1") != "0")
