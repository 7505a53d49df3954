"""Data for the LTV tests: a synthetic history built as frames, a hand-written order file turned
into settlement events, and samples drawn from BG/NBD and Gamma-Gamma with known parameters.

None of it comes from `features.simulator`: the point is that the LTV code only relies on what
any mall's books hold.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from settlement.db import create_db_engine, upgrade
from settlement.events import parse_event
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.service import apply_events, release_due, sort_events
from training.ltv.history import History, make_history

START = pd.Timestamp("2026-01-01T00:00:00Z")
CHANNELS = np.array(["wechat", "douyin", "poster"])

PLAN = """
effective_from: 2025-01-01T00:00:00Z
currency: CNY
platform_take_rate: "0.05"
levels: ["0.10", "0.05", "0.02"]
attribution: {model: last_click, lookback_days: 30}
customer_binding: lifetime
hold_days: 7
payout_minimum: "100.00"
review_limit: "10000.00"
"""

# A mall's export, typed by hand: order per row, optional promoter and refund (with its date).
HANDMADE_ORDERS = """\
order_id,customer_id,ts,amount,category,promoter_id,refunded_amount,refunded_ts
A1,alice,2025-01-05T10:00:00+08:00,120.00,food,PA,,
A2,alice,2025-02-11T21:30:00+08:00,80.50,home,PA,80.50,2025-02-20T09:00:00+08:00
A3,alice,2025-04-02T08:15:00+08:00,45.00,food,PA,,
B1,bob,2025-01-20T12:00:00+08:00,999.99,electronics,PB,,
B2,bob,2025-05-03T12:00:00+08:00,15.00,food,,,
C1,carol,2025-03-01T09:00:00+08:00,60.00,beauty,,,
C2,carol,2025-03-15T09:00:00+08:00,60.00,beauty,,20.00,2025-04-20T09:00:00+08:00
D1,dave,2025-03-30T18:00:00+08:00,300.00,home,PB,,
D2,dave,2025-04-28T18:00:00+08:00,310.00,home,PB,,
E1,erin,2025-04-10T11:00:00+08:00,25.00,food,PA,,
"""


def handmade_events() -> list[dict]:
    """Settlement events for `HANDMADE_ORDERS`: joins, a touch per promoted order, pay, refund."""
    rows = list(csv.DictReader(io.StringIO(HANDMADE_ORDERS)))
    events: list[dict] = [
        {"event_id": f"join-{p}", "type": "promoter_joined", "ts": "2025-01-01T00:00:00Z",
         "promoter_id": p} for p in ("PA", "PB")]
    for row in rows:
        paid = datetime.fromisoformat(row["ts"])
        if row["promoter_id"]:
            events.append({"event_id": f"touch-{row['order_id']}", "type": "touch",
                           "ts": (paid - timedelta(minutes=5)).isoformat(),
                           "customer_id": row["customer_id"], "promoter_id": row["promoter_id"],
                           "channel": "wechat"})
        events.append({"event_id": f"paid-{row['order_id']}", "type": "order_paid",
                       "ts": row["ts"], "order_id": row["order_id"],
                       "customer_id": row["customer_id"], "merchant_id": "M1", "currency": "CNY",
                       "lines": [{"sku": "s1", "category": row["category"],
                                  "amount": row["amount"]}]})
        if row["refunded_amount"]:
            events.append({"event_id": f"refund-{row['order_id']}", "type": "order_refunded",
                           "ts": row["refunded_ts"], "order_id": row["order_id"],
                           "lines": [{"sku": "s1", "amount": row["refunded_amount"]}]})
    return events


def settle_into(database_url: str, events: list[dict], plan_text: str = PLAN) -> None:
    """Apply events to a fresh database the way `fenrun settle` does."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    versions = parse_plan_text(plan_text)
    with engine.begin() as conn:
        store_versions(conn, versions)
    plans = PlanBook(versions)
    ordered = sort_events(parse_event(e) for e in events)
    apply_events(engine, plans, ordered, 500)
    release_due(engine, plans, ordered[-1].ts)
    engine.dispose()


def _promoters(rng: np.random.Generator, n: int, days: int) -> pd.DataFrame:
    join = rng.uniform(0, days * 0.5, n)
    return pd.DataFrame({"promoter_id": [f"P{i:04d}" for i in range(n)], "join": join,
                         "quit": join + rng.exponential(days * 0.5, n),
                         "channel": rng.choice(CHANNELS, n), "talent": rng.lognormal(0, 1, n)})


def _busy_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray,
               weight: np.ndarray) -> np.ndarray:
    """One instant (in days) per [lo, hi), denser on days of larger `weight` (one per day)."""
    cumulative = np.concatenate([[0.0], np.cumsum(weight)])

    def at(t: np.ndarray) -> np.ndarray:
        day = np.minimum(t.astype(np.int64), len(weight) - 1)
        return cumulative[day] + weight[day] * (t - day)

    u = at(lo) + rng.random(len(lo)) * (at(hi) - at(lo))
    day = np.clip(np.searchsorted(cumulative, u, side="right") - 1, 0, len(weight) - 1)
    return np.clip(day + (u - cumulative[day]) / weight[day], lo, hi)


