"""Injected fraud, each type at its configured share of promoters, every piece labelled.

Fraud rides on ordinary-looking events (nothing here is rejected by the settlement engine): a
self-referrer buys from a *second* customer account on its own phone, a farm registers many fresh
accounts on a handful of devices, refund abusers refund after the commission hold released,
velocity bursts pile orders into the small hours, rings chain-invite each other and buy through each
other's links, click spammers produce clicks without orders. The fraud column of each order and
the label lists are the ground truth the detectors are scored against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.simulator.basket import confirm_instants, draw_merchants, unit_prices_fen
from features.simulator.batches import NONE, OrderBatch, OrderBuilder, TouchBatch, TouchBuilder
from features.simulator.catalog import (
    BEAUTY,
    CATEGORY_WEIGHTS,
    ELECTRONICS,
    FOOD,
    H5_LINK,
    LOCAL_OFFSET_S,
    SKU_CATALOG,
    SKU_STRIDE,
)
from features.simulator.config import FRAUD_TYPES, SimulationConfig
from features.simulator.population import IdSpace, Population
from features.simulator.timeline import DAY_S, HOUR_S, Timeline

FRAUD_CODE = {name: code for code, name in enumerate(FRAUD_TYPES, start=1)}
MIN_RUNWAY_DAYS = 8  # a fraudster needs this much of the period left after joining
SELF_REFERRAL_LAPSE = 0.15  # a stealthy self-referrer's orders placed on its home network
STEALTHY_REFUND_SHARE = 0.35  # a stealthy refund abuser's orders that are refunded
STEALTHY_RING_SLIP = 0.2  # a stealthy ring's orders paid from a member's own join device and IP


@dataclass(slots=True)
class FraudContext:
    rng: np.random.Generator
    cfg: SimulationConfig
    pop: Population
    timeline: Timeline
    spaces: dict[str, IdSpace]
    merchants_per_category: int
    orders: OrderBuilder = field(default_factory=OrderBuilder)
    touches: TouchBuilder = field(default_factory=TouchBuilder)
    customer_labels: list[tuple[int, int]] = field(default_factory=list)

    def uniform(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, max(hi, lo + 1)))

    def customer(self, fraud: str) -> int:
        code = self.spaces["customer"].one()
        self.customer_labels.append((code, FRAUD_CODE[fraud]))
        return code

    def sell(
        self, paid_s: int, seller: int, customer: int, device: int, ip: int, categories: list[int],
        fraud: str, *, channel: int, price_scale: float = 1.0, refund_after_s: int | None = None,
        register: bool = False, touch_lead_s: int = 600, confirm_after_s: int | None = None,
    ) -> None:
        """One fraudulent order with the touch that credits `seller`, both inside the period."""
        touch_s = max(paid_s - touch_lead_s, int(self.pop.join_s[seller]) + 1)
        if paid_s >= self.cfg.horizon_s or touch_s >= paid_s:
            return
        category = np.array(categories, dtype=np.int64)
        amounts = unit_prices_fen(self.rng, category, price_scale).tolist()
        base = int(self.rng.integers(0, SKU_CATALOG))
        confirm_s = (paid_s + confirm_after_s if confirm_after_s is not None
                     else int(confirm_instants(self.rng, np.array([paid_s]))[0]))
        refund_s = NONE if refund_after_s is None else confirm_s + refund_after_s
        lines = [
            (int(c), (base + j * SKU_STRIDE) % SKU_CATALOG, a, a if refund_after_s else 0)
            for j, (c, a) in enumerate(zip(category.tolist(), amounts, strict=True))
        ]
        merchant = int(draw_merchants(self.rng, category[:1], self.merchants_per_category)[0])
        self.orders.add(paid_s, seller, customer, merchant, device, ip, lines, confirm_s, refund_s,
                        FRAUD_CODE[fraud])
        self.touches.add(touch_s, customer, seller, channel, register, device, ip)

    def window(self, p: int, lead_s: int, tail_s: int) -> tuple[int, int]:
        """[join + lead, horizon - tail), never empty (it shrinks toward the join if needed)."""
        lo = int(self.pop.join_s[p]) + lead_s
        hi = max(self.cfg.horizon_s - tail_s, lo + HOUR_S)
        return lo, min(hi, self.cfg.horizon_s - 1)

    def stealthy(self) -> bool:
        """Whether this fraudster hides (`cfg.fraud_stealth`); draws nothing when that is 0."""
        return self.cfg.fraud_stealth > 0 and bool(self.rng.random() < self.cfg.fraud_stealth)

    def random_category(self) -> int:
        return int(self.rng.choice(len(CATEGORY_WEIGHTS), p=CATEGORY_WEIGHTS))


def _self_referral(ctx: FraudContext, p: int) -> None:
    """The promoter buys from a second account on its own phone and network.

    Stealthy: from a second phone on mobile data, slipping onto the home network (its own IP)
    for one order in SELF_REFERRAL_LAPSE.
    """
    alt = ctx.customer("self_referral")
    stealthy = ctx.stealthy()
    second_phone = ctx.spaces["device"].one() if stealthy else int(ctx.pop.device[p])
    lo, hi = ctx.window(p, HOUR_S, HOUR_S)
    n = 3 + int(ctx.rng.poisson(5))
    paid = np.sort(ctx.timeline.sample(ctx.rng, np.full(n, lo), np.full(n, hi)))
    for i, t in enumerate(paid.tolist()):
        categories = [int(ctx.pop.favourite[p])]
        if ctx.rng.random() < 0.3:
            categories.append(ctx.random_category())
        ip = int(ctx.pop.ip[p])
        if stealthy and ctx.rng.random() >= SELF_REFERRAL_LAPSE:
            ip = ctx.spaces["ip"].one()
        ctx.sell(t, p, alt, second_phone, ip, categories,
                 "self_referral", channel=int(ctx.pop.channel[p]), price_scale=1.5,
                 register=i == 0, touch_lead_s=ctx.uniform(30, 1800))


def _device_farm(ctx: FraudContext, p: int) -> None:
    """Dozens of fresh accounts on two to four phones, each taking a cheap new-user deal.

    Stealthy: fewer accounts on many phones (about two accounts each) behind several IPs,
    spread over up to three weeks.
    """
    stealthy = ctx.stealthy()
    if stealthy:
        accounts = 12 + int(ctx.rng.poisson(12))
        devices = ctx.spaces["device"].take(max(2, accounts // 2))
        ips = ctx.spaces["ip"].take(ctx.uniform(3, 9))
    else:
        devices = ctx.spaces["device"].take(ctx.uniform(2, 5))
        ips = ctx.spaces["ip"].take(ctx.uniform(1, 3))
    lo, hi = ctx.window(p, DAY_S, (22 if stealthy else 6) * DAY_S)
    start = ctx.uniform(lo, hi)
    span = ctx.uniform(7 * DAY_S, 21 * DAY_S) if stealthy else ctx.uniform(DAY_S, 5 * DAY_S)
    if not stealthy:  # drawn here, after the window, as before stealth existed
        accounts = 15 + int(ctx.rng.poisson(25))
    for _ in range(accounts):
        account = ctx.customer("device_farm")
        t = start + ctx.uniform(0, span)
        ctx.sell(t, p, account, int(ctx.rng.choice(devices)), int(ctx.rng.choice(ips)),
                 [FOOD if ctx.rng.random() < 0.6 else BEAUTY], "device_farm",
                 channel=int(ctx.pop.channel[p]), price_scale=0.3, register=True,
                 touch_lead_s=ctx.uniform(60, 1200))


def _refund_abuse(ctx: FraudContext, p: int) -> None:
    """Pricey orders from colluders, confirmed at once, refunded in full after the hold released.

    Stealthy: only about a third of the orders are refunded; the rest are kept as cover.
    """
    hold_s = ctx.cfg.hold_days * DAY_S
    stealthy = ctx.stealthy()
    lo, hi = ctx.window(p, HOUR_S, hold_s + 8 * DAY_S)
    colluders = [ctx.customer("refund_abuse") for _ in range(ctx.uniform(1, 4))]
    devices = ctx.spaces["device"].take(len(colluders))
    ip = ctx.spaces["ip"].one()
    for _ in range(2 + int(ctx.rng.poisson(3))):
        who = ctx.uniform(0, len(colluders))
        refunded = not stealthy or bool(ctx.rng.random() < STEALTHY_REFUND_SHARE)
        ctx.sell(ctx.uniform(lo, hi), p, colluders[who], int(devices[who]), ip,
                 [ELECTRONICS], "refund_abuse", channel=int(ctx.pop.channel[p]), price_scale=1.2,
                 confirm_after_s=ctx.uniform(2 * HOUR_S, 2 * DAY_S),
                 refund_after_s=hold_s + ctx.uniform(HOUR_S, 4 * DAY_S) if refunded else None,
                 touch_lead_s=ctx.uniform(60, 3600))


def _velocity_burst(ctx: FraudContext, p: int) -> None:
    """One or two floods of orders between 02:00 and 05:00 China time from throwaway accounts.

    Stealthy: a dozen or two orders trickled over four to eight evening hours (18:00-20:00 start),
    never ten in one clock hour.
    """
    stealthy = ctx.stealthy()
    for _ in range(1 + int(ctx.rng.random() < 0.4)):
        lo, hi = ctx.window(p, DAY_S, DAY_S)
        day = (ctx.uniform(lo, hi) + LOCAL_OFFSET_S) // DAY_S * DAY_S - LOCAL_OFFSET_S
        first = (18, 20) if stealthy else (2, 4)
        start = day + ctx.uniform(first[0] * HOUR_S, first[1] * HOUR_S)
        if start <= lo:
            start += DAY_S
        span = (ctx.uniform(4 * HOUR_S, 8 * HOUR_S) if stealthy
                else ctx.uniform(30 * 60, 120 * 60))
        ips = ctx.spaces["ip"].take(ctx.uniform(2, 5))
        count = 10 + int(ctx.rng.poisson(8)) if stealthy else 20 + int(ctx.rng.poisson(30))
        for _ in range(count):
            ctx.sell(start + ctx.uniform(0, span), p, ctx.customer("velocity_burst"),
                     ctx.spaces["device"].one(), int(ctx.rng.choice(ips)),
                     [ctx.random_category()], "velocity_burst", channel=int(ctx.pop.channel[p]),
                     touch_lead_s=ctx.uniform(10, 300))


def _referral_ring(ctx: FraudContext, ring: np.ndarray) -> None:
    """Members buy through each other's links so that every level of the chain earns.

    Stealthy ring: most orders come from fresh devices on fresh networks, a few (one in
    STEALTHY_RING_SLIP) from a member's own join device and IP.
    """
    last = int(ctx.pop.join_s[ring[-1]])
    lo, hi = last + HOUR_S, min(last + 30 * DAY_S, ctx.cfg.horizon_s - HOUR_S)
    if hi <= lo:
        return
    stealthy = ctx.stealthy()
    for member in ring.tolist():
        others = ring[ring != member]
        for _ in range(2 + int(ctx.rng.poisson(3))):
            seller = int(ctx.rng.choice(others))
            device, ip = int(ctx.pop.device[member]), int(ctx.pop.ip[member])
            if stealthy and ctx.rng.random() >= STEALTHY_RING_SLIP:
                device, ip = ctx.spaces["device"].one(), ctx.spaces["ip"].one()
            ctx.sell(ctx.uniform(lo, hi), seller, -1 - member, device, ip,
                     [ctx.random_category()], "referral_ring",
                     channel=int(ctx.pop.channel[seller]), touch_lead_s=ctx.uniform(60, 3600))


def _click_spam(ctx: FraudContext, p: int) -> TouchBatch:
    """Hundreds of bot clicks on the promoter's link from a few devices; hardly any orders.

    Stealthy: a slow bot, 60-200 clicks over two to four weeks from dozens of devices and IPs.
    """
    rng = ctx.rng
    stealthy = ctx.stealthy()
    lo, hi = ctx.window(p, HOUR_S, 3 * DAY_S)
    start = ctx.uniform(lo, hi)
    days = (14, 28) if stealthy else (1, 7)
    end = min(start + ctx.uniform(days[0] * DAY_S, days[1] * DAY_S), ctx.cfg.horizon_s)
    n = 60 + int(rng.poisson(60)) if stealthy else 150 + int(rng.poisson(350))
    bots = ctx.spaces["customer"].take(max(1, n // 2))
    devices = ctx.spaces["device"].take(ctx.uniform(20, 61) if stealthy else ctx.uniform(5, 21))
    ips = ctx.spaces["ip"].take(ctx.uniform(10, 31) if stealthy else ctx.uniform(2, 6))
    clicks = TouchBatch(
        ts_s=np.sort(rng.integers(start, max(end, start + 1), n)),
        customer=rng.choice(bots, n), promoter=np.full(n, p, dtype=np.int64),
        channel=np.full(n, H5_LINK, dtype=np.int64), register=np.zeros(n, dtype=bool),
        device=rng.choice(devices, n), ip=rng.choice(ips, n),
    )
    for _ in range(int(rng.poisson(0.5))):
        ctx.sell(ctx.uniform(start, end), p, int(rng.choice(bots)), int(rng.choice(devices)),
                 int(rng.choice(ips)), [ctx.random_category()], "click_spam", channel=H5_LINK,
                 price_scale=0.5)
    return clicks


def _pick_fraudsters(ctx: FraudContext) -> dict[str, np.ndarray]:
    """Disjoint sets of honest promoters with enough period left, one set per fraud type."""
    pop, cfg = ctx.pop, ctx.cfg
    runway = {"refund_abuse": cfg.hold_days + 10}
    shuffled = ctx.rng.permutation(len(pop))
    taken = pop.fraud != 0
    chosen: dict[str, np.ndarray] = {}
    for name in FRAUD_TYPES:
        if name == "referral_ring":
            continue
        need = round(getattr(cfg.fraud, name) * len(pop))
        latest = cfg.horizon_s - runway.get(name, MIN_RUNWAY_DAYS) * DAY_S
        fits = shuffled[~taken[shuffled] & (pop.join_s[shuffled] <= latest)][:need]
        taken[fits] = True
        pop.fraud[fits] = FRAUD_CODE[name]
        chosen[name] = np.sort(fits)
    return chosen


def inject_fraud(
    rng: np.random.Generator, cfg: SimulationConfig, pop: Population, timeline: Timeline,
    spaces: dict[str, IdSpace], merchants_per_category: int,
) -> tuple[OrderBatch, list[TouchBatch], list[tuple[int, int]]]:
    """Every fraud order and touch, plus (customer code, fraud code) labels; marks `pop.fraud`."""
    ctx = FraudContext(rng, cfg, pop, timeline, spaces, merchants_per_category)
    for ring in pop.rings:
        pop.fraud[ring] = FRAUD_CODE["referral_ring"]
    chosen = _pick_fraudsters(ctx)
    injectors = {"self_referral": _self_referral, "device_farm": _device_farm,
                 "refund_abuse": _refund_abuse, "velocity_burst": _velocity_burst}
    for name, injector in injectors.items():
        for p in chosen[name].tolist():
            injector(ctx, p)
    for ring in pop.rings:
        _referral_ring(ctx, ring)
    spam = [_click_spam(ctx, p) for p in chosen["click_spam"].tolist()]
    return ctx.orders.build(), [ctx.touches.build(), *spam], ctx.customer_labels
