"""Promoter LTV/CAC: what the customers a promoter brought are worth against what they cost.

Definitions (all as of one instant, in minor units of the history's currency):
- acquirer of a customer: the level-1 promoter with the largest share on the customer's first
  order, else the customer's binding (`training.ltv.features.acquisitions`).
- GMV basis: customer GMV LTV = realised net revenue to date + predicted net revenue over the
  horizon (the LTV model, or BG/NBD when none is given): `gmv_*` columns, `gmv_ltv_cac`.
- margin basis (`basis` = "margin", what `ltv_cac` and its band measure): the customer's
  contribution to the mall — gross margin per category minus commission on later orders,
  realised and predicted (`training.ltv.margin` defines it exactly): `contribution_*` columns.
- CAC = the commission (all three levels, net of claw-backs) earned on the customer's first
  order: the price the mall paid to acquire them. Commission earned on later orders is reported
  apart (`commission_later_minor`) and is subtracted from contribution as a retention cost. The
  plan has no bonuses; when it gains them they belong here as well.
- promoter (or channel) ratio = Σ contribution LTV / Σ CAC over its acquired customers (and
  Σ GMV LTV / Σ CAC beside it). GMV ratios sit near 20-30 for everyone; contribution says who
  is worth their commission.

Uncertainty: a promoter with two customers has a ratio that is mostly noise. Two things keep it
honest. (1) Shrinkage: `ratio_shrunk` = (Σ LTV + k·m_LTV) / (Σ CAC + k·m_CAC), where m are the
per-customer means of the promoter's channel and k = `prior_customers` pseudo-customers — a
Gamma-Poisson style credibility weight: with n customers the promoter's own data weighs n/(n+k).
(2) A band: the 5th-95th percentile of that shrunk ratio under a Poisson bootstrap: the
promoter's customers are re-weighted by Poisson(1) draws (which resamples every promoter at once
with one matrix product) and the k prior customers are drawn afresh from the channel in every
replicate. So a promoter with one customer gets about the spread of a random six-customer
portfolio of its channel (we know little: it could be anywhere the channel's promoters are),
and one with hundreds a band around its own ratio.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from training.ltv.features import acquisitions, customer_features, order_net
from training.ltv.history import NO_PROMOTER, History
from training.ltv.margin import MarginRates, customer_contribution, predicted_contribution
from training.ltv.model import LtvModel, bgnbd_baseline

BAND = (5.0, 95.0)
BOOT_CHUNK = 50  # bootstrap replicates per matrix product, to bound memory
BASIS = "margin"
# Per customer, what `customer_value` gives (any number; whole minor units after `whole_minor`).
INPUT_MONEY = ("gmv_realised_minor", "gmv_predicted_minor", "cac_minor",
               "commission_later_minor", "contribution_realised_minor")
MONEY_COLUMNS = ("gmv_realised_minor", "gmv_predicted_minor", "gmv_ltv_minor",
                 "contribution_realised_minor", "contribution_predicted_minor",
                 "contribution_ltv_minor", "cac_minor", "commission_later_minor")
DEFAULT_MARGINS = MarginRates(Fraction(1, 4))  # = training.ltv.config.DEFAULT_MARGIN_RATE
SEGMENT_COLUMNS = ("promoter_id", "segment_id", "segment_name")


@dataclass(frozen=True)
class PromoterValue:
    customers: pd.DataFrame  # customer_id, promoter_id, channel, realised, predicted, ltv, cac...
    promoters: pd.DataFrame  # one row per promoter
    channels: pd.DataFrame  # one row per acquisition channel


def customer_value(history: History, as_of: datetime | pd.Timestamp, horizon_days: int,
                   model: LtvModel | None = None,
                   predict: Callable[[pd.DataFrame], Any] | None = None,
                   margins: MarginRates = DEFAULT_MARGINS) -> pd.DataFrame:
    """Per acquired customer: realised, predicted and lifetime net revenue (GMV basis), realised
    contribution and the contribution rate of its predicted revenue (margin basis, `margins`),
    CAC and later commission.

    `predict` (features -> array) overrides `model`, e.g. a loaded `models:/fenrun-ltv@champion`.
    """
    as_of = pd.Timestamp(as_of)
    features = customer_features(history, as_of)
    if predict is not None:
        predicted = np.asarray(predict(features), dtype=np.float64)
    elif model is not None:
        predicted = model.predict(features)
    else:
        predicted = bgnbd_baseline(features, horizon_days)
    acquired = acquisitions(history, as_of)
    earned = history.as_of(as_of).commissions.groupby("order_id")["amount_minor"].sum()
    orders = order_net(history, as_of)
    total_commission = orders.assign(c=orders["order_id"].map(earned).fillna(0)).groupby(
        "customer_id")["c"].sum()
    frame = acquired.merge(pd.DataFrame({
        "customer_id": features["customer_id"], "gmv_realised_minor": features["net_total_minor"],
        "gmv_predicted_minor": predicted}), on="customer_id")
    frame["gmv_ltv_minor"] = frame["gmv_realised_minor"] + frame["gmv_predicted_minor"]
    frame["cac_minor"] = frame["first_order_id"].map(earned).fillna(0).astype(float)
    frame["commission_later_minor"] = (frame["customer_id"].map(total_commission).fillna(0)
                                       - frame["cac_minor"])
    contribution = customer_contribution(
        orders, earned, acquired.set_index("customer_id")["first_order_id"], margins)
    frame = frame.merge(contribution, on="customer_id", how="left")
    return frame[frame["promoter_id"] != NO_PROMOTER].reset_index(drop=True)


def _prior_draws(rng: np.random.Generator, pool_of_group: np.ndarray, pools: list[np.ndarray],
                 values: np.ndarray, k: int, width: int) -> np.ndarray:
    """Per group and replicate, the sum of `values` over k customers drawn from its pool."""
    sizes = np.array([len(p) for p in pools])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(pools)
    size, start = sizes[pool_of_group], starts[pool_of_group]
    u = rng.random((len(pool_of_group), width, k))
    picks = flat[start[:, None, None] + (u * size[:, None, None]).astype(np.int64)]
    return values[picks].sum(axis=2)


def _bootstrap_band(groups: np.ndarray, n_groups: int, ltv: np.ndarray, cac: np.ndarray,
                    pool_of_group: np.ndarray, pools: list[np.ndarray], k: int,
                    replicates: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """5th and 95th percentiles of the shrunk ratio: the group's own customers re-weighted by
    Poisson(1), plus k prior customers drawn afresh from its pool in every replicate (so the
    prior's own spread, not only its mean, shows in the band of a promoter with little data)."""
    member = sparse.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))),
                               shape=(n_groups, len(groups)))
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, replicates, BOOT_CHUNK):
        width = min(BOOT_CHUNK, replicates - start)
        weights = rng.poisson(1.0, (len(groups), width)).astype(np.float64)
        num = member @ (weights * ltv[:, None])
        den = member @ (weights * cac[:, None])
        if k > 0:
            num = num + _prior_draws(rng, pool_of_group, pools, ltv, k, width)
            den = den + _prior_draws(rng, pool_of_group, pools, cac, k, width)
        ratios.append(np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0))
    with warnings.catch_warnings():  # no CAC in any replicate: the band is undefined (NaN)
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        low, high = np.nanpercentile(np.hstack(ratios), BAND, axis=1)
    return low, high


