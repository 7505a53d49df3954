"""Honest shopping: orders sold through promoters' links, with the touches that led to them.

Orders go to promoters in proportion to talent x active days (so a few promoters sell most),
customers are dealt out in runs over each promoter's shuffled orders (so a repeat customer mostly
sticks with one promoter, and most customers buy once), and every order gets its seller's touch
plus, often, earlier touches from other promoters. Non-converting clicks give each channel its
conversion rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.basket import (
    confirm_instants,
    draw_lines,
    draw_merchants,
    draw_refunds,
)
from features.simulator.batches import OrderBatch, TouchBatch, concat_touches
from features.simulator.catalog import (
    CATEGORY_WEIGHTS,
    CHANNEL_CONVERSION,
    CHANNEL_SHARES,
    LOOKBACK_DAYS,
)
from features.simulator.config import SimulationConfig
from features.simulator.population import IdSpace, Population, children_index
from features.simulator.timeline import DAY_S, HOUR_S, Timeline

FAVOURITE_SHARE = 0.6  # orders in the promoter's favourite category
MAX_ORDERS_PER_CUSTOMER = 60
HOME_IP_SHARE = 0.85  # orders placed from the customer's home network
PROMOTER_SHOPPER_SHARE = 0.03  # orders a downline promoter places through its inviter's link
REGISTER_SHARE = 0.6  # first orders whose touch is a registration (lifetime binding)
MAIN_CHANNEL_SHARE = 0.75
EXTRA_TOUCH_SHARE = 0.55  # orders with touches beyond the seller's own
TOUCH_WINDOW_S = (LOOKBACK_DAYS - 1) * DAY_S


@dataclass(slots=True)
class Shoppers:
    """The honest customers of one run and where they shop from (indexed by code - first)."""

    first: int
    device: np.ndarray
    home_ip: np.ndarray
    mobile_ips: np.ndarray


def _selling_windows(pop: Population, horizon_s: int) -> tuple[np.ndarray, np.ndarray]:
    lo = pop.join_s + HOUR_S
    hi = np.minimum(pop.quiet_s, horizon_s)
    return lo, np.maximum(hi, lo)


def _order_sellers(rng: np.random.Generator, cfg: SimulationConfig, pop: Population) -> np.ndarray:
    """The selling promoter of each order (repeated per order, grouped by promoter)."""
    lo, hi = _selling_windows(pop, cfg.horizon_s)
    exposure = pop.talent * np.where(hi - lo > HOUR_S, hi - lo, 0)
    target = len(pop) * cfg.orders_per_promoter_year * cfg.days / 365
    counts = rng.poisson(target * exposure / max(exposure.sum(), 1e-9))
    return np.repeat(np.arange(len(pop), dtype=np.int64), counts)


def _deal_customers(
    rng: np.random.Generator, seller: np.ndarray, customers: IdSpace,
) -> np.ndarray:
    """Customer code per order: runs of a Zipf-sized purchase count over shuffled seller orders."""
    n = len(seller)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sizes, total = [], 0
    while total < n:
        chunk = np.minimum(rng.zipf(2.2, max(1024, n // 2)), MAX_ORDERS_PER_CUSTOMER)
        sizes.append(chunk)
        total += int(chunk.sum())
    ends = np.cumsum(np.concatenate(sizes))
    slot = np.searchsorted(ends, np.arange(n), side="right")
    ids = customers.take(int(slot[-1]) + 1)
    code = np.empty(n, dtype=np.int64)
    code[np.lexsort((rng.random(n), seller))] = ids[slot]
    return code


def _promoters_as_shoppers(
    rng: np.random.Generator, pop: Population, seller: np.ndarray, paid_s: np.ndarray,
    code: np.ndarray,
) -> None:
    """Some orders are a downline promoter buying through its inviter's link (as in issue 2)."""
    kids, offsets = children_index(pop.parent)
    n_kids = offsets[seller + 1] - offsets[seller]
    chosen = (rng.random(len(seller)) < PROMOTER_SHOPPER_SHARE) & (n_kids > 0)
    pick = offsets[seller] + (rng.random(len(seller)) * n_kids).astype(np.int64)
    child = kids[np.minimum(pick, len(kids) - 1)] if len(kids) else np.zeros_like(seller)
    chosen &= pop.join_s[child] < paid_s
    code[chosen] = -1 - child[chosen]