def _customer_orders(rng: np.random.Generator, promoters: pd.DataFrame, n: int,
                     days: int, busy: np.ndarray | None = None) -> pd.DataFrame:
    """Each customer buys from one promoter, at a Gamma-distributed rate, while it is active;
    with `busy` (a weight per day) purchases crowd onto the heavier days."""
    who = rng.choice(len(promoters), n, p=promoters["talent"] / promoters["talent"].sum())
    lo = promoters["join"].to_numpy()[who]
    hi = np.minimum(promoters["quit"].to_numpy()[who], days)
    keep = hi - lo > 1
    who, lo, hi = who[keep], lo[keep], hi[keep]
    first = rng.uniform(lo, hi) if busy is None else _busy_days(rng, lo, hi, busy)
    rate = rng.gamma(0.8, 1 / 25, len(who))
    if busy is not None:  # the expected count follows the calendar weight of the active span
        span = np.concatenate([[0.0], np.cumsum(busy)])
        exposure = np.interp(hi, np.arange(len(span)), span) - np.interp(
            first, np.arange(len(span)), span)
    else:
        exposure = hi - first
    extra = rng.poisson(rate * exposure)
    customer = np.repeat(np.arange(len(who)), 1 + extra)
    later = (rng.uniform(first[customer], hi[customer]) if busy is None
             else _busy_days(rng, first[customer], hi[customer], busy))
    day = np.where(np.r_[True, customer[1:] != customer[:-1]], first[customer], later)
    spend = rng.lognormal(0, 0.5, len(who))[customer] * rng.lognormal(np.log(6000), 0.7,
                                                                    len(customer))
    return pd.DataFrame({"customer": customer, "promoter": who[customer], "day": day,
                         "gross_minor": np.maximum(spend.astype("int64"), 100)})


def synthetic_history(customers: int = 3000, promoters: int = 150, days: int = 360,
                      seed: int = 3, promotions: dict[int, float] | None = None) -> History:
    """Customers whose future depends on their promoter still being active (BG/NBD cannot see
    that; promoter activity features can), with 5 % full refunds and a 10 % commission.

    `promotions` (day number from START -> intensity multiplier) makes those UTC days busier.
    """
    rng = np.random.default_rng(seed)
    prom = _promoters(rng, promoters, days)
    busy = None
    if promotions:
        busy = np.ones(days)
        for day, factor in promotions.items():
            busy[day] = factor
    o = _customer_orders(rng, prom, customers, days, busy).sort_values(["day", "customer"])
    paid_at = START + pd.to_timedelta(o["day"].to_numpy(), unit="D").round("s")
    orders = pd.DataFrame({
        "order_id": [f"O{i:06d}" for i in range(len(o))],
        "customer_id": [f"C{c:05d}" for c in o["customer"]], "merchant_id": "M1",
        "paid_at": paid_at, "gross_minor": o["gross_minor"].to_numpy(),
        "main_category": rng.choice(["food", "home", "beauty"], len(o)), "n_categories": 1,
        "promoter_id": prom["promoter_id"].to_numpy()[o["promoter"].to_numpy()]})
    refunded = rng.random(len(o)) < 0.05
    refunds = pd.DataFrame({"order_id": orders["order_id"][refunded],
                            "refunded_at": orders["paid_at"][refunded] + pd.Timedelta(days=5),
                            "amount_minor": orders["gross_minor"][refunded]})
    touches = pd.DataFrame({"customer_id": orders["customer_id"],
                            "promoter_id": orders["promoter_id"],
                            "ts": orders["paid_at"] - pd.Timedelta(hours=1), "kind": "click",
                            "channel": prom["channel"].to_numpy()[o["promoter"].to_numpy()]})
    commissions = pd.concat([
        pd.DataFrame({"order_id": orders["order_id"], "occurred_at": orders["paid_at"],
                      "amount_minor": orders["gross_minor"] // 10}),
        pd.DataFrame({"order_id": refunds["order_id"], "occurred_at": refunds["refunded_at"],
                      "amount_minor": -(refunds["amount_minor"] // 10)})])
    return make_history("CNY", orders, refunds, touches, None, commissions)


def sample_bgnbd(n: int, r: float, alpha: float, a: float, b: float,
                 seed: int) -> dict[str, np.ndarray]:
    """(x, t_x, T) per customer drawn from the BG/NBD story (weeks): buy at rate λ ~ Gamma(r, α),
    after each purchase drop out with probability p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(26, 78, n)  # noqa: N806 - the paper's name
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return {"x": x, "t_x": t_x, "T": T}


def sample_gamma_gamma(n: int, p: float, q: float, gamma: float,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean value, purchase count): ν ~ Gamma(q, rate γ), each value ~ Gamma(p, rate ν)."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / gamma, n)
    counts = rng.integers(1, 8, n)
    means = np.array([rng.gamma(p, 1 / nu[i], counts[i]).mean() for i in range(n)])
    return means, counts.astype(float)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
