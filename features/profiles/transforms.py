"""Pure feature transforms: frames in, one frame of features indexed by `promoter_id` out.

One definition per feature, used by batch training (`build_profiles` over every promoter) and by
online serving (the same call restricted to a few promoters). No I/O and no clock: the as-of instant
is an argument and the inputs are already restricted to it (`domain.restrict_to`).

A promoter with no activity gets the neutral value the README names (0 for amounts and shares, 1 for
diversities: "no sign of shared devices"); `service.build_profiles` applies those defaults.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.profiles.domain import (
    CHANNELS,
    NIGHT_HOURS,
    QUICK_CONFIRM_S,
    STABILITY_WEEKS,
    WINDOWS_D,
    RawFrames,
)

DAY = pd.Timedelta(days=1)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, 0 where the denominator is 0 (a promoter with nothing to divide)."""
    out = numerator / denominator.where(denominator != 0)
    return out.fillna(0.0)


def sales_frame(frames: RawFrames) -> pd.DataFrame:
    """One row per (order, level-1 promoter) with its attribution share and the order's state.

    `refunded_minor` sums the refunds booked so far; `refunded_after_release` marks an order with a
    refund after its commission was released (the refund-abuse pattern).
    """
    refunds = frames.refunds.groupby("order_id").agg(
        refunded_minor=("refund_minor", "sum"), last_refund_at=("ts", "max"))
    sales = frames.attributions.merge(frames.orders, on="order_id", how="inner")
    sales = sales.merge(refunds, left_on="order_id", right_index=True, how="left")
    sales["refunded_minor"] = sales["refunded_minor"].fillna(0).astype("int64")
    sales["share"] = sales["share"].astype(float)
    sales["gmv"] = sales["share"] * sales["gross_minor"] / 100.0
    sales["refunded_after_release"] = (sales["last_refund_at"] > sales["released_at"]).fillna(False)
    return sales


def window_activity(sales: pd.DataFrame, commissions: pd.DataFrame,
                    as_of: pd.Timestamp) -> pd.DataFrame:
    """GMV (yuan), share-weighted orders and net commission (yuan) over 7/30/90 days, lifetime."""
    parts = []
    for days in WINDOWS_D:
        recent = sales.loc[sales["paid_at"] > as_of - days * DAY]
        grouped = recent.groupby("promoter_id")
        parts.append(grouped["gmv"].sum().rename(f"gmv_{days}d"))
        parts.append(grouped["share"].sum().rename(f"orders_{days}d"))
        earned = commissions.loc[commissions["ts"] > as_of - days * DAY]
        parts.append((earned.groupby("promoter_id")["amount_minor"].sum() / 100.0)
                     .rename(f"commission_{days}d"))
    lifetime = sales.groupby("promoter_id")
    parts += [lifetime["gmv"].sum().rename("gmv_total"),
              lifetime["share"].sum().rename("orders_total")]
    return pd.concat(parts, axis=1)


