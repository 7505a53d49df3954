"""Customer features as of a cutoff and revenue labels over a window: pure History -> DataFrame.

Every function takes the cutoff explicitly and first cuts the history at it (`History.as_of`), so
a feature can only see orders paid, refunds made and touches recorded at or before the cutoff.
Net amounts subtract only the refunds known by then; the stored `orders.refunded_minor` (which is
the refunded total *today*) is never read. A feature row is (customer_id, as_of, features...).

Features describe what a mall knows about any customer, simulated or imported: recency,
frequency and monetary value (the inputs of BG/NBD), tenure, refund history, category mix,
engagement (touches), and the acquiring and latest promoter with how active that promoter is now
(a customer of a promoter who went quiet rarely comes back, a signal BG/NBD cannot see).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from training.ltv.history import NO_PROMOTER, History

DAY = pd.Timedelta(days=1)
CATEGORICAL = ["main_category", "acq_channel"]
NUMERIC = [
    "n_orders", "repeat_orders", "recency_days", "tenure_days", "active_span_days",
    "net_total_minor", "gross_total_minor", "avg_net_minor", "max_gross_minor",
    "first_gross_minor", "last_gross_minor", "refund_share", "refunded_orders",
    "orders_30d", "orders_90d", "net_30d_minor", "net_90d_minor", "mean_gap_days",
    "n_merchants", "n_main_categories", "touches_30d", "touches_total", "days_since_touch",
    "touch_promoters", "bound", "has_promoter",
    "acq_promoter_orders_30d", "acq_promoter_orders_90d", "acq_promoter_days_since_order",
    "acq_promoter_customers", "acq_promoter_tenure_days", "acq_promoter_touches_30d",
    "last_promoter_orders_30d", "last_promoter_days_since_order", "same_promoter",
]
FEATURES = NUMERIC + CATEGORICAL
KEYS = ["customer_id", "as_of"]


def order_net(history: History, at: datetime | pd.Timestamp) -> pd.DataFrame:
    """Orders paid by `at` with `net_minor` = gross minus refunds made by `at` (never below 0)."""
    cut = history.as_of(at)
    refunded = cut.refunds.groupby("order_id")["amount_minor"].sum()
    orders = cut.orders.copy()
    refunded_minor = orders["order_id"].map(refunded).fillna(0).astype("int64")
    orders["refunded_minor"] = np.minimum(refunded_minor, orders["gross_minor"])
    orders["net_minor"] = orders["gross_minor"] - orders["refunded_minor"]
    return orders


def window_labels(history: History, start: datetime | pd.Timestamp,
                  end: datetime | pd.Timestamp) -> pd.DataFrame:
    """Net revenue per customer of orders paid in (start, end], net of refunds made by `end`.

    Refunds after `end` are unknown at `end` and are not subtracted; refunds of orders paid before
    `start` belong to those orders, not to this window.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    orders = order_net(history, end)
    inside = orders[orders["paid_at"] > start]
    return (inside.groupby("customer_id", sort=True)["net_minor"].sum()
            .rename("actual_minor").reset_index())


def _rfm(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    days_ago = (cutoff - orders["paid_at"]) / DAY
    frame = orders.assign(days_ago=days_ago, refunded=orders["refunded_minor"] > 0,
                          in30=days_ago < 30, in90=days_ago < 90)
    frame["net30"] = frame["net_minor"].where(frame["in30"], 0)
    frame["net90"] = frame["net_minor"].where(frame["in90"], 0)
    g = frame.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "n_orders": g.size(), "recency_days": g["days_ago"].min(),
        "tenure_days": g["days_ago"].max(), "net_total_minor": g["net_minor"].sum(),
        "gross_total_minor": g["gross_minor"].sum(), "max_gross_minor": g["gross_minor"].max(),
        "first_gross_minor": g["gross_minor"].first(), "last_gross_minor": g["gross_minor"].last(),
        "refunded_orders": g["refunded"].sum(), "orders_30d": g["in30"].sum(),
        "orders_90d": g["in90"].sum(), "net_30d_minor": g["net30"].sum(),
        "net_90d_minor": g["net90"].sum(), "n_merchants": g["merchant_id"].nunique(),
        "n_main_categories": g["main_category"].nunique(),
        "first_promoter": g["promoter_id"].first(), "last_promoter": g["promoter_id"].last(),
        "first_paid_at": g["paid_at"].first(),
    })
    out["repeat_orders"] = out["n_orders"] - 1
    out["active_span_days"] = out["tenure_days"] - out["recency_days"]
    out["avg_net_minor"] = out["net_total_minor"] / out["n_orders"]
    out["refund_share"] = 1 - out["net_total_minor"] / out["gross_total_minor"].clip(lower=1)
    out["mean_gap_days"] = out["active_span_days"] / out["repeat_orders"].replace(0, np.nan)
    spend = frame.groupby(["customer_id", "main_category"], sort=True)["net_minor"].sum()
    out["main_category"] = (spend.reset_index().sort_values(
        ["customer_id", "net_minor", "main_category"], ascending=[True, False, True])
        .drop_duplicates("customer_id").set_index("customer_id")["main_category"])
    return out


def _acquirer(rfm: pd.DataFrame, bindings: pd.DataFrame) -> pd.Series:
    """The level-1 promoter of the first order, else the customer's binding, else "none"."""
    bound = bindings.drop_duplicates("customer_id").set_index("customer_id")["promoter_id"]
    fallback = rfm.index.to_series().map(bound).fillna(NO_PROMOTER)
    return rfm["first_promoter"].where(rfm["first_promoter"] != NO_PROMOTER, fallback)


