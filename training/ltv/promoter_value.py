"""Promoter LTV/CAC: what the customers a promoter brought are worth against what they cost.

Definitions (all as of one instant, in minor units of the history's currency):
- acquirer of a customer: the level-1 promoter with the largest share on the customer's first
  order, else the customer's binding (`training.ltv.features.acquisitions`).
- customer LTV = realised net revenue to date + predicted net revenue over the horizon
  (the LTV model, or BG/NBD when none is given).
- CAC = the commission (all three levels, net of claw-backs) earned on the customer's first
  order: the price the mall paid to acquire them. Commission earned on later orders is reported
  apart (`commission_later_minor`) as a retention cost. The plan has no bonuses; when it gains
  them they belong here as well.
- promoter (or channel) ratio = Σ LTV / Σ CAC over its acquired customers.

Uncertainty: a promoter with two customers has a ratio that is mostly noise. Two things keep it
honest. (1) Shrinkage: `ratio_shrunk` = (Σ LTV + k·m_LTV) / (Σ CAC + k·m_CAC), where m are the
per-customer means of the promoter's channel and k = `prior_customers` pseudo-customers — a
Gamma-Poisson style credibility weight: with n customers the promoter's own data weighs n/(n+k).
(2) A band: the 5th-95th percentile of that shrunk ratio under a Poisson bootstrap over the
promoter's customers (each customer re-weighted by Poisson(1) draws, which resamples every
promoter at once with one matrix product). Few customers give a wide band pulled towards the
channel; many give a narrow band around the raw ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import sparse

from training.ltv.features import acquisitions, customer_features
from training.ltv.history import NO_PROMOTER, History
from training.ltv.model import LtvModel, bgnbd_baseline

BAND = (5.0, 95.0)
BOOT_CHUNK = 50  # bootstrap replicates per matrix product, to bound memory


@dataclass(frozen=True)
class PromoterValue:
    customers: pd.DataFrame  # customer_id, promoter_id, channel, realised, predicted, ltv, cac...
    promoters: pd.DataFrame  # one row per promoter
    channels: pd.DataFrame  # one row per acquisition channel


def customer_value(history: History, as_of: datetime | pd.Timestamp, horizon_days: int,
                   model: LtvModel | None = None,
                   predict: object | None = None) -> pd.DataFrame:
    """Per acquired customer: realised, predicted and lifetime value, CAC and later commission.

    `predict` (features -> array) overrides `model`, e.g. a loaded `models:/fenrun-ltv@champion`.
    """
    as_of = pd.Timestamp(as_of)
    features = customer_features(history, as_of)
    if predict is not None:
        predicted = np.asarray(predict(features), float)  # type: ignore[operator]
    elif model is not None:
        predicted = model.predict(features)
    else:
        predicted = bgnbd_baseline(features, horizon_days)
    acquired = acquisitions(history, as_of)
    earned = history.as_of(as_of).commissions.groupby("order_id")["amount_minor"].sum()
    orders = history.as_of(as_of).orders
    total_commission = orders.assign(c=orders["order_id"].map(earned).fillna(0)).groupby(
        "customer_id")["c"].sum()
    frame = acquired.merge(pd.DataFrame({
        "customer_id": features["customer_id"], "realised_minor": features["net_total_minor"],
        "predicted_minor": predicted}), on="customer_id")
    frame["ltv_minor"] = frame["realised_minor"] + frame["predicted_minor"]
    frame["cac_minor"] = frame["first_order_id"].map(earned).fillna(0).astype(float)
    frame["commission_later_minor"] = (frame["customer_id"].map(total_commission).fillna(0)
                                       - frame["cac_minor"])
    return frame[frame["promoter_id"] != NO_PROMOTER].reset_index(drop=True)


def _bootstrap_band(groups: np.ndarray, n_groups: int, ltv: np.ndarray, cac: np.ndarray,
                    prior_ltv: np.ndarray, prior_cac: np.ndarray, replicates: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """5th and 95th percentiles of the shrunk ratio per group under a Poisson bootstrap."""
    member = sparse.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))),
                               shape=(n_groups, len(groups)))
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, replicates, BOOT_CHUNK):
        width = min(BOOT_CHUNK, replicates - start)
        weights = rng.poisson(1.0, (len(groups), width)).astype(np.float64)
        num = member @ (weights * ltv[:, None]) + prior_ltv[:, None]
        den = member @ (weights * cac[:, None]) + prior_cac[:, None]
        ratios.append(np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0))
    stacked = np.hstack(ratios)
    low, high = np.nanpercentile(stacked, BAND, axis=1)
    return low, high


def _summarise(customers: pd.DataFrame, key: str, prior: pd.DataFrame, prior_customers: float,
               replicates: int, seed: int) -> pd.DataFrame:
    codes, names = pd.factorize(customers[key], sort=True)
    g = customers.groupby(codes)
    out = pd.DataFrame({
        key: names, "customers": g.size().to_numpy(),
        "realised_minor": g["realised_minor"].sum().to_numpy(),
        "predicted_minor": g["predicted_minor"].sum().to_numpy(),
        "ltv_minor": g["ltv_minor"].sum().to_numpy(), "cac_minor": g["cac_minor"].sum().to_numpy(),
        "commission_later_minor": g["commission_later_minor"].sum().to_numpy()})
    out["ltv_cac"] = out["ltv_minor"] / out["cac_minor"].where(out["cac_minor"] > 0)
    k_ltv = prior_customers * prior["ltv_minor"].to_numpy()
    k_cac = prior_customers * prior["cac_minor"].to_numpy()
    shrunk_den = out["cac_minor"].to_numpy() + k_cac
    out["ltv_cac_shrunk"] = (out["ltv_minor"].to_numpy() + k_ltv) / np.where(
        shrunk_den > 0, shrunk_den, np.nan)
    low, high = _bootstrap_band(codes, len(names), customers["ltv_minor"].to_numpy(float),
                                customers["cac_minor"].to_numpy(float), k_ltv, k_cac,
                                replicates, seed)
    out["ltv_cac_low"], out["ltv_cac_high"] = low, high
    return out


def promoter_value(customers: pd.DataFrame, prior_customers: float = 5.0,
                   replicates: int = 200, seed: int = 42) -> PromoterValue:
    """Per-promoter and per-channel LTV/CAC with shrinkage and bootstrap bands (module doc)."""
    means = customers.groupby("channel")[["ltv_minor", "cac_minor"]].mean()
    main_channel = (customers.groupby(["promoter_id", "channel"]).size().rename("n").reset_index()
                    .sort_values(["promoter_id", "n", "channel"], ascending=[True, False, True])
                    .drop_duplicates("promoter_id").set_index("promoter_id")["channel"])
    promoter_ids = np.sort(customers["promoter_id"].unique())
    prior = means.reindex(main_channel.reindex(promoter_ids).to_numpy())
    promoters = _summarise(customers, "promoter_id", prior, prior_customers, replicates, seed)
    promoters.insert(1, "channel", main_channel.reindex(promoters["promoter_id"]).to_numpy())
    channel_names = np.sort(customers["channel"].unique())
    overall = pd.DataFrame({"ltv_minor": [customers["ltv_minor"].mean()] * len(channel_names),
                            "cac_minor": [customers["cac_minor"].mean()] * len(channel_names)})
    channels = _summarise(customers, "channel", overall, prior_customers, replicates, seed)
    return PromoterValue(customers, promoters, channels)
