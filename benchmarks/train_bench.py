"""Feature and training cost at scale: profiles, segments and anomaly on a large simulated mall.

Settling 100,000 promoters x 365 days through the ledger takes far longer than the ML work (see
`settle_bench`), so by default the raw frames come straight from the simulator's events with a
simplified attribution (each order to the customer's last touch within 30 days, else the promoter
they registered with; commission a flat 10 %). Everything after that is the production code:
`build_profiles`, `segments.train`, `anomaly.train` with a temporary MLflow store, and the
customer LTV model (`training.ltv.evaluate_ltv`: BG/NBD + Gamma-Gamma, historical average and the
LightGBM candidate fitted and scored out of time at the default cutoff, with the mall's promotion
calendar) on a `History` made from the same frames. Peak RSS is the process high-water mark from
`resource.getrusage`.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd

from benchmarks.ltv_bench import MALL_CALENDAR
from features.profiles import RawFrames, build_profiles
from features.simulator import SimulationConfig, simulate
from training import anomaly, segments
from training.config import TrainingSettings
from training.ltv.calendar import parse_calendar
from training.ltv.evaluation import evaluate_ltv
from training.ltv.history import NO_PROMOTER, History, make_history
from training.ltv.train import default_cutoff
from training.registry import configure_tracking

PROMOTERS, DAYS = 100_000, 365
LOOKBACK = pd.Timedelta(days=30)
LTV_HORIZON_DAYS = 90


def _minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


def _read_events(path: Path) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = {k: [] for k in ("join", "touch", "paid", "cfm", "rfd")}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            e = json.loads(line)
            kind, ts = e["type"], e["ts"]
            if kind == "promoter_joined":
                rows["join"].append((e["promoter_id"], e.get("parent_id"), e.get("grade"), ts,
                                     e.get("device_hash"), e.get("ip_hash")))
            elif kind == "touch":
                rows["touch"].append((e["promoter_id"], e["customer_id"], ts, e.get("kind"),
                                      e.get("channel"), e.get("device_hash"), e.get("ip_hash")))
            elif kind == "order_paid":
                by_category: dict[str, int] = {}
                for line in e["lines"]:
                    by_category[line["category"]] = (by_category.get(line["category"], 0)
                                                     + _minor(line["amount"]))
                rows["paid"].append((e["order_id"], e["customer_id"], ts,
                                     sum(by_category.values()), e.get("device_hash"),
                                     e.get("ip_hash"), e["merchant_id"],
                                     max(sorted(by_category), key=by_category.__getitem__),
                                     len(by_category)))
            elif kind == "order_confirmed":
                rows["cfm"].append((e["order_id"], ts))
            elif kind == "order_refunded":
                rows["rfd"].append((e["order_id"], ts, sum(_minor(x["amount"])
                                                           for x in e["lines"])))
    return rows


def _attribute(orders: pd.DataFrame, touches: pd.DataFrame) -> pd.DataFrame:
    """Last touch within the lookback, else the promoter the customer registered with."""
    left = orders[["order_id", "customer_id", "paid_at"]].sort_values("paid_at")
    right = touches[["customer_id", "ts", "promoter_id"]].sort_values("ts")
    last = pd.merge_asof(left, right, left_on="paid_at", right_on="ts", by="customer_id",
                         tolerance=LOOKBACK, direction="backward")
    bound = (touches.loc[touches["kind"] == "register"].drop_duplicates("customer_id")
             .set_index("customer_id")["promoter_id"])
    last["promoter_id"] = last["promoter_id"].fillna(last["customer_id"].map(bound))
    out = last.dropna(subset=["promoter_id"])[["order_id", "promoter_id"]]
    return out.assign(share=1.0)


PAID_COLUMNS = ["order_id", "customer_id", "paid_at", "gross_minor", "device_hash", "ip_hash",
                "merchant_id", "main_category", "n_categories"]


def frames_from_events(folder: Path, hold_days: int = 7) -> tuple[RawFrames, History]:
    """Raw profile frames and the LTV history from the simulator's files without the ledger."""
    rows = _read_events(folder / "events.jsonl")
    promoters = pd.DataFrame(rows["join"], columns=["promoter_id", "parent_id", "grade",
                                                    "joined_at", "device_hash", "ip_hash"])
    touches = pd.DataFrame(rows["touch"], columns=["promoter_id", "customer_id", "ts", "kind",
                                                   "channel", "device_hash", "ip_hash"])
    paid_rows = pd.DataFrame(rows["paid"], columns=PAID_COLUMNS)
    orders = paid_rows[PAID_COLUMNS[:6]].copy()
    confirmed = pd.DataFrame(rows["cfm"], columns=["order_id", "confirmed_at"])
    refunds = pd.DataFrame(rows["rfd"], columns=["order_id", "ts", "refund_minor"])
    for frame, column in ((promoters, "joined_at"), (touches, "ts"), (orders, "paid_at"),
                          (confirmed, "confirmed_at"), (refunds, "ts")):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    orders = orders.merge(confirmed, on="order_id", how="left")
    orders["released_at"] = orders["confirmed_at"] + pd.Timedelta(days=hold_days)
    attributions = _attribute(orders, touches)
    paid = attributions.merge(orders[["order_id", "paid_at", "gross_minor"]], on="order_id")
    back = attributions.merge(refunds, on="order_id")
    commissions = pd.concat([
        pd.DataFrame({"promoter_id": paid["promoter_id"], "ts": paid["paid_at"],
                      "amount_minor": paid["gross_minor"] // 10}),
        pd.DataFrame({"promoter_id": back["promoter_id"], "ts": back["ts"],
                      "amount_minor": -(back["refund_minor"] // 10)}),
    ], ignore_index=True)
    frames = RawFrames.from_records(promoters=promoters, touches=touches, orders=orders,
                                    attributions=attributions, refunds=refunds,
                                    commissions=commissions)
    return frames, _history(paid_rows, orders, attributions, touches, refunds)


def _history(paid_rows: pd.DataFrame, orders: pd.DataFrame, attributions: pd.DataFrame,
             touches: pd.DataFrame, refunds: pd.DataFrame) -> History:
    """The LTV history of the same mall: orders with their attributed promoter, refunds at their
    instants, touches, first-register bindings and the flat 10 % commission of each order."""
    ltv_orders = paid_rows.drop(columns=["device_hash", "ip_hash"]).merge(
        attributions[["order_id", "promoter_id"]], on="order_id", how="left")
    ltv_orders["promoter_id"] = ltv_orders["promoter_id"].fillna(NO_PROMOTER)
    registered = touches.loc[touches["kind"] == "register"].sort_values("ts")
    bindings = registered.drop_duplicates("customer_id")[["customer_id", "promoter_id", "ts"]]
    attributed = attributions.merge(orders[["order_id", "paid_at", "gross_minor"]], on="order_id")
    commissions = pd.DataFrame({"order_id": attributed["order_id"],
                                "occurred_at": attributed["paid_at"],
                                "amount_minor": attributed["gross_minor"] // 10})
    return make_history(
        "CNY", ltv_orders,
        refunds.rename(columns={"ts": "refunded_at", "refund_minor": "amount_minor"}),
        touches[["customer_id", "promoter_id", "ts", "kind", "channel"]],
        bindings.rename(columns={"ts": "bound_at"}), commissions)


def _time_ltv(history: History, seed: int, timings: dict[str, float]) -> None:
    """Fit and score the LTV models out of time at the default cutoff, as `fenrun ltv` does,
    with the simulated mall's promotion calendar (the one `ltv_bench` gives)."""
    cutoff = default_cutoff(history, LTV_HORIZON_DAYS)
    started = time.perf_counter()
    result = evaluate_ltv(history, cutoff, LTV_HORIZON_DAYS, seed=seed,
                          calendar=parse_calendar(MALL_CALENDAR))
    timings["train_ltv_s"] = time.perf_counter() - started
    timings["ltv_customers_scored"] = len(result.split.evaluation.frame)
    timings["ltv_recalibration"] = result.model.recalibration
    for model_name, scores in result.metrics.items():
        short = model_name.split(" ")[0]
        for metric in ("gini", "decile_mape", "aggregate_error"):
            if metric in scores:
                timings[f"ltv_{short}_{metric}"] = scores[metric]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(promoters: int = PROMOTERS, days: int = DAYS, seed: int = 7) -> dict[str, float]:
    """Simulate, build profiles, train both models; return seconds per stage and peak RSS."""
    timings: dict[str, float] = {"promoters": promoters, "days": days}
    with tempfile.TemporaryDirectory(prefix="fenrun-train-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        simulate(folder, SimulationConfig(promoters=promoters, days=days, seed=seed))
        timings["simulate_s"] = time.perf_counter() - started
        started = time.perf_counter()
        frames, history = frames_from_events(folder)
        timings["load_frames_s"] = time.perf_counter() - started
        timings["orders"] = len(frames.orders)
        timings["touches"] = len(frames.touches)
        as_of = frames.orders["paid_at"].max()
        started = time.perf_counter()
        profiles = build_profiles(frames, as_of)
        timings["build_profiles_s"] = time.perf_counter() - started
        del frames
        settings = TrainingSettings(
            mlflow_tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
            mlflow_artifact_root=str(folder / "artifacts"), seed=seed,
            fraud_labels_path=str(folder / "labels.csv"))
        configure_tracking(settings)
        for name, trainer in (("segments", segments.train), ("anomaly", anomaly.train)):
            started = time.perf_counter()
            outcome = trainer(settings, profiles)
            timings[f"train_{name}_s"] = time.perf_counter() - started
            for metric in ("silhouette_holdout", "pr_auc", "precision_at_k", "recall_at_budget"):
                if metric in outcome.metrics:
                    timings[f"{name}_{metric}"] = outcome.metrics[metric]
        del profiles
        _time_ltv(history, seed, timings)
    timings["peak_rss_mb"] = _peak_rss_mb()
    for key, value in timings.items():
        print(f"{key:<40}{value:>14,.3f}" if isinstance(value, float) else f"{key:<40}{value:>14,}")
    return timings


if __name__ == "__main__":
    import sys

    run(*(int(a) for a in sys.argv[1:3]))