def _summarise(customers: pd.DataFrame, key: str, pool_key: pd.Series, prior_customers: int,
               replicates: int, seed: int) -> pd.DataFrame:
    """Sums, the GMV ratio, and the margin-basis raw and shrunk ratio and band per value of
    `key`; `pool_key` maps each group to the pool (a channel, or "all") its prior is drawn from."""
    codes, names = pd.factorize(customers[key], sort=True)
    g = customers.groupby(codes)
    out = pd.DataFrame({key: names, "customers": g.size().to_numpy()})
    for name in MONEY_COLUMNS:
        out[name] = g[name].sum().to_numpy()
    cac = out["cac_minor"].where(out["cac_minor"] > 0)
    out["gmv_ltv_cac"] = out["gmv_ltv_minor"] / cac
    out["ltv_cac"] = out["contribution_ltv_minor"] / cac
    pool_codes, pool_names = pd.factorize(customers[pool_key.name], sort=True)
    pools = [np.flatnonzero(pool_codes == i) for i in range(len(pool_names))]
    pool_of_group = pool_names.get_indexer(pool_key.reindex(names).to_numpy())
    means = customers.groupby(pool_codes)[["contribution_ltv_minor", "cac_minor"]].mean()
    k_ltv, k_cac = (prior_customers * means.to_numpy()[pool_of_group, i] for i in (0, 1))
    shrunk_den = out["cac_minor"].to_numpy() + k_cac
    out["ltv_cac_shrunk"] = (out["contribution_ltv_minor"].to_numpy() + k_ltv) / np.where(
        shrunk_den > 0, shrunk_den, np.nan)
    low, high = _bootstrap_band(codes, len(names),
                                customers["contribution_ltv_minor"].to_numpy(float),
                                customers["cac_minor"].to_numpy(float), pool_of_group, pools,
                                prior_customers, replicates, seed)
    out["ltv_cac_low"], out["ltv_cac_high"] = low, high
    return out


