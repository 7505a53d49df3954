"""The rate policy's inputs for every promoter of a real mall, computed from the books as of T.

The policy (`fenrun-rate-policy`) was trained on the response simulator's observable attributes
(`training.policy.data`): channel, grade, category, children, parent, risk flag, category margin,
tenure in cycles, log selling level per cycle, share of cycles without sales, active. This module
builds the same columns from what the books know, so serving scores a real mall with the model:

- **channel**: the channel most of the promoter's touches came through (index into the
  simulator's `CHANNELS`; unknown or none -> -1, which LightGBM treats as its own category);
- **grade**: "V1".."V4" -> 0..3 (the trailing number minus one; anything else -> 0);
- **category**: the category of most of its kept sales (index into `CATEGORIES`; none -> -1);
- **n_children / has_parent**: from the referral tree as joined by T;
- **flagged**: on the risk flag list passed in (the caller reads it);
- **margin_rate**: the configured gross margin of that category (`margins`, default when unknown);
- **tenure**: whole cycles since joining; **log_level**: log1p of mean kept yuan per cycle over
  the last `history_cycles` cycles it was a member (kept = level-1 share of paid amount minus its
  share of refunds booked by T); **zero_share**: share of those cycles with no kept sales;
- **active**: sold or was touched in the last `active_cycles` cycles;
- **orders**: level-1 orders in the window (the guardrails' minimum evidence).

Everything is as of T: orders paid, refunds booked, promoters joined and touches made by T only.
`rate_inputs` is pure (frames in, frame out); `load_rate_frames` is the I/O edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from features.simulator.catalog import CATEGORIES, CHANNELS
from features.simulator.response_config import DEFAULT_CATEGORY_MARGINS
from settlement import read_model as books

CHANNEL_NAMES = tuple(c.name for c in CHANNELS)
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
DEFAULT_MARGINS: dict[str, float] = dict(zip(CATEGORY_NAMES, DEFAULT_CATEGORY_MARGINS,
                                             strict=True))
POLICY_COLUMNS = ["channel", "grade", "category", "n_children", "has_parent", "flagged",
                  "margin_rate", "tenure", "log_level", "zero_share", "active"]
MAX_HISTORY_CYCLES = 52


@dataclass(frozen=True)
class RateFrames:
    """What the inputs are computed from (columns named in each loader)."""

    promoters: pd.DataFrame  # promoter_id, parent_id, grade, joined_at
    touches: pd.DataFrame  # promoter_id, ts, channel
    sales: pd.DataFrame  # order_id, promoter_id, paid_at, kept_minor, category


def load_rate_frames(conn: Connection, as_of: datetime) -> RateFrames:
    """Promoters, touches and level-1 kept sales as booked by `as_of` (through the read model)."""
    promoters = pd.DataFrame.from_records(
        [(p.promoter_id, p.parent_id, p.grade, p.joined_at) for p in books.promoters(conn, as_of)],
        columns=["promoter_id", "parent_id", "grade", "joined_at"])
    touches = pd.DataFrame.from_records(
        [(t.promoter_id, t.ts, t.channel) for t in books.touches(conn, as_of)],
        columns=["promoter_id", "ts", "channel"])
    paid = books.read_orders(conn, as_of, lines=True, shares=True, share_levels=(1,))
    orders = pd.DataFrame.from_records([(o.order_id, o.paid_at, o.gross_minor)
                                        for o in paid.orders],
                                       columns=["order_id", "paid_at", "gross_minor"])
    lines = pd.DataFrame.from_records([(ln.order_id, ln.category, ln.amount_minor)
                                       for ln in paid.lines],
                                      columns=["order_id", "category", "amount_minor"])
    shares = pd.DataFrame.from_records([(s.order_id, s.promoter_id, float(s.share))
                                        for s in paid.shares],
                                       columns=["order_id", "promoter_id", "share"])
    refunded = pd.DataFrame.from_records([(r.order_id, r.amount_minor)
                                          for r in books.refunds(conn, as_of)],
                                         columns=["order_id", "amount_minor"])
    return RateFrames(promoters, touches, sales_frame(orders, lines, shares, refunded))


def sales_frame(orders: pd.DataFrame, lines: pd.DataFrame, shares: pd.DataFrame,
                refunded: pd.DataFrame) -> pd.DataFrame:
    """One row per (order, level-1 promoter): kept amount (paid minus refunds, times the share)
    and the order's main category (its largest line)."""
    refunds = refunded.groupby("order_id")["amount_minor"].sum()
    main = (lines.sort_values(["order_id", "amount_minor"], ascending=[True, False])
            .drop_duplicates("order_id").set_index("order_id")["category"])
    sales = shares.merge(orders, on="order_id", how="inner")
    net = sales["gross_minor"] - refunds.reindex(sales["order_id"]).fillna(0).to_numpy()
    sales["kept_minor"] = (net.clip(lower=0) * sales["share"]).to_numpy()
    sales["category"] = main.reindex(sales["order_id"]).to_numpy()
    return sales[["order_id", "promoter_id", "paid_at", "kept_minor", "category"]]


