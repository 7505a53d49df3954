"""Explainable fraud rules beside the anomaly model (issue 14): pure `RawFrames -> DataFrame`.

The IsolationForest says "unusual", not "why", and flags honest top earners. Each rule here
answers one question a reviewer can check by hand, and every flag carries its evidence: the
orders, devices, IPs and accounts involved (at most `RiskRuleConfig.evidence_limit` ids per list,
plus full counts), as a JSON-able dict. No I/O: the caller loads the frames
(`features.profiles.repository.load_raw_frames`) and applies `restrict_to` first, so a rule never
sees the future.

Every rule returns rows `{promoter_id, rule, severity, evidence}` (`FLAG_COLUMNS`), one per
flagged promoter; `run_rules` concatenates them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from features.profiles.domain import RawFrames

FLAG_COLUMNS = ("promoter_id", "rule", "severity", "evidence")
SEVERITIES = ("low", "medium", "high")
HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class RiskRuleConfig:
    """Thresholds of the rules; the defaults were set on one simulated mall (seed 11).

    Counts are numbers of orders, customers or touches; windows are in hours or days as named.
    """

    evidence_limit: int = 20  # ids per evidence list; the counts are always complete
    self_referral_min_orders: int = 2  # orders from the promoter's (or its parent's) device/IP
    farm_min_customers_per_device: int = 3  # a device (IP) shared by this many buyers is crowded
    farm_min_customers: int = 10  # buyers on crowded devices (IPs) before a promoter is flagged
    ip_farm_min_customers_per_ip: int = 8  # customers share home networks, so IPs need more
    ip_farm_min_customers: int = 15
    velocity_scan_h: int = 24  # the hours before as_of scanned for a burst
    velocity_history_d: int = 28  # trailing days the burst is compared with
    velocity_min_orders_1h: int = 10  # orders in one clock hour before it can be a burst
    velocity_ratio: float = 5.0  # ... and this many times the promoter's 90th-percentile day
    refund_min_orders: int = 2  # orders refunded after their commission was released
    refund_min_share: float = 0.2  # ... as a share of the promoter's released orders
    ring_min_members: int = 3  # a strongly connected buys-through group this big is a ring
    click_window_d: int = 30  # trailing days of touches and orders compared
    click_min_touches: int = 150
    click_min_touches_per_order: float = 20.0
    cap_per_order_minor: int = 30_000  # commission on one posting (one order, one level), fen
    cap_per_day_minor: int = 100_000  # commission credited to one promoter in one UTC day, fen

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"{name}: {value!r} must be positive")
        if self.refund_min_share > 1:
            raise ValueError(f"refund_min_share: {self.refund_min_share!r} must be at most 1")


DEFAULT_CONFIG = RiskRuleConfig()


def _ids(values: Iterable[Any], limit: int) -> list[str]:
    """Sorted distinct ids as strings, at most `limit` (the evidence stays small and JSON-able)."""
    distinct = sorted({str(v) for v in values if pd.notna(v)})
    return distinct[:limit]


def _flags(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS))


def _attributed_orders(frames: RawFrames) -> pd.DataFrame:
    """Orders with every level-1 promoter they credit (one row per order and promoter)."""
    return frames.attributions.loc[:, ["order_id", "promoter_id", "share"]].merge(
        frames.orders, on="order_id", how="inner")


def _primary_orders(frames: RawFrames) -> pd.DataFrame:
    """Orders with the promoter holding the largest share (ties: the smaller id), once each."""
    rows = _attributed_orders(frames).sort_values(
        ["order_id", "share", "promoter_id"], ascending=[True, False, True])
    return rows.drop_duplicates("order_id")


def self_referral(frames: RawFrames, config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Orders paid from the promoter's own join device or IP, or its parent's (its upline).

    A promoter buying from a second account on its own phone earns commission on its own
    spending; the same through its inviter's phone pays the upline.
    """
    promoters = frames.promoters.loc[:, ["promoter_id", "parent_id", "device_hash", "ip_hash"]]
    parents = promoters.drop(columns="parent_id").rename(columns={
        "promoter_id": "parent_id", "device_hash": "parent_device", "ip_hash": "parent_ip"})
    known = promoters.merge(parents, on="parent_id", how="left")
    rows = _attributed_orders(frames).merge(known, on="promoter_id", how="inner",
                                            suffixes=("", "_promoter"))
    device_own = rows["device_hash"].notna() & (rows["device_hash"] == rows["device_hash_promoter"])
    ip_own = rows["ip_hash"].notna() & (rows["ip_hash"] == rows["ip_hash_promoter"])
    device_up = rows["device_hash"].notna() & (rows["device_hash"] == rows["parent_device"])
    ip_up = rows["ip_hash"].notna() & (rows["ip_hash"] == rows["parent_ip"])
    hits = rows.assign(own=device_own | ip_own, upline=device_up | ip_up)
    hits = hits.loc[hits["own"] | hits["upline"]]
    limit, out = config.evidence_limit, []
    for promoter_id, group in hits.groupby("promoter_id", sort=True):
        if group["order_id"].nunique() < config.self_referral_min_orders:
            continue
        shared_devices = group.loc[group["device_hash"].isin(
            pd.concat([group["device_hash_promoter"], group["parent_device"]])), "device_hash"]
        shared_ips = group.loc[group["ip_hash"].isin(
            pd.concat([group["ip_hash_promoter"], group["parent_ip"]])), "ip_hash"]
        both = bool((device_own | device_up).loc[group.index].any()
                    and (ip_own | ip_up).loc[group.index].any())
        out.append({
            "promoter_id": promoter_id, "rule": "self_referral",
            "severity": "high" if both else "medium",
            "evidence": {
                "order_count": int(group["order_id"].nunique()),
                "own_device_or_ip_orders": int(group["own"].sum()),
                "upline_device_or_ip_orders": int(group["upline"].sum()),
                "orders": _ids(group["order_id"], limit),
                "customers": _ids(group["customer_id"], limit),
                "devices": _ids(shared_devices, limit), "ips": _ids(shared_ips, limit),
                "parent_id": None if pd.isna(group["parent_id"].iloc[0])
                else str(group["parent_id"].iloc[0]),
            },
        })
    return _flags(out)