def _acquisition_channel(rfm: pd.DataFrame, touches: pd.DataFrame) -> pd.Series:
    """Channel of the acquirer's last touch up to the first order (else any touch, else unknown)."""
    first = rfm[["first_paid_at", "acq_promoter"]].rename_axis("customer_id").reset_index()
    joined = touches.merge(first, on="customer_id", how="inner")
    joined = joined[joined["ts"] <= joined["first_paid_at"]]
    joined = joined.assign(by_acquirer=joined["promoter_id"] == joined["acq_promoter"])
    last = joined.sort_values(["customer_id", "by_acquirer", "ts"], kind="stable")
    channel = last.drop_duplicates("customer_id", keep="last").set_index("customer_id")["channel"]
    return rfm.index.to_series().map(channel).fillna("unknown")


def _touch_stats(index: pd.Index, touches: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    days_ago = (cutoff - touches["ts"]) / DAY
    g = touches.assign(days_ago=days_ago, in30=days_ago < 30).groupby("customer_id")
    stats = pd.DataFrame({"touches_30d": g["in30"].sum(), "touches_total": g.size(),
                          "days_since_touch": g["days_ago"].min(),
                          "touch_promoters": g["promoter_id"].nunique()})
    stats = stats.reindex(index)
    filled = stats.drop(columns="days_since_touch").fillna(0)
    return filled.assign(days_since_touch=stats["days_since_touch"])


def promoter_activity(orders: pd.DataFrame, touches: pd.DataFrame,
                      cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per promoter at the cutoff: recent orders, days since its last order, customers, tenure."""
    sold = orders[orders["promoter_id"] != NO_PROMOTER]
    days_ago = (cutoff - sold["paid_at"]) / DAY
    g = sold.assign(days_ago=days_ago, in30=days_ago < 30, in90=days_ago < 90).groupby(
        "promoter_id")
    stats = pd.DataFrame({"orders_30d": g["in30"].sum(), "orders_90d": g["in90"].sum(),
                          "days_since_order": g["days_ago"].min(),
                          "customers": g["customer_id"].nunique(),
                          "tenure_days": g["days_ago"].max()})
    clicks = touches[(cutoff - touches["ts"]) / DAY < 30].groupby("promoter_id").size()
    return stats.join(clicks.rename("touches_30d"), how="outer").fillna(
        {"orders_30d": 0, "orders_90d": 0, "customers": 0, "touches_30d": 0})


def acquisitions(history: History, cutoff: datetime | pd.Timestamp) -> pd.DataFrame:
    """Per customer with an order by `cutoff`: acquiring promoter and channel, first order id.

    The acquirer is the level-1 promoter with the largest share on the first order, else the
    customer's binding, else "none" (an imported order without a promoter).
    """
    cutoff = pd.Timestamp(cutoff)
    cut = history.as_of(cutoff)
    orders = cut.orders
    first = orders.drop_duplicates("customer_id").set_index("customer_id").sort_index()
    rfm = pd.DataFrame({"first_promoter": first["promoter_id"],
                        "first_paid_at": first["paid_at"]})
    rfm["acq_promoter"] = _acquirer(rfm, cut.bindings)
    rfm["acq_channel"] = _acquisition_channel(rfm, cut.touches)
    return pd.DataFrame({"customer_id": rfm.index, "promoter_id": rfm["acq_promoter"].to_numpy(),
                         "channel": rfm["acq_channel"].to_numpy(),
                         "first_order_id": first["order_id"].to_numpy(),
                         "first_paid_at": rfm["first_paid_at"].to_numpy()})


def customer_features(history: History, cutoff: datetime | pd.Timestamp) -> pd.DataFrame:
    """One row per customer with an order paid by `cutoff`: KEYS + FEATURES, sorted by id."""
    cutoff = pd.Timestamp(cutoff)
    cut = history.as_of(cutoff)
    orders = order_net(cut, cutoff)
    if orders.empty:
        return pd.DataFrame(columns=KEYS + FEATURES)
    rfm = _rfm(orders, cutoff)
    rfm["acq_promoter"] = _acquirer(rfm, cut.bindings)
    rfm["acq_channel"] = _acquisition_channel(rfm, cut.touches)
    rfm["bound"] = rfm.index.isin(cut.bindings["customer_id"]).astype("int64")
    rfm["has_promoter"] = (rfm["acq_promoter"] != NO_PROMOTER).astype("int64")
    rfm["same_promoter"] = (rfm["acq_promoter"] == rfm["last_promoter"]).astype("int64")
    rfm = rfm.join(_touch_stats(rfm.index, cut.touches, cutoff))
    activity = promoter_activity(orders, cut.touches, cutoff)
    acq = activity.reindex(rfm["acq_promoter"]).set_index(rfm.index).add_prefix("acq_promoter_")
    last = activity.reindex(rfm["last_promoter"]).set_index(rfm.index)
    rfm = rfm.join(acq).assign(
        last_promoter_orders_30d=last["orders_30d"],
        last_promoter_days_since_order=last["days_since_order"])
    out = rfm.rename_axis("customer_id").reset_index()
    out.insert(1, "as_of", cutoff)
    out[NUMERIC] = out[NUMERIC].astype("float64")
    out[CATEGORICAL] = out[CATEGORICAL].astype(str)
    return out[KEYS + FEATURES].reset_index(drop=True)