def _where_from(
    rng: np.random.Generator, pop: Population, shoppers: Shoppers, code: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Device and IP of each purchase: the shopper's phone, usually on its home network."""
    local = np.maximum(code - shoppers.first, 0)
    device = shoppers.device[local]
    ip = np.where(rng.random(len(code)) < HOME_IP_SHARE, shoppers.home_ip[local],
                  rng.choice(shoppers.mobile_ips, len(code)))
    as_promoter = code < 0
    device[as_promoter] = pop.device[-1 - code[as_promoter]]
    ip[as_promoter] = pop.ip[-1 - code[as_promoter]]
    return device, ip


def _first_purchases(code: np.ndarray, paid_s: np.ndarray) -> np.ndarray:
    order = np.lexsort((paid_s, code))
    first = np.ones(len(code), dtype=bool)
    first[order[1:]] = code[order[1:]] != code[order[:-1]]
    return first


def _channels(rng: np.random.Generator, main: np.ndarray) -> np.ndarray:
    other = rng.choice(len(CHANNEL_SHARES), len(main), p=CHANNEL_SHARES)
    return np.where(rng.random(len(main)) < MAIN_CHANNEL_SHARE, main, other).astype(np.int64)


def _order_touches(
    rng: np.random.Generator, pop: Population, orders: OrderBatch,
) -> TouchBatch:
    """The seller's touch before each order, and earlier touches by other promoters."""
    paid, seller, code = orders.paid_s, orders.promoter, orders.customer
    lead = 60 + rng.exponential(1.5 * DAY_S, len(paid)).astype(np.int64)
    # A touch that would precede the seller's join lands somewhere between join and payment.
    since_join = paid - pop.join_s[seller]
    lead = np.where(lead < since_join, lead, (since_join * rng.uniform(0.05, 0.95, len(paid))))
    floor_s = np.maximum(pop.join_s[seller] + 1, paid - TOUCH_WINDOW_S)
    register = _first_purchases(code, paid) & (code >= 0) & (rng.random(len(paid)) < REGISTER_SHARE)
    home = TouchBatch(np.maximum(paid - lead.astype(np.int64), floor_s), code, seller,
                      _channels(rng, pop.channel[seller]), register, orders.device, orders.ip)
    more = rng.random(len(paid)) < EXTRA_TOUCH_SHARE
    extra_n = np.where(more, 1 + rng.poisson(0.8, len(paid)), 0)
    at = np.repeat(np.arange(len(paid)), extra_n)
    reach = pop.talent + 0.02 * (pop.talent > 0) + 1e-6
    other = rng.choice(len(pop), len(at), p=reach / reach.sum())
    promoter = np.where(rng.random(len(at)) < 0.3, seller[at], other)
    lead = 120 + np.minimum(rng.exponential(4 * DAY_S, len(at)), TOUCH_WINDOW_S).astype(np.int64)
    ts = np.maximum(paid[at] - lead, 0)
    keep = (ts > pop.join_s[promoter]) & (promoter != -1 - code[at])
    at, promoter, ts = at[keep], promoter[keep], ts[keep]
    extra = TouchBatch(ts, code[at], promoter, _channels(rng, pop.channel[promoter]),
                       np.zeros(len(at), dtype=bool), orders.device[at], orders.ip[at])
    return concat_touches([home, extra])


def _browse_touches(
    rng: np.random.Generator, cfg: SimulationConfig, pop: Population, timeline: Timeline,
    seller: np.ndarray, shoppers: Shoppers, customers: IdSpace, devices: IdSpace,
) -> TouchBatch:
    """Clicks that never turn into an order: more of them on low-converting channels."""
    sold = np.bincount(seller, minlength=len(pop))
    conversion = CHANNEL_CONVERSION[pop.channel]
    lam = cfg.browse_scale * (sold + 0.5 * (pop.talent > 0)) * (1 - conversion) / conversion
    promoter = np.repeat(np.arange(len(pop), dtype=np.int64), rng.poisson(lam))
    lo, hi = _selling_windows(pop, cfg.horizon_s)
    promoter = promoter[hi[promoter] - lo[promoter] > HOUR_S]
    ts = timeline.sample(rng, lo[promoter], hi[promoter])
    n, n_known = len(promoter), len(shoppers.device)
    known = (rng.random(n) < 0.5) & (n_known > 0)
    local = rng.integers(0, max(n_known, 1), n)
    code = np.where(known, shoppers.first + local, -1)
    device = np.empty(n, dtype=np.int64)
    device[known] = shoppers.device[local[known]]
    code[~known] = customers.take(int((~known).sum()))
    device[~known] = devices.take(int((~known).sum()))
    ip = rng.choice(shoppers.mobile_ips, n)
    return TouchBatch(ts, code, promoter, _channels(rng, pop.channel[promoter]),
                      np.zeros(n, dtype=bool), device, ip)


def honest_activity(
    rng: np.random.Generator, cfg: SimulationConfig, pop: Population, timeline: Timeline,
    spaces: dict[str, IdSpace], merchants_per_category: int,
) -> tuple[OrderBatch, TouchBatch]:
    """All honest orders of the period and every touch around them."""
    seller = _order_sellers(rng, cfg, pop)
    lo, hi = _selling_windows(pop, cfg.horizon_s)
    paid = timeline.sample(rng, lo[seller], hi[seller])
    first_customer = spaces["customer"].next
    code = _deal_customers(rng, seller, spaces["customer"])
    n_shoppers = spaces["customer"].next - first_customer
    shoppers = Shoppers(
        first=first_customer, device=spaces["device"].take(n_shoppers),
        home_ip=spaces["ip"].take(max(1, n_shoppers // 3))[
            rng.integers(0, max(1, n_shoppers // 3), n_shoppers)],
        mobile_ips=spaces["ip"].take(max(1, n_shoppers // 4)),
    )
    _promoters_as_shoppers(rng, pop, seller, paid, code)
    device, ip = _where_from(rng, pop, shoppers, code)
    main = np.where(rng.random(len(seller)) < FAVOURITE_SHARE, pop.favourite[seller],
                    rng.choice(len(CATEGORY_WEIGHTS), len(seller), p=CATEGORY_WEIGHTS))
    n_lines, line_category, line_sku, line_amount, line_quantity = draw_lines(rng, main)
    confirm = confirm_instants(rng, paid)
    refund, line_refund = draw_refunds(rng, main, n_lines, line_amount, confirm,
                                       cfg.refund_base_rate)
    orders = OrderBatch(
        paid_s=paid, promoter=seller, customer=code,
        merchant=draw_merchants(rng, main, merchants_per_category), device=device, ip=ip,
        confirm_s=confirm, refund_s=refund, fraud=np.zeros(len(seller), dtype=np.int64),
        n_lines=n_lines, line_category=line_category, line_sku=line_sku,
        line_amount=line_amount, line_refund=line_refund, line_quantity=line_quantity,
    )
    touches = concat_touches([
        _order_touches(rng, pop, orders),
        _browse_touches(rng, cfg, pop, timeline, seller, shoppers, spaces["customer"],
                        spaces["device"]),
    ])
    return orders, touches