def _farm(frames: RawFrames, column: str, rule: str, per_key: int, minimum: int,
          limit: int) -> pd.DataFrame:
    """Promoters whose buyers crowd onto few devices (IPs): `minimum` buyers on crowded keys."""
    orders = _primary_orders(frames).dropna(subset=[column])
    buyers = orders.groupby(["promoter_id", column])["customer_id"].nunique().rename("buyers")
    crowded = buyers.loc[buyers >= per_key].reset_index()
    out = []
    for promoter_id, keys in crowded.groupby("promoter_id", sort=True):
        involved = orders.loc[(orders["promoter_id"] == promoter_id)
                              & orders[column].isin(keys[column])]
        customers = int(involved["customer_id"].nunique())
        if customers < minimum:
            continue
        all_customers = int(orders.loc[orders["promoter_id"] == promoter_id,
                                       "customer_id"].nunique())
        out.append({
            "promoter_id": promoter_id, "rule": rule,
            "severity": "high" if customers >= 2 * minimum else "medium",
            "evidence": {
                "customer_count": customers, "key_count": int(len(keys)),
                "customers_all": all_customers, "order_count": int(len(involved)),
                "orders": _ids(involved["order_id"], limit),
                "customers": _ids(involved["customer_id"], limit),
                ("devices" if column == "device_hash" else "ips"): _ids(keys[column], limit),
            },
        })
    return _flags(out)