def conversion(sales: pd.DataFrame, touches: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Touches over 90 days, orders per touch and average order value (yuan) over 90 days."""
    recent = sales.loc[sales["paid_at"] > as_of - 90 * DAY].groupby("promoter_id")
    orders, gmv = recent["share"].sum(), recent["gmv"].sum()
    clicks = touches.loc[touches["ts"] > as_of - 90 * DAY].groupby("promoter_id").size()
    index = orders.index.union(clicks.index)
    orders, gmv = orders.reindex(index, fill_value=0.0), gmv.reindex(index, fill_value=0.0)
    clicks = clicks.reindex(index, fill_value=0).astype(float)
    return pd.DataFrame({"touches_90d": clicks, "conversion_90d": _ratio(orders, clicks),
                         "aov_90d": _ratio(gmv, orders)}, index=index)


def refund_behaviour(sales: pd.DataFrame) -> pd.DataFrame:
    """Refunded share of GMV, of orders refunded, refunded after release, confirmed at once."""
    weight = sales["share"]
    quick = (sales["confirmed_at"] - sales["paid_at"]).dt.total_seconds() <= QUICK_CONFIRM_S
    flags = pd.DataFrame({
        "promoter_id": sales["promoter_id"], "w": weight,
        "gross": weight * sales["gross_minor"], "refunded": weight * sales["refunded_minor"],
        "any": weight * (sales["refunded_minor"] > 0),
        "late": weight * sales["refunded_after_release"].astype(bool),
        "quick": weight * quick.fillna(False),
    }).groupby("promoter_id").sum()
    return pd.DataFrame({
        "refund_rate": _ratio(flags["refunded"], flags["gross"]),
        "refunded_order_share": _ratio(flags["any"], flags["w"]),
        "refund_after_release_share": _ratio(flags["late"], flags["w"]),
        "quick_confirm_share": _ratio(flags["quick"], flags["w"]),
    })


def customer_acquisition(sales: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Customers whose first order went to this promoter (largest share), and how many came back."""
    ordered = orders.sort_values(["paid_at", "order_id"], kind="stable")
    first = ordered.drop_duplicates("customer_id")[["order_id", "customer_id"]]
    counts = orders.groupby("customer_id").size().rename("customer_orders")
    owners = sales.loc[sales["order_id"].isin(first["order_id"]), ["order_id", "promoter_id",
                                                                     "share"]]
    owners = owners.sort_values(["order_id", "share", "promoter_id"],
                                ascending=[True, False, True], kind="stable")
    owners = owners.drop_duplicates("order_id").merge(first, on="order_id")
    owners = owners.merge(counts, left_on="customer_id", right_index=True)
    grouped = owners.groupby("promoter_id")
    return pd.DataFrame({
        "customers_acquired": grouped.size().astype(float),
        "customer_repeat_rate": (owners["customer_orders"] >= 2).groupby(
            owners["promoter_id"]).mean().astype(float),
    })


def network(promoters: pd.DataFrame, sales: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Direct downline size, downline active (selling) in the last 30 days, tenure and grade."""
    sellers = set(sales.loc[sales["paid_at"] > as_of - 30 * DAY, "promoter_id"])
    children = promoters.dropna(subset=["parent_id"])
    size = children.groupby("parent_id").size()
    active = children.loc[children["promoter_id"].isin(sellers)].groupby("parent_id").size()
    frame = promoters.set_index("promoter_id")
    grade = frame["grade"].astype("string").str.extract(r"(\d+)", expand=False)
    return pd.DataFrame({
        "downline_size": size.reindex(frame.index, fill_value=0).astype(float),
        "active_downline_30d": active.reindex(frame.index, fill_value=0).astype(float),
        "tenure_days": (as_of - frame["joined_at"]).dt.total_seconds() / 86_400.0,
        "grade_level": pd.to_numeric(grade, errors="coerce").fillna(0.0).astype(float),
    })


def weekly_stability(sales: pd.DataFrame, promoters: pd.DataFrame,
                     as_of: pd.Timestamp) -> pd.DataFrame:
    """Coefficient of variation of weekly GMV over the last 12 weeks (or since joining) and the
    share of those weeks with a sale; zero-sale weeks count, which is the point."""
    frame = promoters.set_index("promoter_id")
    tenure_weeks = np.ceil((as_of - frame["joined_at"]).dt.total_seconds() / (7 * 86_400))
    weeks = tenure_weeks.clip(lower=1, upper=STABILITY_WEEKS)
    age = ((as_of - sales["paid_at"]) // pd.Timedelta(weeks=1)).astype(int)
    recent = sales.assign(week=age).loc[age < STABILITY_WEEKS]
    weekly = recent.groupby(["promoter_id", "week"])["gmv"].sum().reset_index()
    grouped = weekly.groupby("promoter_id")["gmv"]
    total = grouped.sum().reindex(frame.index, fill_value=0.0)
    squares = (weekly.assign(sq=weekly["gmv"] ** 2).groupby("promoter_id")["sq"].sum()
               .reindex(frame.index, fill_value=0.0))
    active = grouped.size().reindex(frame.index, fill_value=0).astype(float)
    mean = total / weeks
    variance = (squares / weeks - mean**2).clip(lower=0.0)
    return pd.DataFrame({"weekly_gmv_cv": _ratio(np.sqrt(variance), mean),
                         "active_weeks_share": (active / weeks).clip(upper=1.0)})


def channel_mix(touches: pd.DataFrame) -> pd.DataFrame:
    """Share of the promoter's touches (all up to as-of) per channel; unknown channels -> other."""
    channel = touches["channel"].where(touches["channel"].isin(CHANNELS), "other")
    counts = pd.crosstab(touches["promoter_id"], channel)
    counts = counts.reindex(columns=[*CHANNELS, "other"], fill_value=0)
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0.0)
    return shares.add_prefix("channel_share_").rename_axis(index="promoter_id", columns=None)


def device_diversity(sales: pd.DataFrame, touches: pd.DataFrame, promoters: pd.DataFrame,
                     as_of: pd.Timestamp) -> pd.DataFrame:
    """Distinct payer devices/IPs per order and touch devices per touch (90 days), orders paid from
    the promoter's own device or IP, and how many other promoters joined from its device or IP."""
    recent = sales.loc[sales["paid_at"] > as_of - 90 * DAY].groupby("promoter_id")
    n_orders = recent["order_id"].nunique()
    clicks = touches.loc[touches["ts"] > as_of - 90 * DAY].groupby("promoter_id")
    own = promoters.set_index("promoter_id")[["device_hash", "ip_hash"]]
    mine = sales.merge(own, left_on="promoter_id", right_index=True, suffixes=("", "_own"))
    same = ((mine["device_hash"] == mine["device_hash_own"])
            | (mine["ip_hash"] == mine["ip_hash_own"]))
    own_share = same.groupby(mine["promoter_id"]).mean()
    shared = pd.concat([promoters.groupby("device_hash")["promoter_id"].transform("size"),
                        promoters.groupby("ip_hash")["promoter_id"].transform("size")], axis=1)
    shared_count = pd.Series((shared.max(axis=1).fillna(1) - 1).to_numpy(),
                             index=promoters["promoter_id"])
    return pd.DataFrame({
        "order_device_diversity_90d": recent["device_hash"].nunique() / n_orders,
        "order_ip_diversity_90d": recent["ip_hash"].nunique() / n_orders,
        "touch_device_diversity_90d": clicks["device_hash"].nunique() / clicks.size(),
        "own_device_order_share": own_share.astype(float),
        "shared_join_device_count": shared_count.astype(float),
    })


def timing(sales: pd.DataFrame, as_of: pd.Timestamp, local_tz: str) -> pd.DataFrame:
    """Share of orders paid at night (local time, 90 days) and the most orders in one clock hour."""
    recent = sales.loc[sales["paid_at"] > as_of - 90 * DAY]
    local_hour = recent["paid_at"].dt.tz_convert(local_tz).dt.hour
    night = local_hour.isin(list(NIGHT_HOURS)).astype(float)
    per_hour = recent.groupby([recent["promoter_id"], recent["paid_at"].dt.floor("h")]).size()
    return pd.DataFrame({
        "night_order_share_90d": night.groupby(recent["promoter_id"]).mean(),
        "max_orders_1h_90d": per_hour.groupby(level=0).max().astype(float),
    })