def _grade_index(grade: object) -> int:
    text = str(grade or "")
    digits = "".join(ch for ch in text if ch.isdigit())
    return max(int(digits) - 1, 0) if digits else 0


def _index_of(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


def rate_inputs(frames: RateFrames, as_of: datetime, *, cycle_days: int = 30,
                history_cycles: int = 12, active_cycles: int = 2,
                margins: Mapping[str, float] | None = None, default_margin: float = 0.3,
                flagged: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The policy's columns (`POLICY_COLUMNS`) plus `promoter_id`, `promoter` (a dense integer
    index, the models' row key), `orders`, `kept_yuan_per_cycle`, `channel_name` and
    `category_name`, one row per promoter joined by `as_of`, ordered by promoter id."""
    if not 1 <= history_cycles <= MAX_HISTORY_CYCLES:
        raise ValueError(f"history_cycles: {history_cycles} is outside 1..{MAX_HISTORY_CYCLES}")
    if not 1 <= cycle_days <= 366:
        raise ValueError(f"cycle_days: {cycle_days} is outside 1..366")
    at = pd.Timestamp(as_of)
    cycle = pd.Timedelta(days=cycle_days)
    margins = dict(DEFAULT_MARGINS if margins is None else margins)
    people = frames.promoters.loc[pd.to_datetime(frames.promoters["joined_at"], utc=True) <= at]
    people = people.sort_values("promoter_id").reset_index(drop=True)
    ids = people["promoter_id"]
    out = pd.DataFrame({"promoter_id": ids, "promoter": np.arange(len(people), dtype=np.int64)})
    joined = pd.to_datetime(people["joined_at"], utc=True)
    tenure = ((at - joined) // cycle).astype(np.int64).to_numpy()
    out["tenure"] = tenure
    out["grade"] = people["grade"].map(_grade_index).astype(np.int64).to_numpy()
    children = people["parent_id"].dropna().value_counts()
    out["n_children"] = children.reindex(ids).fillna(0).astype(np.int64).to_numpy()
    out["has_parent"] = people["parent_id"].notna().astype(np.int8).to_numpy()
    out["flagged"] = ids.isin(flagged).astype(bool).to_numpy()
    touches = frames.touches.loc[pd.to_datetime(frames.touches["ts"], utc=True) <= at]
    counts = (touches.dropna(subset=["channel"]).groupby(["promoter_id", "channel"]).size()
              .reset_index(name="n").sort_values(["promoter_id", "n", "channel"],
                                                 ascending=[True, False, True]))
    channel = counts.drop_duplicates("promoter_id").set_index("promoter_id")["channel"]
    out["channel_name"] = channel.reindex(ids).to_numpy()
    out["channel"] = out["channel_name"].map(_index_of(CHANNEL_NAMES)).fillna(-1).astype(
        np.int64)
    sales = frames.sales.loc[pd.to_datetime(frames.sales["paid_at"], utc=True) <= at].copy()
    sales["age"] = ((at - pd.to_datetime(sales["paid_at"], utc=True)) // cycle).astype(np.int64)
    window = sales.loc[sales["age"] < history_cycles]
    by_category = window.groupby(["promoter_id", "category"])["kept_minor"].sum()
    main = (by_category.reset_index().sort_values(["promoter_id", "kept_minor"],
                                                  ascending=[True, False])
            .drop_duplicates("promoter_id").set_index("promoter_id")["category"])
    out["category_name"] = main.reindex(ids).to_numpy()
    out["category"] = out["category_name"].map(_index_of(CATEGORY_NAMES)).fillna(-1).astype(
        np.int64)
    out["margin_rate"] = out["category_name"].map(margins).fillna(default_margin).astype(float)
    seen = np.minimum(tenure + 1, history_cycles)  # cycles of the window it was a member
    per_cycle = window.groupby(["promoter_id", "age"])["kept_minor"].sum()
    selling_cycles = (per_cycle > 0).groupby(level=0).sum().reindex(ids).fillna(0).to_numpy()
    kept = window.groupby("promoter_id")["kept_minor"].sum().reindex(ids).fillna(0).to_numpy()
    out["kept_yuan_per_cycle"] = kept / 100.0 / seen
    out["log_level"] = np.log1p(out["kept_yuan_per_cycle"])
    out["zero_share"] = 1.0 - selling_cycles / seen
    out["orders"] = window.groupby("promoter_id")["order_id"].nunique().reindex(ids).fillna(
        0).astype(np.int64).to_numpy()
    recent_sale = sales.loc[sales["age"] < active_cycles, "promoter_id"]
    recent_touch = touches.loc[pd.to_datetime(touches["ts"], utc=True) > at - active_cycles * cycle,
                               "promoter_id"]
    out["active"] = ids.isin(set(recent_sale) | set(recent_touch)).astype(np.int8).to_numpy()
    return out