def device_farm(frames: RawFrames, config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Many of the promoter's buyers on a few phones: fresh accounts registered in a farm."""
    return _farm(frames, "device_hash", "device_farm", config.farm_min_customers_per_device,
                 config.farm_min_customers, config.evidence_limit)


def ip_farm(frames: RawFrames, config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Many of the promoter's buyers behind a few IPs (households share one: a higher bar)."""
    return _farm(frames, "ip_hash", "ip_farm", config.ip_farm_min_customers_per_ip,
                 config.ip_farm_min_customers, config.evidence_limit)


def velocity(frames: RawFrames, as_of: pd.Timestamp,
             config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """A clock hour in the last `velocity_scan_h` with far more orders than the promoter's history.

    The bar is the promoter's own 90th-percentile day over the `velocity_history_d` days before
    that hour (zero days included), times `velocity_ratio`, and never under
    `velocity_min_orders_1h`: a top seller's busy promotion day is not a burst, a dormant
    promoter's 30 orders at 3 a.m. are.
    """
    orders = _primary_orders(frames)
    orders = orders.loc[orders["paid_at"] <= as_of]
    scan_from = as_of - pd.Timedelta(hours=config.velocity_scan_h)
    recent = orders.loc[orders["paid_at"] > scan_from].assign(
        hour=lambda f: f["paid_at"].dt.floor("h"))
    counts = recent.groupby(["promoter_id", "hour"]).size().rename("orders").reset_index()
    candidates = counts.loc[counts["orders"] >= config.velocity_min_orders_1h]
    history = pd.Timedelta(days=config.velocity_history_d)
    best: dict[str, dict[str, Any]] = {}
    for row in candidates.itertuples(index=False):
        own = orders.loc[orders["promoter_id"] == row.promoter_id, "paid_at"]
        before = own.loc[(own < row.hour) & (own >= row.hour - history)]
        days = ((row.hour - before) // DAY).astype(int)
        daily = np.bincount(days.to_numpy(), minlength=config.velocity_history_d)
        baseline = float(np.quantile(daily, 0.9))
        bar = max(float(config.velocity_min_orders_1h), config.velocity_ratio * baseline)
        if row.orders < bar:
            continue
        ratio = row.orders / max(baseline, 1.0)
        if row.promoter_id in best and best[row.promoter_id]["ratio"] >= ratio:
            continue
        hour_orders = recent.loc[(recent["promoter_id"] == row.promoter_id)
                                 & (recent["hour"] == row.hour)]
        best[row.promoter_id] = {"ratio": ratio, "hour": row.hour, "count": int(row.orders),
                                 "baseline": baseline, "orders": hour_orders}
    out = []
    limit = config.evidence_limit
    for promoter_id in sorted(best):
        hit = best[promoter_id]
        group = hit["orders"]
        out.append({
            "promoter_id": promoter_id, "rule": "velocity",
            "severity": "high" if hit["count"] >= 2 * config.velocity_min_orders_1h else "medium",
            "evidence": {
                "hour_start": hit["hour"].isoformat(), "orders_in_hour": hit["count"],
                "baseline_p90_orders_per_day": round(hit["baseline"], 2),
                "history_days": config.velocity_history_d,
                "orders": _ids(group["order_id"], limit),
                "customers": _ids(group["customer_id"], limit),
                "customer_count": int(group["customer_id"].nunique()),
                "devices": _ids(group["device_hash"], limit), "ips": _ids(group["ip_hash"], limit),
            },
        })
    return _flags(out)


def refund_after_release(frames: RawFrames,
                         config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Orders refunded after their commission was released: the promoter keeps money already paid.

    Flagged when at least `refund_min_orders` such orders make up `refund_min_share` of the
    promoter's released orders.
    """
    orders = _primary_orders(frames)
    released = orders.loc[orders["released_at"].notna()]
    refunds = frames.refunds.groupby("order_id").agg(
        refunded_minor=("refund_minor", "sum"), last_refund_at=("ts", "max")).reset_index()
    late = released.merge(refunds, on="order_id", how="inner")
    late = late.loc[late["last_refund_at"] > late["released_at"]]
    released_count = released.groupby("promoter_id").size()
    out, limit = [], config.evidence_limit
    for promoter_id, group in late.groupby("promoter_id", sort=True):
        count = int(group["order_id"].nunique())
        share = count / int(released_count[promoter_id])
        if count < config.refund_min_orders or share < config.refund_min_share:
            continue
        full = int((group["refunded_minor"] >= group["gross_minor"]).sum())
        out.append({
            "promoter_id": promoter_id, "rule": "refund_after_release",
            "severity": "high" if full == count else "medium",
            "evidence": {
                "order_count": count, "released_orders": int(released_count[promoter_id]),
                "share": round(share, 3), "fully_refunded_orders": full,
                "refunded_minor": int(group["refunded_minor"].sum()),
                "orders": _ids(group["order_id"], limit),
                "customers": _ids(group["customer_id"], limit),
                "devices": _ids(group["device_hash"], limit), "ips": _ids(group["ip_hash"], limit),
            },
        })
    return _flags(out)


def _buys_through_graph(frames: RawFrames) -> tuple[nx.DiGraph, pd.DataFrame]:
    """Edge A -> B when an order crediting B was paid from A's join device or IP (A != B)."""
    promoters = frames.promoters
    rows = _attributed_orders(frames)
    edges = []
    for key in ("device_hash", "ip_hash"):
        owners = promoters.loc[promoters[key].notna(), ["promoter_id", key]].rename(
            columns={"promoter_id": "buyer_promoter"})
        edges.append(rows.merge(owners, on=key, how="inner"))
    linked = pd.concat(edges, ignore_index=True)
    linked = linked.loc[linked["buyer_promoter"] != linked["promoter_id"]]
    graph = nx.DiGraph()
    graph.add_edges_from(zip(linked["buyer_promoter"], linked["promoter_id"], strict=True))
    return graph, linked


def referral_ring(frames: RawFrames, config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Promoters who buy through each other's links in a closed group, or invite in a cycle.

    A group is a strongly connected component of at least `ring_min_members` in the
    buys-through graph (everyone both buys from and sells to the group), or any cycle of the
    inviter graph (impossible in well-formed books, where inviters join first).
    """
    graph, linked = _buys_through_graph(frames)
    groups = [sorted(c) for c in nx.strongly_connected_components(graph)
              if len(c) >= config.ring_min_members]
    parents = frames.promoters.dropna(subset=["parent_id"])
    invites = nx.DiGraph(list(zip(parents["promoter_id"], parents["parent_id"], strict=True)))
    cycles = [sorted(c) for c in nx.strongly_connected_components(invites) if len(c) > 1]
    out, limit = [], config.evidence_limit
    for members, kind in [(g, "buys_through") for g in groups] + [(c, "invite_cycle")
                                                                  for c in cycles]:
        inside = linked.loc[linked["buyer_promoter"].isin(members)
                            & linked["promoter_id"].isin(members)]
        sub = graph.subgraph(members) if kind == "buys_through" else invites.subgraph(members)
        reciprocity = float(nx.overall_reciprocity(sub)) if sub.number_of_edges() else 0.0
        for promoter_id in members:
            out.append({
                "promoter_id": promoter_id, "rule": "referral_ring", "severity": "high",
                "evidence": {
                    "kind": kind, "member_count": len(members),
                    "members": [str(m) for m in members[:limit]],
                    "edge_count": int(sub.number_of_edges()),
                    "reciprocity": round(reciprocity, 3),
                    "order_count": int(inside["order_id"].nunique()),
                    "orders": _ids(inside["order_id"], limit),
                    "devices": _ids(inside["device_hash"], limit),
                    "ips": _ids(inside["ip_hash"], limit),
                },
            })
    flags = _flags(out)
    return flags.drop_duplicates("promoter_id").reset_index(drop=True)


def click_spam(frames: RawFrames, as_of: pd.Timestamp,
               config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Touches crediting the promoter far above its orders over the last `click_window_d` days."""
    since = as_of - pd.Timedelta(days=config.click_window_d)
    touches = frames.touches.loc[(frames.touches["ts"] > since) & (frames.touches["ts"] <= as_of)]
    orders = _primary_orders(frames)
    orders = orders.loc[(orders["paid_at"] > since) & (orders["paid_at"] <= as_of)]
    order_counts = orders.groupby("promoter_id").size()
    out, limit = [], config.evidence_limit
    for promoter_id, group in touches.groupby("promoter_id", sort=True):
        count = len(group)
        sold = int(order_counts.get(promoter_id, 0))
        per_order = count / max(sold, 1)
        if count < config.click_min_touches or per_order < config.click_min_touches_per_order:
            continue
        devices = group["device_hash"].value_counts()
        ips = group["ip_hash"].value_counts()
        out.append({
            "promoter_id": promoter_id, "rule": "click_spam",
            "severity": "high" if per_order >= 2 * config.click_min_touches_per_order else "medium",
            "evidence": {
                "touch_count": count, "order_count": sold,
                "touches_per_order": round(per_order, 1), "window_days": config.click_window_d,
                "distinct_devices": int(len(devices)), "distinct_ips": int(len(ips)),
                "distinct_accounts": int(group["customer_id"].nunique()),
                "devices": [str(d) for d in devices.index[:limit]],
                "ips": [str(i) for i in ips.index[:limit]],
                "accounts": _ids(group["customer_id"], limit),
            },
        })
    return _flags(out)


def commission_cap(frames: RawFrames, config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Commission credits above the per-order cap, or a UTC day's credits above the per-day cap.

    Counts credits only (reversals do not earn room under the cap). A posting is one order's
    commission at one level; the level-1 orders paid at that instant are named as evidence.
    """
    credits = frames.commissions.loc[frames.commissions["amount_minor"] > 0].assign(
        day=lambda f: f["ts"].dt.floor("D"))
    big = credits.loc[credits["amount_minor"] > config.cap_per_order_minor]
    daily = credits.groupby(["promoter_id", "day"])["amount_minor"].agg(["sum", "size"])
    over = daily.loc[daily["sum"] > config.cap_per_day_minor].reset_index()
    orders = _attributed_orders(frames).loc[:, ["promoter_id", "order_id", "paid_at"]]
    out, limit = [], config.evidence_limit
    for promoter_id in sorted(set(big["promoter_id"]) | set(over["promoter_id"])):
        mine_big = big.loc[big["promoter_id"] == promoter_id]
        mine_days = over.loc[over["promoter_id"] == promoter_id]
        mine_orders = orders.loc[orders["promoter_id"] == promoter_id]
        named = mine_orders.loc[mine_orders["paid_at"].isin(mine_big["ts"])
                                | mine_orders["paid_at"].dt.floor("D").isin(mine_days["day"])]
        both = not mine_big.empty and not mine_days.empty
        out.append({
            "promoter_id": promoter_id, "rule": "commission_cap",
            "severity": "high" if both else "medium",
            "evidence": {
                "cap_per_order_minor": config.cap_per_order_minor,
                "cap_per_day_minor": config.cap_per_day_minor,
                "postings_over_cap": int(len(mine_big)),
                "largest_posting_minor": int(mine_big["amount_minor"].max())
                if not mine_big.empty else None,
                "days_over_cap": [d.date().isoformat() for d in mine_days["day"][:limit]],
                "day_count_over_cap": int(len(mine_days)),
                "largest_day_minor": int(mine_days["sum"].max()) if not mine_days.empty else None,
                "orders": _ids(named["order_id"], limit),
            },
        })
    return _flags(out)


RULES: dict[str, Callable[[RawFrames, pd.Timestamp, RiskRuleConfig], pd.DataFrame]] = {
    "self_referral": lambda f, _t, c: self_referral(f, c),
    "device_farm": lambda f, _t, c: device_farm(f, c),
    "ip_farm": lambda f, _t, c: ip_farm(f, c),
    "velocity": velocity,
    "refund_after_release": lambda f, _t, c: refund_after_release(f, c),
    "referral_ring": lambda f, _t, c: referral_ring(f, c),
    "click_spam": click_spam,
    "commission_cap": lambda f, _t, c: commission_cap(f, c),
}


def run_rules(frames: RawFrames, as_of: pd.Timestamp,
              config: RiskRuleConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Every rule's flags, one frame (`FLAG_COLUMNS`), ordered by rule then promoter.

    `frames` must already be restricted to `as_of` (`features.profiles.domain.restrict_to`).
    """
    results = [RULES[name](frames, as_of, config) for name in RULES]
    flags = [r for r in results if not r.empty]
    if not flags:
        return _flags([])
    return pd.concat(flags, ignore_index=True)