def whole_minor(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers with every amount in whole minor units (int64): GMV LTV = realised +
    predicted, predicted contribution = whole predicted GMV × contribution rate (half-even),
    contribution LTV = realised + predicted contribution.

    Why per customer: a forecast is rounded to the fen once, where it is made, so every total
    built from it (per promoter, per channel, per segment, the grand total) is an exact sum of
    the same integers and the views agree to the fen.
    """
    out = customers.copy()
    for name in INPUT_MONEY:
        out[name] = np.rint(out[name].to_numpy(float)).astype("int64")
    out["gmv_ltv_minor"] = out["gmv_realised_minor"] + out["gmv_predicted_minor"]
    out["contribution_predicted_minor"] = predicted_contribution(
        out["gmv_predicted_minor"].to_numpy(), out["contribution_rate"])
    out["contribution_ltv_minor"] = (out["contribution_realised_minor"]
                                     + out["contribution_predicted_minor"])
    return out


def promoter_value(customers: pd.DataFrame, prior_customers: int = 5,
                   replicates: int = 200, seed: int = 42) -> PromoterValue:
    """Per-promoter and per-channel LTV/CAC with shrinkage and bootstrap bands (module doc).

    A promoter's prior comes from its main channel (where most of its customers came from);
    a channel's prior from all customers (it hardly matters: channels have thousands). Amounts
    are whole minor units per customer first (`whole_minor`).
    """
    customers = whole_minor(customers)
    main_channel = (customers.groupby(["promoter_id", "channel"]).size().rename("n").reset_index()
                    .sort_values(["promoter_id", "n", "channel"], ascending=[True, False, True])
                    .drop_duplicates("promoter_id").set_index("promoter_id")["channel"])
    promoters = _summarise(customers, "promoter_id", main_channel, prior_customers, replicates,
                           seed)
    promoters.insert(1, "channel", main_channel.reindex(promoters["promoter_id"]).to_numpy())
    everyone = customers.assign(pool="all")
    channel_pool = pd.Series("all", index=np.sort(customers["channel"].unique()), name="pool")
    channels = _summarise(everyone, "channel", channel_pool, prior_customers, replicates, seed)
    return PromoterValue(customers, promoters, channels)


def _stamped(frame: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int,
             currency: str) -> pd.DataFrame:
    """`frame` with the snapshot's keys and its `basis` (what `ltv_cac` and its band measure)
    in front; its sums of whole minor units stay int64."""
    out = frame.copy()
    for name in MONEY_COLUMNS:
        out[name] = out[name].astype("int64")
    out.insert(0, "as_of", as_of)
    out.insert(1, "horizon_days", int(horizon_days))
    out.insert(2, "currency", currency)
    out.insert(3, "basis", BASIS)
    return out


def snapshot_frames(value: PromoterValue, as_of: datetime | pd.Timestamp, horizon_days: int,
                    currency: str, segments: pd.DataFrame | None = None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The promoter and channel tables as stored for one as-of.

    `segments` (promoter_id, segment_id, segment_name: the segments champion's assignment of
    the same as-of) adds each promoter's segment; promoters it does not cover get none (NA).
    """
    at = pd.Timestamp(as_of)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    promoters = _stamped(value.promoters, at, horizon_days, currency)
    if segments is not None:
        assigned = segments.loc[:, list(SEGMENT_COLUMNS)].drop_duplicates("promoter_id")
        promoters = promoters.merge(assigned, on="promoter_id", how="left")
        promoters["segment_id"] = promoters["segment_id"].astype("Int64")
    else:
        promoters["segment_id"] = pd.array([pd.NA] * len(promoters), dtype="Int64")
        promoters["segment_name"] = pd.Series([None] * len(promoters), dtype="object")
    return promoters, _stamped(value.channels, at, horizon_days, currency)
